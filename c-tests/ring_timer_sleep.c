/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A monotonic timer ends evfd_ring_wait at its deadline, never before:
 * with no timeout, with a longer timeout, after being re-armed earlier,
 * and with the earliest timer removed (the wait then runs to the next).
 * No kernel timer follows the monotonic deadlines until the ring's
 * descriptor is asked for (ring_timer_nosyscall.c); from then on the
 * descriptor polls readable at the deadline of timers armed before and
 * after evfd_ring_fd, with nobody in evfd_ring_wait. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <time.h>

static struct timespec ms(long n) {
    struct timespec t = {n / 1000, (n % 1000) * 1000000};
    return t;
}

/* Waits for one event (timeout `limit_ms`, or forever if negative); checks
 * it is timer `udata` and that at least `min_ms` passed since `since`. */
static void expect_timer_after(struct evfd_ring *r, long limit_ms, uint64_t udata,
                               uint64_t since, long min_ms) {
    struct evfd_event ev[4];
    struct timespec limit = ms(limit_ms);
    int n = evfd_ring_wait(r, ev, 4, limit_ms < 0 ? NULL : &limit);
    uint64_t waited = mono_ns() - since;
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].kind, EVFD_KIND_TIMER);
    CHECK_EQ(ev[0].udata, udata);
    CHECK(waited >= (uint64_t)min_ms * 1000000u);
}

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);

    /* No timeout: the timer ends the wait. */
    uint64_t t0 = mono_ns();
    struct timespec d = ms(30);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &d, 1), 0);
    expect_timer_after(r, -1, 1, t0, 30);

    /* A longer timeout (the other cases; a wait the timer does not end
     * fails after 20 s): the timer still ends it, at its deadline. */
    t0 = mono_ns();
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_REL, &d, 2), 0);
    expect_timer_after(r, 60000, 2, t0, 30);

    /* Re-armed earlier while pending: the earlier deadline ends it. */
    struct timespec hour = {3600, 0};
    t0 = mono_ns();
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, 3), 0);
    d = ms(20);
    CHECK_EQ(evfd_ring_rearm_timer(r, 3, EVFD_TIMER_REL, &d), 0);
    expect_timer_after(r, 20000, 3, t0, 20);

    /* The earliest removed: the wait runs to the next one. */
    t0 = mono_ns();
    d = ms(10);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &d, 4), 0);
    d = ms(40);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &d, 5), 0);
    CHECK_EQ(evfd_ring_remove(r, 4), 0);
    expect_timer_after(r, 20000, 5, t0, 40);

    /* An ABS deadline ends it too. */
    t0 = mono_ns();
    struct timespec at = {(time_t)((t0 + 25000000u) / 1000000000u),
                          (long)((t0 + 25000000u) % 1000000000u)};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_ABS, &at, 6), 0);
    expect_timer_after(r, 20000, 6, t0, 25);

    /* The descriptor, asked for while a timer is pending: it polls readable
     * at that timer's deadline, with nobody waiting in the ring. */
    t0 = mono_ns();
    d = ms(30);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &d, 7), 0);
    int rfd = evfd_ring_fd(r);
    CHECK(rfd >= 0);
    CHECK(poll_in(rfd, 20000));
    CHECK(mono_ns() - t0 >= 30000000u);
    expect_timer_after(r, 0, 7, t0, 30);
    /* As documented: peek until 0 before polling again. */
    struct evfd_event ev[4];
    CHECK_EQ(evfd_ring_peek(r, ev, 4), 0);
    CHECK(!poll_in(rfd, 0));

    /* ... and for a timer armed after it was asked for. */
    t0 = mono_ns();
    d = ms(20);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &d, 8), 0);
    CHECK(!poll_in(rfd, 0));
    CHECK(poll_in(rfd, 20000));
    CHECK(mono_ns() - t0 >= 20000000u);
    expect_timer_after(r, 0, 8, t0, 20);
    CHECK_EQ(evfd_ring_peek(r, ev, 4), 0);
    CHECK(!poll_in(rfd, 0));

    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
