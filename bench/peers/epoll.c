/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* epoll.c - a hand-written epoll loop on the peer workloads
 * (bench/peers/peers.h): what a C programmer writes with no library, the
 * kernel's own objects for each kind of event (epoll(7), eventfd(2),
 * timerfd_create(2), signalfd(2)).
 *
 *  - messages: the shared mutex-protected queue (peers.h) plus an eventfd
 *    the producer writes when it made the queue non-empty; the loop reads
 *    the eventfd, then takes the whole queue;
 *  - eventfds: level-triggered EPOLLIN, epoll_wait with room for 1,024
 *    events, read() on each ready eventfd;
 *  - timers: one timerfd per timer (the kernel's timer object; a program
 *    that wants a heap writes an event loop, which is what the peers are),
 *    closed once it fired; moving one is a timerfd_settime. Past the
 *    descriptor limit, creation fails: the record is a skip with EMFILE;
 *  - signals: a signalfd for SIGUSR1, blocked in every thread. */
#define _GNU_SOURCE
#include "peers.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#define MAXEV 1024

static int ep;
static struct epoll_event evs[MAXEV];

static void peer_init(const char *workload) {
    (void)workload;
    peer_set_impl("epoll");
    ep = epoll_create1(EPOLL_CLOEXEC);
    BENCH_CHECK(ep >= 0);
}

static int wait_events(void) {
    int k;
    while ((k = epoll_wait(ep, evs, MAXEV, -1)) < 0 && errno == EINTR) {
    }
    BENCH_CHECK(k >= 0);
    return k;
}

static int add_fd(int fd, uint64_t data) {
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static struct msgq q;
static int msg_efd;

static void push_one(void *ctx, struct msg m) {
    (void)ctx;
    if (msgq_push(&q, m)) {
        uint64_t one = 1;
        BENCH_CHECK(write(msg_efd, &one, sizeof one) == sizeof one);
    }
}

static void run_msgs(int split, long n) {
    msgq_init(&q);
    msg_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    BENCH_CHECK(msg_efd >= 0 && add_fd(msg_efd, 0) == 0);
    struct producer p;
    if (producer_start(&p, split, n, push_one, NULL) != 0)
        return;
    struct msg_check c = {0};
    struct meter m;
    meter_start(&m);
    producer_go(&p);
    while (c.next < (uint64_t)n) {
        wait_events();
        uint64_t v;
        BENCH_CHECK(read(msg_efd, &v, sizeof v) == sizeof v);
        struct msg *batch;
        size_t len = msgq_take(&q, &batch);
        for (size_t i = 0; i < len; i++)
            msg_check(&c, batch[i].tag, batch[i].seq);
    }
    meter_stop(&m);
    producer_join(&p);
    peer_record(split ? "msgs_split" : "msgs_same", n, n, &m, "");
}

static void fd_round(const int *fds, long n) {
    uint64_t got = 0;
    signal_eventfds(fds, n);
    while (got < (uint64_t)n) {
        int k = wait_events();
        for (int i = 0; i < k; i++) {
            uint64_t v;
            BENCH_CHECK(read(fds[evs[i].data.u64], &v, sizeof v) == sizeof v);
            got += v;
        }
    }
    BENCH_CHECK(got == (uint64_t)n);
}

static void run_fds(long n, long rounds) {
    int *fds = new_eventfds(n);
    for (long i = 0; i < n; i++)
        BENCH_CHECK(add_fd(fds[i], (uint64_t)i) == 0);
    measure_fd_rounds(fds, n, rounds, fd_round);
}

/* A one-shot timerfd due `ns` from now, registered with `data`; -1 + errno. */
static int timer_new(uint64_t ns, uint64_t data) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return -1;
    struct itimerspec its = {.it_value = ts_of(ns)};
    BENCH_CHECK(timerfd_settime(fd, 0, &its, NULL) == 0);
    if (add_fd(fd, ((uint64_t)fd << 32) | data) != 0)
        return -1;
    return fd;
}

static void run_timers(long n) {
    struct meter m;
    meter_start(&m);
    for (long i = 0; i < n; i++) {
        if (timer_new(timer_ns(i), (uint64_t)i) < 0) {
            int e = errno;
            peer_skip("timer_create", n, e, "timerfd_create");
            peer_skip("timer_expire", n, e, "timerfd_create");
            return;
        }
    }
    meter_stop(&m);
    peer_record("timer_create", n, n, &m, "");
    sleep_until_timers_due(m.wall0 + m.wall);
    long fired = 0;
    meter_start(&m);
    while (fired < n) {
        int k = wait_events();
        for (int i = 0; i < k; i++) {
            int fd = (int)(evs[i].data.u64 >> 32);
            uint64_t v;
            BENCH_CHECK(read(fd, &v, sizeof v) == sizeof v);
            close(fd);
            fired++;
        }
    }
    meter_stop(&m);
    peer_record("timer_expire", n, n, &m, "");
}

static void run_move(long n, long moves) {
    int *fds = malloc((size_t)n * sizeof *fds);
    BENCH_CHECK(fds != NULL);
    for (long i = 0; i < n; i++) {
        fds[i] = timer_new(move_from_ns(i), (uint64_t)i);
        if (fds[i] < 0) {
            peer_skip("move", n, errno, "timerfd_create");
            return;
        }
    }
    struct meter m;
    meter_start(&m);
    for (long k = 0; k < moves; k++) {
        struct itimerspec its = {.it_value = ts_of(move_to_ns(k))};
        BENCH_CHECK(timerfd_settime(fds[moved_index(k, n, moves)], 0, &its, NULL) == 0);
    }
    meter_stop(&m);
    peer_record("move", n, moves, &m, "");
}

static void run_signal(long count) {
    sig_prepare(count, 0);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    int sfd = signalfd(-1, &usr1, SFD_NONBLOCK | SFD_CLOEXEC);
    BENCH_CHECK(sfd >= 0 && add_fd(sfd, 0) == 0);
    sig_go();
    int done = 0;
    while (!done) {
        wait_events();
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si)
            done = sig_received();
    }
    sig_finish();
}
