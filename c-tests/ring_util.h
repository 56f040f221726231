/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ring_util.h - helpers shared by the ring_*.c tests. */
#ifndef EVFD_RING_UTIL_H
#define EVFD_RING_UTIL_H

#include "check.h"
#include <evfd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(sizeof(struct evfd_event) == 64, "struct evfd_event is 64 bytes");
_Static_assert(_Alignof(struct evfd_event) == 8, "struct evfd_event is 8-byte aligned");

/* A ring on the backend the runner forced (EVFD_RING_BACKEND), checked. */
static inline struct evfd_ring *new_ring(unsigned entries) {
    struct evfd_ring *r = evfd_ring_new(entries, 0);
    const char *want = getenv("EVFD_RING_BACKEND");
    CHECK(r != NULL);
    if (want && *want)
        CHECK(strcmp(evfd_ring_backend(r), want) == 0);
    return r;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t mono_ns(void) {
    struct timespec t;
    CHECK_EQ(clock_gettime(CLOCK_MONOTONIC, &t), 0);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Sleeps `ms` milliseconds, resuming after signal handlers. */
static inline void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* valgrind runs the program with its preload library in LD_PRELOAD. */
static inline int under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}

static inline int is_epoll(struct evfd_ring *r) {
    return strcmp(evfd_ring_backend(r), "epoll") == 0;
}

/* valgrind 3.19 does not know futex_waitv (syscall 449): under it the
 * epoll backend's futex waits fail with ENOSYS, the documented answer where
 * the kernel lacks the call. Whether futex waits can be tested here. */
static inline int futex_waits_testable(struct evfd_ring *r) {
    if (!(under_valgrind() && is_epoll(r)))
        return 1;
    static uint32_t probe = 1;
    if (evfd_ring_add_futex(r, &probe, 0, UINT64_MAX) == 0) {
        CHECK_EQ(evfd_ring_remove(r, UINT64_MAX), 0);
        return 1;
    }
    CHECK_EQ(errno, ENOSYS);
    return 0;
}

/* Waits for up to `max` events, generously (20 s: the machine is shared),
 * in slices of 50 ms: valgrind 3.19 holds its global lock while a thread is
 * in io_uring_enter, so other threads of the test (producers, wakers) only
 * run between waits there. */
static inline int wait_events(struct evfd_ring *r, struct evfd_event *out, unsigned max) {
    struct timespec slice = {0, 50 * 1000 * 1000};
    int n = 0;
    for (int i = 0; i < 400 && n == 0; i++) {
        n = evfd_ring_wait(r, out, max, &slice);
        if (n < 0 && errno == EINTR)
            n = 0;
        CHECK(n >= 0);
    }
    return n;
}

/* Waits for one event (see wait_events); a failure names the caller's line. */
#define next_event(r) next_event_at((r), __LINE__)
static inline struct evfd_event next_event_at(struct evfd_ring *r, int line) {
    struct evfd_event ev;
    memset(&ev, 0xa5, sizeof ev);
    int n = wait_events(r, &ev, 1);
    if (n != 1)
        fprintf(stderr, "no event for the wait at line %d\n", line);
    CHECK_EQ(n, 1);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(ev.reserved[i], 0);
    return ev;
}

/* No event becomes pending within `ms` milliseconds. */
static inline void expect_quiet(struct evfd_ring *r, long ms) {
    struct evfd_event ev;
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    int n = evfd_ring_wait(r, &ev, 1, &t);
    if (n != 0)
        fprintf(stderr, "unexpected event kind %u udata %llu error %d\n", ev.kind,
                (unsigned long long)ev.udata, ev.error);
    CHECK_EQ(n, 0);
}

#endif
