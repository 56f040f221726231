/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The ring at RLIMIT_NOFILE and with very many sources:
 * - with 0, 1 or 2 descriptors free, evfd_ring_new either works or fails
 *   with EMFILE leaking nothing (the descriptor count is unchanged);
 * - on a live ring with no descriptor free, add_fd, add_signal (its first
 *   one needs a signalfd), add_timer (the first ABS timer on
 *   CLOCK_REALTIME or the first on CLOCK_BOOTTIME needs that clock's one
 *   kernel timer; the monotonic clock's is made with the ring, so a
 *   monotonic timer never needs one) either work or fail with EMFILE
 *   leaking nothing, and the ring stays usable: posts arrive, the same
 *   calls succeed once descriptors are free; a re-arm that needs a
 *   clock's kernel timer fails with EMFILE and changes no timer, also
 *   when several timers share the udata;
 * - 10,000 one-shot timers expiring together on a ring of 16 entries, on
 *   both backends: every one is delivered exactly once, and no descriptor
 *   is created per timer. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAXFILL 4096
static int fill[MAXFILL];
static int nfill;

/* Opens descriptors until EMFILE. */
static void exhaust(void) {
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            return;
        }
        CHECK(nfill < MAXFILL);
        fill[nfill++] = fd;
    }
}

static void release(int n) {
    for (int i = 0; i < n && nfill > 0; i++)
        close(fill[--nfill]);
}

static void release_all(void) { release(nfill); }

/* count_fds() needs a descriptor of its own: with none free, lend it one of
 * the fillers and take it back. */
static int count_full(void) {
    CHECK(nfill > 0);
    release(1);
    int n = count_fds();
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    fill[nfill++] = fd;
    return n + 1;
}

/* CLOCK_REALTIME `ms` milliseconds from now, for an ABS timer. */
static struct timespec realtime_in_ms(long ms) {
    struct timespec t;
    CHECK_EQ(clock_gettime(CLOCK_REALTIME, &t), 0);
    t.tv_nsec += ms * 1000 * 1000;
    t.tv_sec += t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

/* A post goes through: the ring is usable. */
static void check_usable(struct evfd_ring *r, uint64_t value) {
    CHECK_EQ(evfd_ring_post(r, 77, value), 0);
    struct evfd_event ev;
    do
        ev = next_event(r);
    while (ev.kind != EVFD_KIND_USER);
    CHECK_EQ(ev.udata, 77);
    CHECK_EQ(ev.value, value);
}

int main(void) {
    int before = count_fds();
    struct rlimit old;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit low = old;
    low.rlim_cur = 128;
    if (low.rlim_cur > old.rlim_max)
        low.rlim_cur = old.rlim_max;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGURG);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);

    /* evfd_ring_new with 0, 1, 2 descriptors free. */
    for (int free_fds = 0; free_fds <= 2; free_fds++) {
        exhaust();
        release(free_fds);
        int at = free_fds ? count_fds() : count_full();
        errno = 0;
        struct evfd_ring *r = evfd_ring_new(8, 0);
        printf("%d free: evfd_ring_new %s\n", free_fds, r ? "works" : "EMFILE");
        if (r == NULL) {
            CHECK_EQ(errno, EMFILE);
            CHECK_EQ(free_fds ? count_fds() : count_full(), at);
        } else {
            CHECK(free_fds > 0);
            check_usable(r, 1);
            evfd_ring_free(r);
            CHECK_EQ(free_fds ? count_fds() : count_full(), at);
        }
        release_all();
    }

    /* A live ring, then no descriptor free. */
    struct evfd_ring *r = new_ring(8);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    struct timespec hour = {3600, 0};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_BOOTTIME, EVFD_TIMER_REL, &hour, 4), 0);
    exhaust();
    int at = count_full();
    int fd_ok = evfd_ring_add_fd(r, p[0], POLLIN, 1);
    CHECK(fd_ok == 0 || errno == EMFILE);
    CHECK_EQ(count_full(), at);
    int sig_ok = evfd_ring_add_signal(r, SIGURG, 2);
    CHECK(sig_ok == 0 || errno == EMFILE);
    CHECK_EQ(count_full(), at);
    /* The first ABS timer on CLOCK_REALTIME needs that clock's kernel timer. */
    struct timespec wall = realtime_in_ms(5);
    int timer_ok = evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_ABS, &wall, 3);
    CHECK(timer_ok == 0 || errno == EMFILE);
    CHECK_EQ(timer_ok, -1);
    CHECK_EQ(count_full(), at);
    /* A monotonic timer needs none: the ring made that clock's with it. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, 6), 0);
    CHECK_EQ(count_full(), at);
    CHECK_EQ(evfd_ring_remove(r, 6), 0);
    /* CLOCK_BOOTTIME has its kernel timer already: no descriptor needed. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_BOOTTIME, EVFD_TIMER_REL, &hour, 5), 0);
    CHECK_EQ(count_full(), at);
    CHECK_EQ(evfd_ring_remove(r, 5), 0);
    /* Re-arming a REL timer on CLOCK_REALTIME (it runs on the monotonic
     * clock) as ABS needs the realtime clock's kernel timer: EMFILE, and the
     * timer stays as it was: it fires at its REL deadline, not an hour from
     * now. */
    struct timespec soon = {0, 50 * 1000 * 1000};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_REL, &soon, 7), 0);
    struct timespec in_an_hour = realtime_in_ms(3600L * 1000);
    CHECK_ERR(evfd_ring_rearm_timer(r, 7, EVFD_TIMER_ABS, &in_an_hour), EMFILE);
    CHECK_EQ(count_full(), at);
    struct evfd_event fired = next_event(r);
    CHECK_EQ(fired.kind, EVFD_KIND_TIMER);
    CHECK_EQ(fired.udata, 7);
    /* The same with three timers under one udata, the realtime one in the
     * middle: whichever order the ring takes them in, a monotonic one
     * comes before it. EMFILE, and none of the three is re-armed: all
     * fire at their REL deadline. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &soon, 9), 0);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_REL, &soon, 9), 0);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &soon, 9), 0);
    in_an_hour = realtime_in_ms(3600L * 1000);
    CHECK_ERR(evfd_ring_rearm_timer(r, 9, EVFD_TIMER_ABS, &in_an_hour), EMFILE);
    CHECK_EQ(count_full(), at);
    for (int i = 0; i < 3; i++) {
        fired = next_event(r);
        CHECK_EQ(fired.kind, EVFD_KIND_TIMER);
        CHECK_EQ(fired.udata, 9);
    }
    /* Disarming needs no kernel timer, whatever type comes with the zero
     * `when`. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_REL, &hour, 8), 0);
    struct timespec zero = {0, 0};
    CHECK_EQ(evfd_ring_rearm_timer(r, 8, EVFD_TIMER_ABS, &zero), 0);
    CHECK_EQ(count_full(), at);
    CHECK_EQ(evfd_ring_remove(r, 8), 0);
    printf("none free: add_fd %s, add_signal %s, add_timer %s\n", fd_ok ? "EMFILE" : "works",
           sig_ok ? "EMFILE" : "works", timer_ok ? "EMFILE" : "works");
    check_usable(r, 2);
    /* A failed add registered nothing. */
    if (fd_ok)
        CHECK_ERR(evfd_ring_remove(r, 1), ENOENT);
    if (sig_ok)
        CHECK_ERR(evfd_ring_remove(r, 2), ENOENT);
    if (timer_ok)
        CHECK_ERR(evfd_ring_remove(r, 3), ENOENT);
    /* With descriptors free again, the same calls work. */
    release(4);
    if (fd_ok)
        CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 1), 0);
    if (sig_ok)
        CHECK_EQ(evfd_ring_add_signal(r, SIGURG, 2), 0);
    if (timer_ok) {
        wall = realtime_in_ms(5);
        CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_ABS, &wall, 3), 0);
    }
    CHECK_EQ(write(p[1], "x", 1), 1);
    raise(SIGURG);
    int seen = 0;
    while (seen != 7) {
        struct evfd_event ev = next_event(r);
        CHECK_EQ(ev.error, 0);
        CHECK(ev.udata >= 1 && ev.udata <= 3);
        seen |= 1 << (ev.udata - 1);
    }
    CHECK_EQ(evfd_ring_remove(r, 1), 0);
    CHECK_EQ(evfd_ring_remove(r, 2), 0);
    release_all();
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    check_usable(r, 3);
    evfd_ring_free(r);
    close(p[0]);
    close(p[1]);
    CHECK_NO_LEAK(before);

    /* Very many sources: one-shot timers expiring together overflow a
     * 16-entry completion queue; none is lost or doubled. */
    int n_timers = 10000;
    if (under_valgrind())
        n_timers /= 10;
    r = new_ring(16);
    int with_ring = count_fds();
    struct timespec later = {0, 200 * 1000 * 1000};
    for (int i = 0; i < n_timers; i++)
        CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &later, (uint64_t)i), 0);
    CHECK_EQ(count_fds(), with_ring); /* the clock's one kernel timer came with the ring */
    CHECK(n_timers > 0 && n_timers <= 10000);
    unsigned char *got = calloc(10000, 1);
    CHECK(got != NULL);
    int total = 0;
    struct evfd_event ev[256];
    while (total < n_timers) {
        int n = wait_events(r, ev, 256);
        CHECK(n > 0);
        for (int i = 0; i < n; i++) {
            CHECK_EQ(ev[i].kind, EVFD_KIND_TIMER); /* no EOVERFLOW record either */
            CHECK_EQ(ev[i].error, 0);
            CHECK_EQ(ev[i].value, 1);
            CHECK(ev[i].udata < (uint64_t)n_timers);
            CHECK_EQ(got[ev[i].udata], 0);
            got[ev[i].udata] = 1;
            total++;
        }
    }
    expect_quiet(r, 50);
    free(got);
    evfd_ring_free(r);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK_NO_LEAK(before);
    return 0;
}
