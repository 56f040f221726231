/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Nothing is lost when queues overflow: a ring made with a tiny queue
 * (entries = 1) gets thousands of one-shot timers due at once (user-space
 * timers, delivered 16 at a time), then hundreds of eventfds written at
 * once, whose completions overflow the kernel's completion queue on
 * io_uring (its multishot reads are ended by the kernel when the queue is
 * full), and every one arrives as an event, or a loss is reported as an
 * event with error EOVERFLOW (which would fail this test: the kernel keeps
 * overflowed completions, and the ring must take them all back). */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#define TIMERS 3000
#define COUNTERS 300

static unsigned char seen[TIMERS];

/* Entries of the "CqOverflowList:" section of an io_uring's fdinfo. */
static int overflowed(int ring_fd) {
    char path[64], line[256];
    int in_list = 0, n = 0;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", ring_fd);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "CqOverflowList:", 15) == 0)
            in_list = 1;
        else if (in_list && strstr(line, "user_data="))
            n++;
        else if (in_list)
            in_list = 0;
    }
    fclose(f);
    return n;
}

int main(void) {
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 2 * TIMERS && rl.rlim_max > rl.rlim_cur) {
        rl.rlim_cur = rl.rlim_max < 4 * TIMERS ? rl.rlim_max : 4 * TIMERS;
        CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    int before = count_fds();
    struct evfd_ring *r = new_ring(1);
    int timers = TIMERS;

    struct timespec due = {0, 1};
    for (int i = 0; i < timers; i++)
        CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &due, (uint64_t)i), 0);
    /* Let them all expire before looking. */
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    int got = 0;
    struct evfd_event ev[16];
    while (got < timers) {
        struct timespec to = {20, 0};
        int n = evfd_ring_wait(r, ev, 16, &to);
        CHECK(n > 0);
        for (int i = 0; i < n; i++) {
            CHECK_EQ(ev[i].error, 0);
            CHECK_EQ(ev[i].kind, EVFD_KIND_TIMER);
            CHECK(ev[i].udata < (uint64_t)timers);
            CHECK_EQ(seen[ev[i].udata], 0);
            seen[ev[i].udata] = 1;
            got++;
        }
    }
    expect_quiet(r, 100);

    /* Multishot polls through a full queue: every count still arrives. */
    int fds[COUNTERS];
    uint64_t sums[COUNTERS] = {0};
    for (int i = 0; i < COUNTERS; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC);
        CHECK(fds[i] >= 0);
        CHECK_EQ(evfd_ring_add_fd(r, fds[i], POLLIN, 100000 + (uint64_t)i), 0);
    }
    for (int round = 1; round <= 3; round++) {
        for (uint64_t i = 0; i < COUNTERS; i++) {
            uint64_t v = i + 1;
            CHECK_EQ(write(fds[i], &v, 8), 8);
        }
        /* The test is about overflow: on io_uring the kernel must really
         * be holding completions that did not fit (its fdinfo lists them). */
        if (!is_epoll(r) && round == 1)
            CHECK(overflowed(evfd_ring_fd(r)) > 0);
        uint64_t want = 0, total = 0;
        for (uint64_t i = 0; i < COUNTERS; i++)
            want += (i + 1) * (uint64_t)round;
        for (int i = 0; i < COUNTERS; i++)
            total += sums[i];
        while (total < want) {
            struct timespec to = {20, 0};
            int n = evfd_ring_wait(r, ev, 16, &to);
            CHECK(n > 0);
            for (int i = 0; i < n; i++) {
                CHECK_EQ(ev[i].error, 0);
                CHECK_EQ(ev[i].kind, EVFD_KIND_FD);
                sums[ev[i].udata - 100000] += ev[i].value;
                total += ev[i].value;
            }
        }
        CHECK_EQ(total, want);
    }
    for (int i = 0; i < COUNTERS; i++) {
        CHECK_EQ(sums[i], 3 * (uint64_t)(i + 1));
        CHECK_EQ(evfd_ring_remove(r, 100000 + (uint64_t)i), 0);
        close(fds[i]);
    }
    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
