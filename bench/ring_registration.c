/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ring_registration.c - what registering costs against how many sources a
 * ring already has (issue "Ring v2", item 7): add + remove, and re-arm,
 * per source, with 64 and with 65,536 sources registered. A ratio near 1
 * between the two shows that nothing scans the sources (the ring keeps
 * indexes by udata and by fd; timers are a heap, so re-arming grows with
 * log n at most).
 *
 *   make bench   (one table in bench/RESULTS.md)
 *
 * The registered sources are one-shot timers an hour away (they need no
 * descriptor, so 65,536 fit under any RLIMIT_NOFILE). Operations measured,
 * each OPS times per repetition, REPS repetitions alternating the two
 * sizes; the CPU time of the thread (CLOCK_THREAD_CPUTIME_ID) per
 * operation, median and quartiles:
 *   add_remove_timer  evfd_ring_add_timer + evfd_ring_remove of a new udata
 *   rearm_timer       evfd_ring_rearm_timer of one of the registered timers
 *                     (a later deadline each time: the heap's worst path)
 *   add_remove_fd     evfd_ring_add_fd + evfd_ring_remove of one eventfd
 *   add_remove_futex  evfd_ring_add_futex + evfd_ring_remove (a word that
 *                     never changes; on epoll the remove waits for the
 *                     helper thread, see evfd_ring(3))
 * Both backends: the program runs each with EVFD_RING_BACKEND set.
 * Output: one line per (backend, op, sources):
 *   registration backend=B op=O sources=N ns_med=.. ns_p25=.. ns_p75=..
 */
#define _GNU_SOURCE
#include <evfd.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define SMALL 64
#define LARGE 65536
#define REPS 9
#define OPS 2000

static double thread_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct ring_with {
    struct evfd_ring *ring;
    int n;
    int efd;
    uint32_t word;
    long round;
};

static void setup(struct ring_with *w, int n) {
    w->ring = evfd_ring_new(0, 0);
    if (!w->ring)
        die("evfd_ring_new");
    w->n = n;
    w->round = 0;
    w->word = 0;
    struct timespec hour = {3600, 0};
    for (int i = 0; i < n; i++)
        if (evfd_ring_add_timer(w->ring, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, (uint64_t)i) != 0)
            die("evfd_ring_add_timer");
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->efd < 0)
        die("eventfd");
}

static void teardown(struct ring_with *w) {
    evfd_ring_free(w->ring);
    close(w->efd);
}

enum op { ADD_REMOVE_TIMER, REARM_TIMER, ADD_REMOVE_FD, ADD_REMOVE_FUTEX, N_OPS };
static const char *op_name[N_OPS] = {"add_remove_timer", "rearm_timer", "add_remove_fd",
                                     "add_remove_futex"};

/* ns per operation of one repetition. */
static double run(struct ring_with *w, enum op op) {
    const uint64_t extra = 1u << 30;
    struct timespec soon = {1800, 0};
    double start = thread_ns();
    for (int i = 0; i < OPS; i++) {
        switch (op) {
        case ADD_REMOVE_TIMER:
            if (evfd_ring_add_timer(w->ring, CLOCK_MONOTONIC, EVFD_TIMER_REL, &soon, extra) != 0 ||
                evfd_ring_remove(w->ring, extra) != 0)
                die("timer add/remove");
            break;
        case REARM_TIMER: {
            /* Later each round: the re-armed timer sinks through the heap. */
            struct timespec later = {3600 + w->round, 0};
            uint64_t u = (uint64_t)((w->round * 7919 + i) % w->n);
            if (evfd_ring_rearm_timer(w->ring, u, EVFD_TIMER_REL, &later) != 0)
                die("evfd_ring_rearm_timer");
            break;
        }
        case ADD_REMOVE_FD:
            if (evfd_ring_add_fd(w->ring, w->efd, POLLIN, extra) != 0 ||
                evfd_ring_remove(w->ring, extra) != 0)
                die("fd add/remove");
            break;
        case ADD_REMOVE_FUTEX:
            if (evfd_ring_add_futex(w->ring, &w->word, 0, extra) != 0 ||
                evfd_ring_remove(w->ring, extra) != 0)
                die("futex add/remove");
            break;
        default:
            break;
        }
    }
    w->round++;
    return (thread_ns() - start) / OPS;
}

int main(void) {
    int quick = getenv("BENCH_QUICK") && strcmp(getenv("BENCH_QUICK"), "0") != 0;
    int reps = quick ? 3 : REPS;
    static const char *backends[] = {"io_uring", "epoll"};
    printf("# ring_registration: ns of thread CPU per operation, %d ops x %d reps\n", OPS, reps);
    for (int b = 0; b < 2; b++) {
        setenv("EVFD_RING_BACKEND", backends[b], 1);
        struct evfd_ring *probe = evfd_ring_new(0, 0);
        if (!probe) {
            printf("# %s backend unavailable here: skipped\n", backends[b]);
            continue;
        }
        evfd_ring_free(probe);
        struct ring_with small, large;
        setup(&small, SMALL);
        setup(&large, LARGE);
        for (int op = 0; op < N_OPS; op++) {
            double s[REPS], l[REPS];
            for (int r = 0; r < reps; r++) {
                s[r] = run(&small, (enum op)op);
                l[r] = run(&large, (enum op)op);
            }
            qsort(s, (size_t)reps, sizeof s[0], cmp);
            qsort(l, (size_t)reps, sizeof l[0], cmp);
            printf("registration backend=%s op=%s sources=%d ns_med=%.1f ns_p25=%.1f ns_p75=%.1f\n",
                   backends[b], op_name[op], SMALL, s[reps / 2], s[reps / 4], s[3 * reps / 4]);
            printf("registration backend=%s op=%s sources=%d ns_med=%.1f ns_p25=%.1f ns_p75=%.1f\n",
                   backends[b], op_name[op], LARGE, l[reps / 2], l[reps / 4], l[3 * reps / 4]);
        }
        teardown(&small);
        teardown(&large);
    }
    unsetenv("EVFD_RING_BACKEND");
    return 0;
}
