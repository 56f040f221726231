/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* libevent.c - libevent (Debian's libevent-dev, 2.1.12; libevent_core and
 * libevent_pthreads) on the peer workloads (bench/peers/peers.h), used as
 * its reference (event2/event.h) and the libevent book recommend:
 *
 *  - one event_base from event_base_new() (epoll on Linux);
 *  - events embedded in the caller's memory with event_assign (the
 *    documented alternative to event_new that avoids an allocation per
 *    event; it needs <event2/event_struct.h>, whose layout ties the program
 *    to this libevent version, fine for a benchmark), for every workload;
 *  - messages: event_active is the documented way to make an event run
 *    from another thread, thread-safe once evthread_use_pthreads() was
 *    called before the base was made (libevent then wakes the base through
 *    its own eventfd). The data goes through the shared mutex-protected
 *    queue; the producer activates the event when it made the queue
 *    non-empty (event_active does not coalesce: each call takes the base's
 *    lock), the callback takes the whole queue. The loop runs with
 *    EVLOOP_NO_EXIT_ON_EMPTY, since the event is never added;
 *  - eventfds: one EV_READ|EV_PERSIST event per eventfd, event_add with no
 *    timeout, the callback read()s it; the round ends with
 *    event_base_loopbreak;
 *  - timers: one evtimer per timer, evtimer_assign + evtimer_add with a
 *    relative timeval (libevent keeps them in a min-heap; the deadlines are
 *    distinct, so the "common timeouts" queues for identical durations do
 *    not apply); event_base_dispatch returns once the last has fired;
 *  - moving a pending timer: evtimer_add on the pending event ("if the
 *    event is already pending, it is rescheduled with the new timeout");
 *  - signals: evsignal_assign + event_add (libevent's handler writes to
 *    its internal socketpair), the signal unblocked only in the loop's
 *    thread. */
#define _GNU_SOURCE
#include "peers.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/thread.h>

static struct event_base *base;

static void peer_init(const char *workload) {
    peer_set_impl("libevent");
    if (strcmp(workload, "msgs") == 0)
        BENCH_CHECK(evthread_use_pthreads() == 0);
    base = event_base_new();
    BENCH_CHECK(base != NULL);
}

static struct timeval tv_of(uint64_t ns) {
    struct timeval tv = {(time_t)(ns / 1000000000u), (suseconds_t)((ns % 1000000000u + 999) / 1000)};
    if (tv.tv_usec >= 1000000) {
        tv.tv_sec++;
        tv.tv_usec -= 1000000;
    }
    return tv;
}

/* ---- messages */
static struct msgq q;
static struct event wake;
static struct msg_check check;
static long msgs_total;

static void push_one(void *ctx, struct msg m) {
    (void)ctx;
    if (msgq_push(&q, m))
        event_active(&wake, EV_READ, 0);
}

static void on_wake(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
    struct msg *batch;
    size_t len = msgq_take(&q, &batch);
    for (size_t i = 0; i < len; i++)
        msg_check(&check, batch[i].tag, batch[i].seq);
    if (check.next >= (uint64_t)msgs_total)
        event_base_loopbreak(base);
}

static void run_msgs(int split, long n) {
    msgq_init(&q);
    msgs_total = n;
    BENCH_CHECK(event_assign(&wake, base, -1, 0, on_wake, NULL) == 0);
    struct producer p;
    if (producer_start(&p, split, n, push_one, NULL) != 0)
        return;
    struct meter m;
    meter_start(&m);
    producer_go(&p);
    BENCH_CHECK(event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) >= 0);
    meter_stop(&m);
    producer_join(&p);
    BENCH_CHECK(check.next == (uint64_t)n);
    peer_record(split ? "msgs_split" : "msgs_same", n, n, &m, "");
}

/* ---- eventfds */
static long fd_n;
static uint64_t fd_got;

static void on_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    (void)arg;
    uint64_t v;
    BENCH_CHECK(read(fd, &v, sizeof v) == sizeof v);
    fd_got += v;
    if (fd_got >= (uint64_t)fd_n)
        event_base_loopbreak(base);
}

static void fd_round(const int *fds, long n) {
    fd_got = 0;
    signal_eventfds(fds, n);
    BENCH_CHECK(event_base_loop(base, 0) >= 0);
    BENCH_CHECK(fd_got == (uint64_t)n);
}

static void run_fds(long n, long rounds) {
    int *fds = new_eventfds(n);
    struct event *es = malloc((size_t)n * sizeof *es);
    BENCH_CHECK(es != NULL);
    fd_n = n;
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(event_assign(&es[i], base, fds[i], EV_READ | EV_PERSIST, on_readable, NULL) == 0);
        BENCH_CHECK(event_add(&es[i], NULL) == 0);
    }
    measure_fd_rounds(fds, n, rounds, fd_round);
}

/* ---- timers */
static long fired;

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
    fired++;
}

static void run_timers(long n) {
    struct event *ts = malloc((size_t)n * sizeof *ts);
    BENCH_CHECK(ts != NULL);
    struct meter m;
    meter_start(&m);
    for (long i = 0; i < n; i++) {
        struct timeval tv = tv_of(timer_ns(i));
        BENCH_CHECK(evtimer_assign(&ts[i], base, on_timer, NULL) == 0);
        BENCH_CHECK(evtimer_add(&ts[i], &tv) == 0);
    }
    meter_stop(&m);
    peer_record("timer_create", n, n, &m, "");
    sleep_until_timers_due(m.wall0 + m.wall);
    meter_start(&m);
    BENCH_CHECK(event_base_dispatch(base) >= 0);
    meter_stop(&m);
    BENCH_CHECK(fired == n);
    peer_record("timer_expire", n, n, &m, "");
}

static void run_move(long n, long moves) {
    struct event *ts = malloc((size_t)n * sizeof *ts);
    BENCH_CHECK(ts != NULL);
    for (long i = 0; i < n; i++) {
        struct timeval tv = tv_of(move_from_ns(i));
        BENCH_CHECK(evtimer_assign(&ts[i], base, on_timer, NULL) == 0);
        BENCH_CHECK(evtimer_add(&ts[i], &tv) == 0);
    }
    struct meter m;
    meter_start(&m);
    for (long k = 0; k < moves; k++) {
        struct timeval tv = tv_of(move_to_ns(k));
        BENCH_CHECK(evtimer_add(&ts[moved_index(k, n, moves)], &tv) == 0);
    }
    meter_stop(&m);
    peer_record("move", n, moves, &m, "");
}

/* ---- signals */
static void on_signal(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
    if (sig_received())
        event_base_loopbreak(base);
}

static void run_signal(long count) {
    sig_prepare(count, 1);
    struct event s;
    BENCH_CHECK(evsignal_assign(&s, base, SIGUSR1, on_signal, NULL) == 0);
    BENCH_CHECK(event_add(&s, NULL) == 0);
    sig_go();
    BENCH_CHECK(event_base_dispatch(base) >= 0);
    sig_finish();
}
