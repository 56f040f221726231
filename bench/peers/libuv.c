/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* libuv.c - libuv (Debian's libuv1-dev, 1.44) on the peer workloads
 * (bench/peers/peers.h), used as its documentation (docs.libuv.org)
 * recommends:
 *
 *  - the default loop, uv_default_loop(), run with UV_RUN_DEFAULT;
 *  - messages: uv_async_t is libuv's only thread-safe wake-up
 *    (uv_async_send "is safe to call from any thread"), and the docs warn
 *    that it coalesces calls, so data goes through a queue of the user's
 *    (the maintainers' answer to "uv_async_send without coalescing"): the
 *    shared mutex-protected queue (uv_mutex_t is a pthread mutex on Unix),
 *    the callback takes the whole queue;
 *  - eventfds: uv_poll_t is libuv's handle for watching a descriptor it
 *    does not own ("integrating external libraries"); one per eventfd,
 *    UV_READABLE, the callback read()s it; the round ends with uv_stop;
 *  - timers: one uv_timer_t per timer in user memory, uv_timer_init +
 *    uv_timer_start(timeout in ms, repeat 0), after uv_update_time so they
 *    start from now; libuv keeps them in a binary heap. Timeouts are in
 *    milliseconds (rounded up here). uv_run returns once the last one has
 *    fired (no active handles left);
 *  - moving a pending timer: uv_timer_start on an active timer ("If the
 *    timer is already active, it is simply updated"). uv_timer_again, the
 *    idle-timeout idiom, re-arms with the repeat value and does the same
 *    stop + start inside;
 *  - signals: uv_signal_t with uv_signal_start (libuv's handler writes to
 *    its internal pipe), the signal unblocked only in the loop's thread. */
#define _GNU_SOURCE
#include "peers.h"

#include <uv.h>

static uv_loop_t *loop;

static void peer_init(const char *workload) {
    (void)workload;
    peer_set_impl("libuv");
    loop = uv_default_loop();
    BENCH_CHECK(loop != NULL);
}

static uint64_t ms_of(uint64_t ns) { return (ns + 999999u) / 1000000u; }

/* ---- messages */
static struct msgq q;
static uv_async_t wake;
static struct msg_check check;
static long msgs_total;

static void push_one(void *ctx, struct msg m) {
    (void)ctx;
    if (msgq_push(&q, m))
        BENCH_CHECK(uv_async_send(&wake) == 0);
}

static void on_wake(uv_async_t *h) {
    struct msg *batch;
    size_t len = msgq_take(&q, &batch);
    for (size_t i = 0; i < len; i++)
        msg_check(&check, batch[i].tag, batch[i].seq);
    if (check.next >= (uint64_t)msgs_total)
        uv_stop(h->loop);
}

static void run_msgs(int split, long n) {
    msgq_init(&q);
    msgs_total = n;
    BENCH_CHECK(uv_async_init(loop, &wake, on_wake) == 0);
    struct producer p;
    if (producer_start(&p, split, n, push_one, NULL) != 0)
        return;
    struct meter m;
    meter_start(&m);
    producer_go(&p);
    uv_run(loop, UV_RUN_DEFAULT);
    meter_stop(&m);
    producer_join(&p);
    BENCH_CHECK(check.next == (uint64_t)n);
    peer_record(split ? "msgs_split" : "msgs_same", n, n, &m, "");
}

/* ---- eventfds */
static long fd_n;
static uint64_t fd_got;

static void on_readable(uv_poll_t *h, int status, int events) {
    (void)events;
    BENCH_CHECK(status == 0);
    uint64_t v;
    BENCH_CHECK(read((int)(intptr_t)h->data, &v, sizeof v) == sizeof v);
    fd_got += v;
    if (fd_got >= (uint64_t)fd_n)
        uv_stop(h->loop);
}

static void fd_round(const int *fds, long n) {
    fd_got = 0;
    signal_eventfds(fds, n);
    uv_run(loop, UV_RUN_DEFAULT);
    BENCH_CHECK(fd_got == (uint64_t)n);
}

static void run_fds(long n, long rounds) {
    int *fds = new_eventfds(n);
    uv_poll_t *ps = malloc((size_t)n * sizeof *ps);
    BENCH_CHECK(ps != NULL);
    fd_n = n;
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(uv_poll_init(loop, &ps[i], fds[i]) == 0);
        ps[i].data = (void *)(intptr_t)fds[i];
        BENCH_CHECK(uv_poll_start(&ps[i], UV_READABLE, on_readable) == 0);
    }
    measure_fd_rounds(fds, n, rounds, fd_round);
}

/* ---- timers */
static long fired;

static void on_timer(uv_timer_t *t) {
    (void)t;
    fired++;
}

static void run_timers(long n) {
    uv_timer_t *ts = malloc((size_t)n * sizeof *ts);
    BENCH_CHECK(ts != NULL);
    struct meter m;
    meter_start(&m);
    uv_update_time(loop);
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(uv_timer_init(loop, &ts[i]) == 0);
        BENCH_CHECK(uv_timer_start(&ts[i], on_timer, ms_of(timer_ns(i)), 0) == 0);
    }
    meter_stop(&m);
    peer_record("timer_create", n, n, &m, "");
    sleep_until_timers_due(m.wall0 + m.wall);
    meter_start(&m);
    uv_run(loop, UV_RUN_DEFAULT);
    meter_stop(&m);
    BENCH_CHECK(fired == n);
    peer_record("timer_expire", n, n, &m, "");
}

static void run_move(long n, long moves) {
    uv_timer_t *ts = malloc((size_t)n * sizeof *ts);
    BENCH_CHECK(ts != NULL);
    uv_update_time(loop);
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(uv_timer_init(loop, &ts[i]) == 0);
        BENCH_CHECK(uv_timer_start(&ts[i], on_timer, ms_of(move_from_ns(i)), 0) == 0);
    }
    struct meter m;
    meter_start(&m);
    for (long k = 0; k < moves; k++) {
        uv_timer_t *t = &ts[moved_index(k, n, moves)];
        BENCH_CHECK(uv_timer_start(t, on_timer, ms_of(move_to_ns(k)), 0) == 0);
    }
    meter_stop(&m);
    peer_record("move", n, moves, &m, "");
}

/* ---- signals */
static void on_signal(uv_signal_t *s, int signum) {
    (void)signum;
    if (sig_received()) {
        uv_signal_stop(s);
        uv_stop(s->loop);
    }
}

static void run_signal(long count) {
    sig_prepare(count, 1);
    uv_signal_t s;
    BENCH_CHECK(uv_signal_init(loop, &s) == 0);
    BENCH_CHECK(uv_signal_start(&s, on_signal, SIGUSR1) == 0);
    sig_go();
    uv_run(loop, UV_RUN_DEFAULT);
    sig_finish();
}
