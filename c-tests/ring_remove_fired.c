/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Regression (found by the ring fuzz target): evfd_ring_remove() of a
 * one-shot source (REL timer, futex) whose completion the ring had already
 * taken from the kernel, but whose event was not yet delivered (a peek with
 * a small max), returned ENOENT and the event still arrived afterwards. The
 * man page says remove discards the undelivered events of the sources it
 * removes; such a source is not gone for the caller until its event is
 * delivered, so remove succeeds and the udata is silent afterwards. Posts
 * with the same udata stay. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"

static void check_silent_after_remove(struct evfd_ring *r, uint64_t udata) {
    /* One event of the pair is delivered; the other is held by the ring. */
    struct evfd_event ev[4];
    int n = wait_events(r, ev, 1);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].udata, udata);
    CHECK_EQ(evfd_ring_post(r, udata, 99), 0);
    errno = 0;
    CHECK_EQ(evfd_ring_remove(r, udata), 0);
    CHECK_EQ(errno, 0);
    /* Only the post is left. */
    n = evfd_ring_peek(r, ev, 4);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].kind, EVFD_KIND_USER);
    CHECK_EQ(ev[0].value, 99);
    expect_quiet(r, 100);
    CHECK_ERR(evfd_ring_remove(r, udata), ENOENT);
}

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(8);

    /* Two one-shot timers on one udata, both expired before the peek. */
    struct timespec ms = {0, 1000 * 1000};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ms, 7), 0);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ms, 7), 0);
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    check_silent_after_remove(r, 7);

    /* Two futex waits armed on a word that does not hold `expected`: both
     * complete at once with EAGAIN (both backends). */
    if (futex_waits_testable(r)) {
        uint32_t word = 0;
        CHECK_EQ(evfd_ring_add_futex(r, &word, 1, 8), 0);
        CHECK_EQ(evfd_ring_add_futex(r, &word, 1, 8), 0);
        check_silent_after_remove(r, 8);
    }
    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
