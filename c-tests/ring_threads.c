/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Posts from many threads race with a single consumer that keeps changing
 * the ring: adding and removing fd, timer and signal sources (some with the
 * same udata the posters use), peeking with small buffers and waiting. Every
 * post arrives exactly once and in each thread's order (remove never eats a
 * post), no event comes for a source after its removal, and the run is
 * clean under ThreadSanitizer, helgrind and drd. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#define POSTERS 6
#define SHARED_UDATA 5 /* posters and consumer sources both use it */

static struct evfd_ring *ring;
static long per_thread;
static atomic_int done_posters;

static void *poster(void *arg) {
    uint64_t t = (uint64_t)(uintptr_t)arg;
    for (long i = 0; i < per_thread; i++) {
        uint64_t udata = (i % 3 == 0) ? SHARED_UDATA : 100 + t;
        CHECK_EQ(evfd_ring_post(ring, udata, (t << 32) | (uint64_t)i), 0);
        if (i % 64 == 0)
            sched_yield();
    }
    atomic_fetch_add(&done_posters, 1);
    return NULL;
}

static long next[POSTERS];
static long received;
/* Sources live right now, by udata (SHARED_UDATA, 10, 11, 12). */
static int live[16];

static void take(struct evfd_event *ev, int n) {
    for (int i = 0; i < n; i++) {
        for (int b = 0; b < 16; b++)
            CHECK_EQ(ev[i].reserved[b], 0);
        if (ev[i].kind == EVFD_KIND_USER) {
            int t = (int)(ev[i].value >> 32);
            long seq = (long)(ev[i].value & 0xffffffffu);
            CHECK(t >= 0 && t < POSTERS);
            CHECK_EQ(seq, next[t]);
            CHECK_EQ(ev[i].udata, (seq % 3 == 0) ? SHARED_UDATA : 100 + (uint64_t)t);
            next[t]++;
            received++;
            continue;
        }
        CHECK_EQ(ev[i].error, 0);
        CHECK(ev[i].udata < 16);
        if (!live[ev[i].udata])
            fprintf(stderr, "event kind %u for removed udata %llu\n", ev[i].kind,
                    (unsigned long long)ev[i].udata);
        CHECK(live[ev[i].udata]);
    }
}

int main(void) {
    per_thread = under_valgrind() ? 300 : 4000;
    int before = count_fds();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGURG);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(write(p[1], "x", 1), 1); /* p[0] stays readable: level events */

    ring = new_ring(16);
    pthread_t th[POSTERS];
    for (int t = 0; t < POSTERS; t++)
        CHECK_EQ(pthread_create(&th[t], NULL, poster, (void *)(uintptr_t)t), 0);

    struct evfd_event ev[8];
    struct timespec tick = {0, 2 * 1000 * 1000}, zero = {0, 0};
    long total = per_thread * POSTERS;
    for (unsigned round = 0; received < total; round++) {
        switch (round % 8) {
        case 0:
            CHECK_EQ(evfd_ring_add_fd(ring, p[0], POLLIN, SHARED_UDATA), 0);
            live[SHARED_UDATA] = 1;
            break;
        case 1:
            CHECK_EQ(evfd_ring_add_timer(ring, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &tick, 10), 0);
            live[10] = 1;
            break;
        case 2:
            CHECK_EQ(evfd_ring_add_signal(ring, SIGURG, 11), 0);
            live[11] = 1;
            raise(SIGURG);
            break;
        case 3:
            CHECK_EQ(evfd_ring_remove(ring, SHARED_UDATA), 0);
            live[SHARED_UDATA] = 0;
            break;
        case 4:
            CHECK_EQ(evfd_ring_remove(ring, 10), 0);
            live[10] = 0;
            break;
        case 5:
            CHECK_EQ(evfd_ring_remove(ring, 11), 0);
            live[11] = 0;
            CHECK_ERR(evfd_ring_remove(ring, 12), ENOENT);
            break;
        default:
            break;
        }
        int n = (round % 2) ? evfd_ring_peek(ring, ev, 1 + round % 8)
                            : evfd_ring_wait(ring, ev, 1 + round % 8, &zero);
        CHECK(n >= 0);
        take(ev, n);
        if (n == 0 && atomic_load(&done_posters) < POSTERS)
            sched_yield();
        if (n == 0 && atomic_load(&done_posters) == POSTERS) {
            /* Everything is posted: wait for the rest without churn. */
            for (int u = 0; u < 16; u++)
                if (live[u]) {
                    CHECK_EQ(evfd_ring_remove(ring, (uint64_t)u), 0);
                    live[u] = 0;
                }
            struct evfd_event rest[64];
            while (received < total) {
                int k = wait_events(ring, rest, 64);
                CHECK(k > 0);
                take(rest, k);
            }
        }
    }
    for (int t = 0; t < POSTERS; t++) {
        CHECK_EQ(pthread_join(th[t], NULL), 0);
        CHECK_EQ(next[t], per_thread);
    }
    for (int u = 0; u < 16; u++)
        if (live[u])
            CHECK_EQ(evfd_ring_remove(ring, (uint64_t)u), 0);
    for (int u = 0; u < 16; u++)
        live[u] = 0;
    expect_quiet(ring, 50); /* nothing duplicated, nothing from removed sources */
    evfd_ring_free(ring);
    /* Take the SIGURGs the ring did not (sent while no source listened). */
    struct timespec none = {0, 0};
    while (sigtimedwait(&mask, NULL, &none) > 0) {
    }
    close(p[0]);
    close(p[1]);
    CHECK_NO_LEAK(before);
    return 0;
}
