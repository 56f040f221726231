/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A removed pending timer never fires, not even once its source slot has
 * been reused. The ring keeps a timer's heap position in the timer's source
 * slot, so a timer must leave its heap before its slot is freed; a heap
 * entry left behind would fire the slot's next owner, early. 200 timers,
 * every other one removed, 100 new far-off timers added (into the freed
 * slots): exactly the 100 kept ones fire, once each, and the new ones are
 * all still pending and can be re-armed and removed. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"

enum { N = 200 };

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    struct timespec soon = {0, 30 * 1000 * 1000};
    struct timespec later = {3600, 0};
    for (uint64_t i = 0; i < N; i++)
        CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &soon, 1 + i), 0);
    for (uint64_t i = 0; i < N; i += 2)
        CHECK_EQ(evfd_ring_remove(r, 1 + i), 0);
    for (uint64_t i = 0; i < N / 2; i++)
        CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &later, 1000 + i), 0);

    int seen[N] = {0};
    int got = 0;
    struct evfd_event ev[64];
    while (got < N / 2) {
        int n = wait_events(r, ev, 64);
        CHECK(n > 0);
        for (int k = 0; k < n; k++) {
            uint64_t u = ev[k].udata;
            if (!(u >= 1 && u <= N && u % 2 == 0))
                fprintf(stderr, "event for udata %llu\n", (unsigned long long)u);
            CHECK_EQ(ev[k].kind, EVFD_KIND_TIMER);
            CHECK(u >= 1 && u <= N && u % 2 == 0);
            CHECK_EQ(seen[u - 1], 0);
            seen[u - 1] = 1;
            got++;
        }
    }
    expect_quiet(r, 100);
    for (uint64_t i = 0; i < N / 2; i++) {
        CHECK_EQ(evfd_ring_rearm_timer(r, 1000 + i, EVFD_TIMER_REL, &later), 0);
        CHECK_EQ(evfd_ring_remove(r, 1000 + i), 0);
    }
    CHECK_ERR(evfd_ring_remove(r, 1000), ENOENT);
    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
