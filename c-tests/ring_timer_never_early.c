/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* REL and SEQ timers never fire early: each is armed (added, or re-armed
 * from an hour away) right after a clock read, then taken by a peek that
 * spins, so it is delivered within a peek's time of its deadline; it must
 * arrive no sooner than `when` after that read (timerfd's meaning: `when`
 * from the call). A start taken from anything but an ordered clock read
 * at the call (a cached time, a counter read that may run ahead of the
 * caller's earlier loads) fails here once it is early by more than a
 * peek's time. The gaps between timers vary from none to 1.7 ms. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"

#define US 1000ull

/* Spins until `ns` have passed. */
static void spin_ns(uint64_t ns) {
    uint64_t start = mono_ns();
    while (mono_ns() - start < ns) {
    }
}

/* Peeks until one event arrives; returns it. */
static struct evfd_event spin_for_event(struct evfd_ring *r) {
    struct evfd_event ev;
    int n;
    while ((n = evfd_ring_peek(r, &ev, 1)) == 0) {
    }
    CHECK_EQ(n, 1);
    return ev;
}

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    static const uint64_t whens[] = {1 * US, 3 * US, 10 * US, 40 * US, 150 * US};
    static const uint64_t gaps[] = {0, 2 * US, 30 * US, 400 * US, 1700 * US};
    int rounds = under_valgrind() ? 150 : 1500;
    uint64_t worst = UINT64_MAX;
    struct timespec hour = {3600, 0};
    for (int i = 0; i < rounds; i++) {
        uint64_t when = whens[i % 5];
        /* Every 25 rounds, every gap meets every `when`. */
        spin_ns(gaps[(i / 5) % 5]);
        struct timespec w = {0, (long)when};
        int kind = i % 3; /* add REL, re-arm REL, add SEQ */
        uint64_t udata = 100 + (uint64_t)i;
        if (kind == 1)
            CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, udata), 0);
        uint64_t armed = mono_ns();
        if (kind == 0)
            CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &w, udata), 0);
        else if (kind == 1)
            CHECK_EQ(evfd_ring_rearm_timer(r, udata, EVFD_TIMER_REL, &w), 0);
        else
            CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &w, udata), 0);
        struct evfd_event ev = spin_for_event(r);
        uint64_t took = mono_ns() - armed;
        CHECK_EQ(ev.kind, EVFD_KIND_TIMER);
        CHECK_EQ(ev.udata, udata);
        CHECK(ev.value >= 1);
        if (took < when)
            fprintf(stderr, "round %d: a %llu ns timer fired after %llu ns\n", i,
                    (unsigned long long)when, (unsigned long long)took);
        CHECK(took >= when);
        if (took - when < worst)
            worst = took - when;
        if (kind == 2)
            CHECK_EQ(evfd_ring_remove(r, udata), 0);
    }
    /* REL on CLOCK_REALTIME runs on the monotonic clock too (DESIGN §4). */
    for (int i = 0; i < 100; i++) {
        struct timespec w = {0, 20 * US};
        uint64_t armed = mono_ns();
        CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_REL, &w, 1), 0);
        CHECK_EQ(spin_for_event(r).udata, 1);
        CHECK(mono_ns() - armed >= 20 * US);
    }
    expect_quiet(r, 5);
    fprintf(stderr, "closest to early: %llu ns after the deadline\n", (unsigned long long)worst);
    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
