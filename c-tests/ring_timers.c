/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_ring_add_timer: SEQ repeats until removed, REL and ABS fire once
 * and are then gone, on every clock; no descriptor is created per timer on
 * either backend (at most one kernel timer per clock); argument errors, in
 * evfd_timerfd's order; a zero `when` adds a disarmed timer. The kernel's timerfd with the same
 * settings is the reference for "fires once" and "repeats". */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <sys/timerfd.h>
#include <unistd.h>

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    int with_ring = count_fds();
    struct evfd_event ev;

    /* SEQ: every 20 ms until removed. */
    struct timespec period = {0, 20 * 1000 * 1000};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period, 1), 0);
    int with_timer = count_fds();
    CHECK(with_timer <= with_ring + 1); /* the clock's one kernel timer */
    struct timespec hour = {3600, 0};
    for (int i = 0; i < 100; i++)
        CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, 1000 + (uint64_t)i), 0);
    CHECK_EQ(count_fds(), with_timer); /* no fd per timer */
    for (int i = 0; i < 100; i++)
        CHECK_EQ(evfd_ring_remove(r, 1000 + (uint64_t)i), 0);
    uint64_t expirations = 0;
    while (expirations < 5) {
        ev = next_event(r);
        CHECK_EQ(ev.kind, EVFD_KIND_TIMER);
        CHECK_EQ(ev.udata, 1);
        CHECK_EQ(ev.error, 0);
        CHECK(ev.value >= 1);
        expirations += ev.value;
    }
    CHECK_EQ(evfd_ring_remove(r, 1), 0);
    expect_quiet(r, 200);
    CHECK_ERR(evfd_ring_remove(r, 1), ENOENT);
    CHECK_EQ(count_fds(), with_timer);

    /* REL: once, then gone (as a kernel timerfd with no interval). */
    static const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
    for (int c = 0; c < 3; c++) {
        struct timespec soon = {0, 30 * 1000 * 1000};
        int kfd = timerfd_create(clocks[c], 0);
        struct itimerspec its = {{0, 0}, soon};
        CHECK_EQ(timerfd_settime(kfd, 0, &its, NULL), 0);
        CHECK_EQ(evfd_ring_add_timer(r, clocks[c], EVFD_TIMER_REL, &soon, 10 + c), 0);
        ev = next_event(r);
        CHECK_EQ(ev.kind, EVFD_KIND_TIMER);
        CHECK_EQ(ev.udata, 10 + c);
        CHECK_EQ(ev.value, 1);
        uint64_t kexp;
        CHECK_EQ(read(kfd, &kexp, 8), 8);
        CHECK_EQ(kexp, 1);
        expect_quiet(r, 100);
        CHECK_ERR(evfd_ring_remove(r, 10 + c), ENOENT);
        close(kfd);
    }

    /* ABS: at a time on the timer's clock, once; a past time fires at once. */
    for (int c = 0; c < 3; c++) {
        struct timespec at;
        clock_gettime(clocks[c], &at);
        at.tv_nsec += 30 * 1000 * 1000;
        if (at.tv_nsec >= 1000000000) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000;
        }
        CHECK_EQ(evfd_ring_add_timer(r, clocks[c], EVFD_TIMER_ABS, &at, 20 + c), 0);
        ev = next_event(r);
        CHECK_EQ(ev.udata, 20 + c);
        CHECK_EQ(ev.value, 1);
        struct timespec now;
        clock_gettime(clocks[c], &now);
        CHECK(now.tv_sec > at.tv_sec || (now.tv_sec == at.tv_sec && now.tv_nsec >= at.tv_nsec));
        CHECK_ERR(evfd_ring_remove(r, 20 + c), ENOENT);
    }
    struct timespec past = {1, 0};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_ABS, &past, 30), 0);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 30);

    /* Removed before it fires: never fires. */
    struct timespec later = {0, 100 * 1000 * 1000};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &later, 31), 0);
    CHECK_EQ(evfd_ring_remove(r, 31), 0);
    expect_quiet(r, 300);

    /* Two timers with one udata: remove takes both. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period, 32), 0);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &later, 32), 0);
    CHECK_EQ(evfd_ring_remove(r, 32), 0);
    CHECK_ERR(evfd_ring_remove(r, 32), ENOENT);
    expect_quiet(r, 300);

    /* Errors, without leaking. */
    int mid = count_fds();
    struct timespec ok = {1, 0}, zero = {0, 0}, neg = {-1, 0}, bad = {0, 1000000000};
    CHECK_ERR(evfd_ring_add_timer(NULL, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ok, 1), EFAULT);
    CHECK_ERR(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, NULL, 1), EFAULT);
    CHECK_ERR(evfd_ring_add_timer(r, CLOCK_MONOTONIC, 3, &ok, 1), EINVAL);
    CHECK_ERR(evfd_ring_add_timer(r, CLOCK_MONOTONIC, -1, &ok, 1), EINVAL);
    CHECK_ERR(evfd_ring_add_timer(r, CLOCK_PROCESS_CPUTIME_ID, EVFD_TIMER_REL, &ok, 1), EINVAL);
    CHECK_ERR(evfd_ring_add_timer(r, 12345, EVFD_TIMER_SEQ, &ok, 1), EINVAL);
    /* The clock is checked before `when`, as evfd_timerfd does. */
    CHECK_ERR(evfd_ring_add_timer(r, 12345, EVFD_TIMER_REL, NULL, 1), EINVAL);
    CHECK_ERR(evfd_timerfd(-1, 12345, EVFD_TIMER_REL, NULL), EINVAL);
    CHECK_ERR(evfd_ring_add_timer(r, CLOCK_MONOTONIC, 7, NULL, 1), EINVAL);
    CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, 7, NULL), EINVAL);
    CHECK_ERR(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &neg, 1), EINVAL);
    CHECK_ERR(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &bad, 1), EINVAL);
    CHECK_ERR(evfd_ring_remove(r, 1), ENOENT);
    CHECK_NO_LEAK(mid);

    /* A zero `when` adds the timer disarmed (as evfd_timerfd creates a
     * disarmed timerfd): registered, silent. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &zero, 40), 0);
    expect_quiet(r, 50);
    CHECK_EQ(evfd_ring_remove(r, 40), 0);

    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
