/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* libev.c - libev (Debian's libev-dev, 4.33) on the peer workloads
 * (bench/peers/peers.h), used as its manual, ev(3), recommends:
 *
 *  - the default loop, ev_default_loop(0): libev picks epoll on Linux, and
 *    ev_signal watchers belong in the default loop;
 *  - messages: ev_async is libev's documented way to wake a loop from
 *    another thread (ev_async_send is thread- and signal-safe), and, as the
 *    manual says, it carries no data and coalesces, so the data goes
 *    through the shared mutex-protected queue; the callback takes the
 *    whole queue;
 *  - eventfds: one ev_io watcher (EV_READ) per eventfd, the callback
 *    read()s it; the round ends with ev_break from the callback that
 *    handled the N-th;
 *  - timers: one ev_timer per timer in user memory (no allocation by
 *    libev: watchers are the caller's structs), ev_timer_init(after, 0)
 *    + ev_timer_start, after ev_now_update so relative deadlines start
 *    from now, not from the loop's cached time; libev keeps them in its
 *    4-heap (EV_USE_4HEAP, on in this build). ev_run returns when the last
 *    one has fired (no active watchers left);
 *  - moving a pending timer: the manual's "Be smart about timeouts",
 *    method 2, the idle-timeout idiom: set w->repeat to the new timeout and
 *    call ev_timer_again, which adjusts the watcher in place in the heap
 *    (ev_timer_stop + ev_timer_start would be a removal and an insertion);
 *  - signals: ev_signal on the default loop (a handler plus libev's
 *    internal eventfd; the manual's default, EVFLAG_SIGNALFD not set), the
 *    signal unblocked only in the loop's thread. */
#define _GNU_SOURCE
#include "peers.h"

#include <ev.h>

static struct ev_loop *loop;

static void peer_init(const char *workload) {
    (void)workload;
    peer_set_impl("libev");
    loop = ev_default_loop(0);
    BENCH_CHECK(loop != NULL);
}

/* ---- messages */
static struct msgq q;
static ev_async wake;
static struct msg_check check;
static long msgs_total;

static void push_one(void *ctx, struct msg m) {
    (void)ctx;
    if (msgq_push(&q, m))
        ev_async_send(loop, &wake);
}

static void on_wake(struct ev_loop *l, ev_async *w, int revents) {
    (void)w;
    (void)revents;
    struct msg *batch;
    size_t len = msgq_take(&q, &batch);
    for (size_t i = 0; i < len; i++)
        msg_check(&check, batch[i].tag, batch[i].seq);
    if (check.next >= (uint64_t)msgs_total)
        ev_break(l, EVBREAK_ALL);
}

static void run_msgs(int split, long n) {
    msgq_init(&q);
    msgs_total = n;
    ev_async_init(&wake, on_wake);
    ev_async_start(loop, &wake);
    struct producer p;
    if (producer_start(&p, split, n, push_one, NULL) != 0)
        return;
    struct meter m;
    meter_start(&m);
    producer_go(&p);
    ev_run(loop, 0);
    meter_stop(&m);
    producer_join(&p);
    BENCH_CHECK(check.next == (uint64_t)n);
    peer_record(split ? "msgs_split" : "msgs_same", n, n, &m, "");
}

/* ---- eventfds */
static long fd_n;
static uint64_t fd_got;

static void on_readable(struct ev_loop *l, ev_io *w, int revents) {
    (void)revents;
    uint64_t v;
    BENCH_CHECK(read(w->fd, &v, sizeof v) == sizeof v);
    fd_got += v;
    if (fd_got >= (uint64_t)fd_n)
        ev_break(l, EVBREAK_ONE);
}

static void fd_round(const int *fds, long n) {
    fd_got = 0;
    signal_eventfds(fds, n);
    ev_run(loop, 0);
    BENCH_CHECK(fd_got == (uint64_t)n);
}

static void run_fds(long n, long rounds) {
    int *fds = new_eventfds(n);
    ev_io *ws = malloc((size_t)n * sizeof *ws);
    BENCH_CHECK(ws != NULL);
    fd_n = n;
    for (long i = 0; i < n; i++) {
        ev_io_init(&ws[i], on_readable, fds[i], EV_READ);
        ev_io_start(loop, &ws[i]);
    }
    measure_fd_rounds(fds, n, rounds, fd_round);
}

/* ---- timers */
static long fired;

static void on_timer(struct ev_loop *l, ev_timer *w, int revents) {
    (void)l;
    (void)w;
    (void)revents;
    fired++;
}

static void run_timers(long n) {
    ev_timer *ts = malloc((size_t)n * sizeof *ts);
    BENCH_CHECK(ts != NULL);
    struct meter m;
    meter_start(&m);
    ev_now_update(loop);
    for (long i = 0; i < n; i++) {
        ev_timer_init(&ts[i], on_timer, (double)timer_ns(i) / 1e9, 0.);
        ev_timer_start(loop, &ts[i]);
    }
    meter_stop(&m);
    peer_record("timer_create", n, n, &m, "");
    sleep_until_timers_due(m.wall0 + m.wall);
    meter_start(&m);
    ev_run(loop, 0);
    meter_stop(&m);
    BENCH_CHECK(fired == n);
    peer_record("timer_expire", n, n, &m, "");
}

static void run_move(long n, long moves) {
    ev_timer *ts = malloc((size_t)n * sizeof *ts);
    BENCH_CHECK(ts != NULL);
    ev_now_update(loop);
    for (long i = 0; i < n; i++) {
        ev_timer_init(&ts[i], on_timer, (double)move_from_ns(i) / 1e9, 0.);
        ev_timer_start(loop, &ts[i]);
    }
    struct meter m;
    meter_start(&m);
    for (long k = 0; k < moves; k++) {
        ev_timer *w = &ts[moved_index(k, n, moves)];
        w->repeat = (double)move_to_ns(k) / 1e9;
        ev_timer_again(loop, w);
    }
    meter_stop(&m);
    peer_record("move", n, moves, &m, "");
}

/* ---- signals */
static void on_signal(struct ev_loop *l, ev_signal *w, int revents) {
    (void)w;
    (void)revents;
    if (sig_received())
        ev_break(l, EVBREAK_ALL);
}

static void run_signal(long count) {
    sig_prepare(count, 1);
    ev_signal w;
    ev_signal_init(&w, on_signal, SIGUSR1);
    ev_signal_start(loop, &w);
    sig_go();
    ev_run(loop, 0);
    sig_finish();
}
