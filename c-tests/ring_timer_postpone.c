/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The idle-timeout idiom: a timer pushed back again and again with
 * evfd_ring_rearm_timer before it fires. The ring leaves a timer moved
 * later where it is in its heap and moves it once its old deadline comes
 * (evfd_ring(3)); whatever it does inside, the timer must fire exactly
 * once, never before the last deadline it was given, and a peek after an
 * old deadline must deliver nothing. Also with evfd_ring_fd asked for (the
 * kernel timer then follows the heap: it may wake the caller at an old
 * deadline, with nothing to deliver), for a timer pushed back, then
 * pulled earlier than its old deadline, and for one brought in from
 * further than a deadline's kept low bits can tell. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>

#define MS 1000000ull

/* Pushes timer `udata` back by 50 ms every 10 ms for 200 ms (four times
 * its timeout); then waits for it and checks it fires once, at least 50 ms
 * after the last push. (Should the machine stall this thread for longer
 * than the timeout between two pushes, the timer fires then, rightly: the
 * same check, against the push before the stall, accepts that, and still
 * fails a timer fired at an old deadline soon after a push.) With `fd` >= 0
 * the wait is a poll on the ring's descriptor. */
static void push_back(struct evfd_ring *r, uint64_t udata, int fd) {
    struct timespec timeout = {0, 50 * MS};
    struct evfd_event ev[4];
    uint64_t pushed = mono_ns();
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &timeout, udata), 0);
    int n = 0;
    for (int i = 0; i < 20 && n == 0; i++) {
        sleep_ms(10);
        n = evfd_ring_peek(r, ev, 4);
        CHECK(n >= 0);
        if (n == 0) {
            pushed = mono_ns();
            CHECK_EQ(evfd_ring_rearm_timer(r, udata, EVFD_TIMER_REL, &timeout), 0);
        }
    }
    while (n == 0) {
        if (fd >= 0)
            CHECK(poll_in(fd, 20000));
        n = fd >= 0 ? evfd_ring_peek(r, ev, 4) : wait_events(r, ev, 4);
        CHECK(n >= 0);
    }
    CHECK(mono_ns() >= pushed + 50 * MS);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].kind, EVFD_KIND_TIMER);
    CHECK_EQ(ev[0].udata, udata);
    CHECK_EQ(ev[0].value, 1);
    expect_quiet(r, 100);
    /* A one-shot timer is gone once delivered. */
    CHECK_ERR(evfd_ring_rearm_timer(r, udata, EVFD_TIMER_REL, &timeout), ENOENT);
}

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);

    push_back(r, 1, -1);

    /* Pushed back (from 5 s to 10 s), then pulled in to 30 ms: fires at
     * 30 ms, not at either of the other deadlines. */
    struct timespec five = {5, 0}, ten = {10, 0}, soon = {0, 30 * MS};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &five, 2), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, 2, EVFD_TIMER_REL, &ten), 0);
    uint64_t pulled = mono_ns();
    CHECK_EQ(evfd_ring_rearm_timer(r, 2, EVFD_TIMER_REL, &soon), 0);
    struct evfd_event ev;
    CHECK_EQ(wait_events(r, &ev, 1), 1);
    CHECK_EQ(ev.udata, 2);
    uint64_t took = mono_ns() - pulled;
    CHECK(took >= 30 * MS && took < 4000 * MS);

    /* A timer 2^48 ns (78 hours) and 25 ms away, brought in to 40 ms
     * while a timer due in 20 ms is armed. The ring keeps a timer's
     * deadline as its low 48 bits: read against the 20 ms timer they say
     * "in 25 ms", by which the move to 40 ms would look like a move later
     * and leave the entry 78 hours out. It must fire at 40 ms. */
    struct timespec anchor = {0, 20 * MS}, forty = {0, 40 * MS};
    uint64_t far_ns = (1ull << 48) + 25 * MS;
    struct timespec far = {(time_t)(far_ns / 1000000000ull), (long)(far_ns % 1000000000ull)};
    uint64_t brought = mono_ns();
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &anchor, 4), 0);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &far, 5), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, 5, EVFD_TIMER_REL, &forty), 0);
    CHECK_EQ(next_event(r).udata, 4);
    CHECK_EQ(next_event(r).udata, 5);
    CHECK(mono_ns() - brought >= 40 * MS);

    /* The same pushing back, watched through the ring's descriptor. */
    int fd = evfd_ring_fd(r);
    CHECK(fd >= 0);
    push_back(r, 3, fd);

    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
