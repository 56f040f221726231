/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd.c - evfd's event ring on the peer workloads (bench/peers/peers.h).
 * The backend is the library's choice or EVFD_RING_BACKEND=epoll|io_uring;
 * the records name it (impl=evfd-io_uring or evfd-epoll).
 *
 * How the ring is used, as include/evfd.h documents it:
 *  - one ring from evfd_ring_new(0, 0) (the default size), events taken in
 *    batches of up to 64 with evfd_ring_wait (which returns pending events
 *    without a system call), the array of the README's example loop
 *    (bench/EXPERIMENTS.md has this against batches of 1,024: the same
 *    everywhere but the first expiry in a fresh process, where the first
 *    touch of a 64 KiB array cost ~50 ns per timer);
 *  - messages: evfd_ring_post from the producer, one event per post, no
 *    queue of our own (posts are never coalesced);
 *  - eventfds: evfd_ring_add_fd(fd, POLLIN); the ring reads each eventfd
 *    and hands over the count in ev.value, so the loop does no read();
 *  - timers: evfd_ring_add_timer(CLOCK_MONOTONIC, EVFD_TIMER_REL), one-shot
 *    timers are gone after their event. REL measures each deadline from
 *    the clock at the call (a vDSO clock read per timer, as a timerfd
 *    does). With EVFD_PEERS_TIMERS=loop the program instead does what
 *    evfd_ring(3) recommends for many timers from one instant, which is
 *    what the peers' loop time is (libev's ev_now, libuv's uv_now): one
 *    clock_gettime, then EVFD_TIMER_ABS deadlines from it; those records
 *    are workloads timer_create_loop and move_loop (the same deadlines,
 *    the peers' semantics);
 *  - moving a pending timer: evfd_ring_rearm_timer (DESIGN §4) where the
 *    library has it, looked up at run time with dlsym so this compiles
 *    against headers without it; else evfd_ring_remove + evfd_ring_add_timer
 *    (records say which: rearm=...);
 *  - signals: evfd_ring_add_signal, SIGUSR1 blocked in every thread. */
#define _GNU_SOURCE
#include "peers.h"

#include <dlfcn.h>
#include <evfd.h>
#include <poll.h>
#include <string.h>

#define BATCH 64

static struct evfd_ring *ring;
static struct evfd_event evs[BATCH];
/* EVFD_PEERS_TIMERS=loop: deadlines from one clock read (see the top). */
static int loop_time;

/* A timer `ns` from now: REL, or ABS from the loop time `base`. */
static int timer_type(void) {
    return loop_time ? EVFD_TIMER_ABS : EVFD_TIMER_REL;
}
static struct timespec timer_when(uint64_t base, uint64_t ns) {
    return ts_of(loop_time ? base + ns : ns);
}

static void peer_init(const char *workload) {
    (void)workload;
    const char *timers = getenv("EVFD_PEERS_TIMERS");
    loop_time = timers != NULL && strcmp(timers, "loop") == 0;
    ring = evfd_ring_new(0, 0);
    if (ring == NULL)
        BENCH_DIE("evfd_ring_new");
    char name[64];
    snprintf(name, sizeof name, "evfd-%s", evfd_ring_backend(ring));
    peer_set_impl(name);
}

static int wait_events(void) {
    int k;
    while ((k = evfd_ring_wait(ring, evs, BATCH, NULL)) < 0 && errno == EINTR) {
    }
    if (k < 0)
        BENCH_DIE("evfd_ring_wait");
    return k;
}

static void post_one(void *ctx, struct msg m) {
    (void)ctx;
    if (evfd_ring_post(ring, m.tag, m.seq) != 0)
        BENCH_DIE("evfd_ring_post");
}

static void run_msgs(int split, long n) {
    struct producer p;
    if (producer_start(&p, split, n, post_one, NULL) != 0)
        return;
    struct msg_check c = {0};
    struct meter m;
    meter_start(&m);
    producer_go(&p);
    while (c.next < (uint64_t)n) {
        int k = wait_events();
        for (int i = 0; i < k; i++) {
            BENCH_CHECK(evs[i].kind == EVFD_KIND_USER);
            msg_check(&c, evs[i].udata, evs[i].value);
        }
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
            BENCH_CHECK(evs[i].kind == EVFD_KIND_FD && evs[i].error == 0);
            got += evs[i].value;
        }
    }
    BENCH_CHECK(got == (uint64_t)n);
}

static void run_fds(long n, long rounds) {
    int *fds = new_eventfds(n);
    for (long i = 0; i < n; i++) {
        if (evfd_ring_add_fd(ring, fds[i], POLLIN, (uint64_t)i) != 0) {
            peer_skip("fds", n, errno, "evfd_ring_add_fd");
            return;
        }
    }
    measure_fd_rounds(fds, n, rounds, fd_round);
}

static void run_timers(long n) {
    const char *create = loop_time ? "timer_create_loop" : "timer_create";
    struct meter m;
    meter_start(&m);
    uint64_t base = loop_time ? now_ns() : 0;
    for (long i = 0; i < n; i++) {
        struct timespec when = timer_when(base, timer_ns(i));
        if (evfd_ring_add_timer(ring, CLOCK_MONOTONIC, timer_type(), &when, (uint64_t)i + 1) != 0) {
            int e = errno;
            peer_skip(create, n, e, "evfd_ring_add_timer");
            if (!loop_time)
                peer_skip("timer_expire", n, e, "evfd_ring_add_timer");
            return;
        }
    }
    meter_stop(&m);
    peer_record(create, n, n, &m, "");
    if (loop_time)
        return; /* expiring is the same either way: measured once */
    sleep_until_timers_due(m.wall0 + m.wall);
    uint64_t fired = 0;
    meter_start(&m);
    while (fired < (uint64_t)n) {
        int k = wait_events();
        for (int i = 0; i < k; i++) {
            BENCH_CHECK(evs[i].kind == EVFD_KIND_TIMER && evs[i].error == 0);
            fired++;
        }
    }
    meter_stop(&m);
    peer_record("timer_expire", n, n, &m, "");
}

typedef int (*rearm_fn)(struct evfd_ring *, uint64_t, int, const struct timespec *);

static void run_move(long n, long moves) {
    const char *move = loop_time ? "move_loop" : "move";
    rearm_fn rearm = (rearm_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "evfd_ring_rearm_timer");
    uint64_t base = loop_time ? now_ns() : 0;
    for (long i = 0; i < n; i++) {
        struct timespec when = timer_when(base, move_from_ns(i));
        if (evfd_ring_add_timer(ring, CLOCK_MONOTONIC, timer_type(), &when, (uint64_t)i + 1) != 0) {
            peer_skip(move, n, errno, "evfd_ring_add_timer");
            return;
        }
    }
    struct meter m;
    meter_start(&m);
    base = loop_time ? now_ns() : 0;
    for (long k = 0; k < moves; k++) {
        uint64_t udata = (uint64_t)moved_index(k, n, moves) + 1;
        struct timespec when = timer_when(base, move_to_ns(k));
        if (rearm != NULL) {
            if (rearm(ring, udata, timer_type(), &when) != 0)
                BENCH_DIE("evfd_ring_rearm_timer");
        } else {
            if (evfd_ring_remove(ring, udata) != 0)
                BENCH_DIE("evfd_ring_remove");
            if (evfd_ring_add_timer(ring, CLOCK_MONOTONIC, timer_type(), &when, udata) != 0) {
                peer_skip(move, n, errno, "evfd_ring_add_timer(re-add)");
                return;
            }
        }
    }
    meter_stop(&m);
    peer_record(move, n, moves, &m,
                rearm != NULL ? " rearm=evfd_ring_rearm_timer" : " rearm=remove+add_timer");
}

static void run_signal(long count) {
    sig_prepare(count, 0);
    if (evfd_ring_add_signal(ring, SIGUSR1, 7) != 0)
        BENCH_DIE("evfd_ring_add_signal");
    sig_go();
    int done = 0;
    while (!done) {
        int k = wait_events();
        for (int i = 0; i < k; i++) {
            BENCH_CHECK(evs[i].kind == EVFD_KIND_SIGNAL && evs[i].signo == SIGUSR1);
            done = sig_received();
        }
    }
    sig_finish();
}
