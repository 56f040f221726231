/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Every call that takes a timespec, with extreme values, on both backends
 * (DESIGN §4, §5 "no input from C aborts the process"; issue 11 item 6):
 * - evfd_ring_wait with {INT64_MAX, 999999999} and other huge timeouts
 *   (and NULL) returns at once when an event is pending (a post, a due
 *   timer, a ready fd), and returns a post another thread makes ~50 ms
 *   later; {0, 0} returns 0 at once; tv_nsec -1, 10^9, LONG_MAX and a
 *   negative tv_sec are EINVAL, even with an event pending, which stays;
 * - evfd_ring_add_timer and evfd_ring_rearm_timer with huge `when` for REL,
 *   ABS and SEQ on the three clocks: accepted, never fire within 100 ms,
 *   removable, no descriptor per timer; re-armed back to a short REL they
 *   fire once; their argument errors in the documented order (type, clock,
 *   NULL when, range) and ENOENT, each leaking nothing;
 * - evfd_timerfd with the same values: accepted as the kernel's
 *   timerfd_settime accepts them (clamped to KTIME_MAX), not readable
 *   within 100 ms, re-armable in place, watchable by the ring;
 * - peek/wait with max = UINT_MAX or INT_MAX + 1 are EINVAL (nothing
 *   written); evfd_ring_new(UINT_MAX, 0) works (clamped),
 *   evfd_ring_new(0, UINT_MAX) is EINVAL. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Valid, and beyond anything a clock represents. */
static const struct timespec huge_ts[] = {
    {INT64_MAX, 999999999},
    {INT64_MAX, 0},
    {18446744073, 709551615}, /* UINT64_MAX nanoseconds */
    {9223372036, 854775807},  /* INT64_MAX nanoseconds (KTIME_MAX) */
    {(int64_t)1 << 40, 1},
};

/* Invalid: EINVAL wherever a timespec is read. */
static const struct timespec bad_ts[] = {
    {0, -1},
    {0, 1000000000},
    {0, LONG_MAX},
    {0, LONG_MIN},
    {-1, 0},
    {INT64_MIN, 0},
    {INT64_MIN, 999999999},
    {INT64_MAX, -1},
    {INT64_MAX, 1000000000},
};

static const int clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
static const int types[] = {EVFD_TIMER_REL, EVFD_TIMER_ABS, EVFD_TIMER_SEQ};
static const int bad_types[] = {3, -1, INT_MIN, INT_MAX};
static const int bad_clocks[] = {-1, INT_MIN, INT_MAX, CLOCK_PROCESS_CPUTIME_ID,
                                 CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_ALARM};

static long long now_ms(void) {
    struct timespec t;
    CHECK_EQ(clock_gettime(CLOCK_MONOTONIC, &t), 0);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Generous: "at once" on a shared 2-core machine, under valgrind too. */
#define AT_ONCE_MS 3000

/* evfd_ring_wait(timeout) with an event pending returns it at once. */
static struct evfd_event wait_pending(struct evfd_ring *r, const struct timespec *timeout) {
    struct evfd_event ev;
    memset(&ev, 0xa5, sizeof ev);
    long long t0 = now_ms();
    int n;
    do
        n = evfd_ring_wait(r, &ev, 1, timeout);
    while (n < 0 && errno == EINTR);
    CHECK_EQ(n, 1);
    CHECK(now_ms() - t0 < AT_ONCE_MS);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(ev.reserved[i], 0);
    return ev;
}

static void expect_post(struct evfd_event ev, uint64_t udata, uint64_t value) {
    CHECK_EQ(ev.kind, EVFD_KIND_USER);
    CHECK_EQ(ev.udata, udata);
    CHECK_EQ(ev.value, value);
    CHECK_EQ(ev.error, 0);
}

struct poster {
    struct evfd_ring *ring;
    uint64_t udata, value;
};

static void *post_later(void *arg) {
    struct poster *p = arg;
    struct timespec ms50 = {0, 50 * 1000 * 1000};
    nanosleep(&ms50, NULL);
    CHECK_EQ(evfd_ring_post(p->ring, p->udata, p->value), 0);
    return NULL;
}

/* A post from another thread ~50 ms into a wait with `timeout` (huge or
 * NULL) is returned. */
static void wait_for_thread_post(struct evfd_ring *r, const struct timespec *timeout,
                                 uint64_t udata) {
    struct poster p = {r, udata, udata * 10};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, post_later, &p), 0);
    struct evfd_event ev;
    memset(&ev, 0xa5, sizeof ev);
    int n;
    do
        n = evfd_ring_wait(r, &ev, 1, timeout);
    while (n < 0 && errno == EINTR);
    CHECK_EQ(n, 1);
    expect_post(ev, udata, udata * 10);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static void test_wait(struct evfd_ring *r) {
    int fds = count_fds();
    struct evfd_event ev[4];
    const struct timespec zero = {0, 0};

    /* {0, 0} with nothing pending: 0 at once. */
    long long t0 = now_ms();
    CHECK_EQ(evfd_ring_wait(r, ev, 4, &zero), 0);
    CHECK(now_ms() - t0 < AT_ONCE_MS);

    /* Huge timeouts (and NULL) with a post pending: returned at once. */
    for (size_t i = 0; i < N_ELEMS(huge_ts); i++) {
        CHECK_EQ(evfd_ring_post(r, 100 + i, i), 0);
        expect_post(wait_pending(r, &huge_ts[i]), 100 + i, i);
    }
    CHECK_EQ(evfd_ring_post(r, UINT64_MAX, UINT64_MAX), 0);
    expect_post(wait_pending(r, NULL), UINT64_MAX, UINT64_MAX);
    CHECK_EQ(evfd_ring_post(r, 0, 0), 0);
    expect_post(wait_pending(r, &huge_ts[0]), 0, 0);

    /* ... with a timer due in 1 ms: its event, at once. */
    const struct timespec ms1 = {0, 1000 * 1000};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ms1, 7), 0);
    struct evfd_event e = wait_pending(r, &huge_ts[0]);
    CHECK_EQ(e.kind, EVFD_KIND_TIMER);
    CHECK_EQ(e.udata, 7);
    CHECK_EQ(e.value, 1);
    CHECK_ERR(evfd_ring_remove(r, 7), ENOENT); /* delivered: gone */

    /* ... with an eventfd ready: its count, at once. */
    int efd = eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(efd >= 0);
    CHECK_EQ(evfd_ring_add_fd(r, efd, POLLIN, 8), 0);
    e = wait_pending(r, &huge_ts[1]);
    CHECK_EQ(e.kind, EVFD_KIND_FD);
    CHECK_EQ(e.udata, 8);
    CHECK_EQ(e.value, 5);
    CHECK_EQ(evfd_ring_remove(r, 8), 0);
    close(efd);

    /* A post from another thread while waiting with a huge timeout or
     * NULL. Valgrind 3.19 holds its lock while a thread is in
     * io_uring_enter, so the poster could never run during an endless wait
     * on io_uring: that variant skips this part there (as ring_wait.c). */
    if (under_valgrind() && !is_epoll(r)) {
        fprintf(stderr, "note: thread-post part skipped (io_uring under valgrind)\n");
    } else {
        wait_for_thread_post(r, &huge_ts[0], 201);
        wait_for_thread_post(r, &huge_ts[2], 202);
        wait_for_thread_post(r, NULL, 203);
    }

    /* Invalid timeouts: EINVAL even with an event pending, which stays. */
    CHECK_EQ(evfd_ring_post(r, 300, 3), 0);
    for (size_t i = 0; i < N_ELEMS(bad_ts); i++) {
        memset(ev, 0xa5, sizeof ev);
        CHECK_ERR(evfd_ring_wait(r, ev, 4, &bad_ts[i]), EINVAL);
        CHECK_EQ(ev[0].kind, 0xa5a5a5a5u); /* nothing written */
    }
    /* max is checked before the timeout, `out` before the timeout too. */
    CHECK_ERR(evfd_ring_wait(r, ev, 0, &bad_ts[0]), EINVAL);
    CHECK_ERR(evfd_ring_wait(r, NULL, 1, &bad_ts[0]), EFAULT);
    CHECK_ERR(evfd_ring_wait(NULL, ev, 1, &bad_ts[0]), EFAULT);
    CHECK_ERR(evfd_ring_wait(NULL, NULL, UINT_MAX, &huge_ts[0]), EFAULT);

    /* max = UINT_MAX / INT_MAX + 1 / 0: EINVAL (documented), for peek and
     * for wait with any timeout, nothing written to the one-event array
     * (ASan would see a write past it). */
    const unsigned bad_max[] = {UINT_MAX, (unsigned)INT_MAX + 1u, 0};
    for (size_t i = 0; i < N_ELEMS(bad_max); i++) {
        struct evfd_event one;
        memset(&one, 0xa5, sizeof one);
        CHECK_ERR(evfd_ring_peek(r, &one, bad_max[i]), EINVAL);
        CHECK_ERR(evfd_ring_wait(r, &one, bad_max[i], &zero), EINVAL);
        CHECK_ERR(evfd_ring_wait(r, &one, bad_max[i], &huge_ts[0]), EINVAL);
        CHECK_ERR(evfd_ring_wait(r, &one, bad_max[i], NULL), EINVAL);
        CHECK_ERR(evfd_ring_wait(r, &one, bad_max[i], &bad_ts[0]), EINVAL);
        CHECK_EQ(one.kind, 0xa5a5a5a5u);
    }
    /* The pending post survived every refused call. */
    expect_post(wait_pending(r, &huge_ts[0]), 300, 3);
    CHECK_EQ(evfd_ring_wait(r, ev, 4, &zero), 0);
    /* The ring keeps CLOCK_MONOTONIC's one kernel timer (the 1 ms timer
     * made it); nothing else. */
    CHECK(count_fds() <= fds + 1);
}

/* add_timer / rearm_timer with huge `when`: accepted, silent, removable. */
static void test_timers(struct evfd_ring *r) {
    int with_ring = count_fds();
    struct evfd_event ev[4];
    uint64_t u = 1000;

    /* Every clock × type × huge value, one timer each. */
    for (size_t c = 0; c < N_ELEMS(clocks); c++)
        for (size_t t = 0; t < N_ELEMS(types); t++)
            for (size_t i = 0; i < N_ELEMS(huge_ts); i++)
                CHECK_EQ(evfd_ring_add_timer(r, clocks[c], types[t], &huge_ts[i], u++), 0);
    uint64_t last = u;
    /* No descriptor per timer: at most one kernel timer per clock. */
    CHECK(count_fds() <= with_ring + 3);
    int with_timers = count_fds();
    expect_quiet(r, 100);

    /* Re-armed in place with every type and huge value: still silent. */
    u = 1000;
    for (size_t c = 0; c < N_ELEMS(clocks); c++)
        for (size_t t = 0; t < N_ELEMS(types); t++)
            for (size_t i = 0; i < N_ELEMS(huge_ts); i++)
                CHECK_EQ(evfd_ring_rearm_timer(r, u++, types[(t + i) % 3],
                                               &huge_ts[(i + c) % N_ELEMS(huge_ts)]),
                         0);
    CHECK_EQ(count_fds(), with_timers);
    expect_quiet(r, 100);

    /* Argument errors of rearm_timer, in order: type, NULL when, range,
     * then ENOENT; each leaves the timer as it was. */
    for (size_t i = 0; i < N_ELEMS(bad_types); i++) {
        CHECK_ERR(evfd_ring_rearm_timer(r, 1000, bad_types[i], &huge_ts[0]), EINVAL);
        CHECK_ERR(evfd_ring_rearm_timer(r, 1000, bad_types[i], NULL), EINVAL);
        CHECK_ERR(evfd_ring_rearm_timer(r, 1000, bad_types[i], &bad_ts[0]), EINVAL);
        CHECK_ERR(evfd_ring_rearm_timer(r, 5, bad_types[i], NULL), EINVAL);
    }
    CHECK_ERR(evfd_ring_rearm_timer(r, 1000, EVFD_TIMER_REL, NULL), EFAULT);
    CHECK_ERR(evfd_ring_rearm_timer(r, 5, EVFD_TIMER_SEQ, NULL), EFAULT);
    for (size_t i = 0; i < N_ELEMS(bad_ts); i++) {
        CHECK_ERR(evfd_ring_rearm_timer(r, 1000, EVFD_TIMER_SEQ, &bad_ts[i]), EINVAL);
        CHECK_ERR(evfd_ring_rearm_timer(r, 5, EVFD_TIMER_ABS, &bad_ts[i]), EINVAL);
    }
    CHECK_ERR(evfd_ring_rearm_timer(r, 0, EVFD_TIMER_REL, &huge_ts[0]), ENOENT);
    CHECK_ERR(evfd_ring_rearm_timer(r, UINT64_MAX, EVFD_TIMER_SEQ, &huge_ts[0]), ENOENT);
    CHECK_ERR(evfd_ring_rearm_timer(r, last, EVFD_TIMER_ABS, &huge_ts[0]), ENOENT);
    CHECK_ERR(evfd_ring_rearm_timer(NULL, 1000, EVFD_TIMER_REL, &huge_ts[0]), EFAULT);
    CHECK_ERR(evfd_ring_rearm_timer(NULL, 1000, INT_MIN, NULL), EFAULT);
    /* A udata with no timer but another source: ENOENT too. */
    CHECK_EQ(evfd_ring_post(r, 5, 5), 0); /* posts are not sources */
    CHECK_ERR(evfd_ring_rearm_timer(r, 5, EVFD_TIMER_REL, &huge_ts[0]), ENOENT);
    expect_post(wait_pending(r, &huge_ts[0]), 5, 5);
    CHECK_EQ(count_fds(), with_timers);

    /* Argument errors of add_timer, in evfd_timerfd's order: type, clock,
     * NULL when, range. Nothing is registered by a refused call. */
    for (size_t i = 0; i < N_ELEMS(bad_types); i++) {
        CHECK_ERR(evfd_ring_add_timer(r, INT_MIN, bad_types[i], NULL, 2), EINVAL);
        CHECK_ERR(evfd_ring_add_timer(r, CLOCK_MONOTONIC, bad_types[i], &huge_ts[0], 2), EINVAL);
    }
    for (size_t c = 0; c < N_ELEMS(bad_clocks); c++) {
        CHECK_ERR(evfd_ring_add_timer(r, bad_clocks[c], EVFD_TIMER_REL, NULL, 2), EINVAL);
        CHECK_ERR(evfd_ring_add_timer(r, bad_clocks[c], EVFD_TIMER_SEQ, &huge_ts[0], 2), EINVAL);
        CHECK_ERR(evfd_ring_add_timer(r, bad_clocks[c], EVFD_TIMER_ABS, &bad_ts[0], 2), EINVAL);
    }
    for (size_t c = 0; c < N_ELEMS(clocks); c++) {
        CHECK_ERR(evfd_ring_add_timer(r, clocks[c], EVFD_TIMER_REL, NULL, 2), EFAULT);
        for (size_t i = 0; i < N_ELEMS(bad_ts); i++)
            for (size_t t = 0; t < N_ELEMS(types); t++)
                CHECK_ERR(evfd_ring_add_timer(r, clocks[c], types[t], &bad_ts[i], 2), EINVAL);
    }
    CHECK_ERR(evfd_ring_add_timer(NULL, INT_MIN, INT_MAX, NULL, 2), EFAULT);
    CHECK_ERR(evfd_ring_remove(r, 2), ENOENT);
    CHECK_EQ(count_fds(), with_timers);

    /* A zero `when` adds a disarmed timer; huge re-arms keep it silent; a
     * short REL re-arm fires once, and then it is gone. */
    const struct timespec zero = {0, 0}, ms2 = {0, 2 * 1000 * 1000};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_BOOTTIME, EVFD_TIMER_SEQ, &zero, UINT64_MAX), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, UINT64_MAX, EVFD_TIMER_SEQ, &huge_ts[0]), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, UINT64_MAX, EVFD_TIMER_ABS, &huge_ts[0]), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, UINT64_MAX, EVFD_TIMER_REL, &zero), 0);
    expect_quiet(r, 50);
    CHECK_EQ(evfd_ring_rearm_timer(r, UINT64_MAX, EVFD_TIMER_REL, &ms2), 0);
    struct evfd_event e = wait_pending(r, &huge_ts[0]);
    CHECK_EQ(e.kind, EVFD_KIND_TIMER);
    CHECK_EQ(e.udata, UINT64_MAX);
    CHECK_EQ(e.value, 1);
    CHECK_ERR(evfd_ring_rearm_timer(r, UINT64_MAX, EVFD_TIMER_REL, &huge_ts[0]), ENOENT);
    /* udata 0 works like any other. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_ABS, &huge_ts[0], 0), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, 0, EVFD_TIMER_SEQ, &huge_ts[3]), 0);
    CHECK_EQ(evfd_ring_remove(r, 0), 0);

    /* Every huge timer is removable, once. */
    for (u = 1000; u < last; u++)
        CHECK_EQ(evfd_ring_remove(r, u), 0);
    for (u = 1000; u < last; u++)
        CHECK_ERR(evfd_ring_remove(r, u), ENOENT);
    CHECK_EQ(evfd_ring_peek(r, ev, 4), 0);
    CHECK(count_fds() <= with_timers);
}

/* evfd_timerfd with the same values: what the kernel's timerfd_settime
 * does (clamped to KTIME_MAX, c-tests/timerfd_extremes.c compares them
 * case by case); here: no abort, not readable, re-armable, and a ring
 * watching it stays quiet. */
static void test_timerfd(struct evfd_ring *r) {
    int fds = count_fds();
    int tfd[N_ELEMS(clocks) * N_ELEMS(types)];
    size_t k = 0;
    for (size_t c = 0; c < N_ELEMS(clocks); c++)
        for (size_t t = 0; t < N_ELEMS(types); t++) {
            int fd = evfd_timerfd(-1, clocks[c], types[t], &huge_ts[0]);
            CHECK(fd >= 0);
            struct itimerspec cur;
            CHECK_EQ(timerfd_gettime(fd, &cur), 0);
            CHECK(cur.it_value.tv_sec > 0); /* armed, far away */
            if (types[t] == EVFD_TIMER_SEQ) {
                CHECK_EQ(cur.it_interval.tv_sec, 9223372036); /* KTIME_MAX */
                CHECK_EQ(cur.it_interval.tv_nsec, 854775807);
            } else {
                CHECK_EQ(cur.it_interval.tv_sec, 0);
            }
            for (size_t i = 0; i < N_ELEMS(huge_ts); i++)
                CHECK_EQ(evfd_timerfd(fd, clocks[c], types[(t + i) % 3], &huge_ts[i]), fd);
            CHECK_EQ(evfd_timerfd(fd, clocks[c], types[t], &huge_ts[0]), fd);
            for (size_t i = 0; i < N_ELEMS(bad_ts); i++) {
                CHECK_ERR(evfd_timerfd(fd, clocks[c], types[t], &bad_ts[i]), EINVAL);
                CHECK_ERR(evfd_timerfd(-1, clocks[c], types[t], &bad_ts[i]), EINVAL);
            }
            CHECK_ERR(evfd_timerfd(-1, clocks[c], types[t], NULL), EFAULT);
            CHECK_ERR(evfd_timerfd(INT_MIN, clocks[c], types[t], &huge_ts[0]), EBADF);
            CHECK_ERR(evfd_timerfd(INT_MAX, clocks[c], types[t], &huge_ts[0]), EBADF);
            /* The ring's own fd is not a timerfd. */
            CHECK_ERR(evfd_timerfd(evfd_ring_fd(r), clocks[c], types[t], &huge_ts[0]), EINVAL);
            CHECK_EQ(evfd_ring_add_fd(r, fd, POLLIN, 500 + k), 0);
            tfd[k++] = fd;
        }
    for (size_t i = 0; i < N_ELEMS(bad_types); i++)
        CHECK_ERR(evfd_timerfd(-1, INT_MAX, bad_types[i], NULL), EINVAL);
    for (size_t c = 0; c < N_ELEMS(bad_clocks); c++)
        CHECK_ERR(evfd_timerfd(-1, bad_clocks[c], EVFD_TIMER_REL, NULL), EINVAL);
    CHECK_EQ(count_fds(), fds + (int)k);
    /* None readable within 100 ms; the ring watching them stays quiet. */
    for (size_t i = 0; i < k; i++) {
        struct pollfd p = {.fd = tfd[i], .events = POLLIN};
        CHECK_EQ(poll(&p, 1, i == 0 ? 100 : 0), 0);
    }
    expect_quiet(r, 100);
    for (size_t i = 0; i < k; i++) {
        CHECK_EQ(evfd_ring_remove(r, 500 + i), 0);
        close(tfd[i]);
    }
    CHECK_NO_LEAK(fds);
}

static void test_new(void) {
    int fds = count_fds();
    /* entries = UINT_MAX: clamped, works. */
    struct evfd_ring *big = new_ring(UINT_MAX);
    CHECK_EQ(evfd_ring_post(big, 1, 2), 0);
    expect_post(wait_pending(big, &huge_ts[0]), 1, 2);
    evfd_ring_free(big);
    CHECK_NO_LEAK(fds);
    /* flags = UINT_MAX (with any entries): NULL + EINVAL, nothing made. */
    errno = 0;
    CHECK(evfd_ring_new(0, UINT_MAX) == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK_NO_LEAK(fds);
    errno = 0;
    CHECK(evfd_ring_new(UINT_MAX, UINT_MAX) == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK_NO_LEAK(fds);
    errno = 0;
    CHECK(evfd_ring_new(1, 1u << 31) == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK_NO_LEAK(fds);
}

int main(void) {
    int before = count_fds();
    test_new();
    struct evfd_ring *r = new_ring(0);
    test_wait(r);
    test_timers(r);
    test_timerfd(r);
    /* Still a working ring after all that. */
    CHECK_EQ(evfd_ring_post(r, 42, 43), 0);
    expect_post(wait_pending(r, &huge_ts[0]), 42, 43);
    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
