/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Signal storms into eventfs descriptors from 3 threads and a child
 * process at once:
 * - realtime (queued): an exclusive descriptor counts every signal sent,
 *   exactly (EVFD_STORM_SIGNALS in all, default 8000, 2000 under
 *   EVFD_CTEST_MODE; `make stress` sends 1,000,000; under TSan, whose
 *   runtime merges pending signals, bounds only);
 * - standard (SIGURG, merged by the kernel while pending), free running: a
 *   chained descriptor counts every delivery, which is at least 1 and at
 *   most the number sent; the program's handler runs exactly as often as
 *   evfd counted (eventfs counts handler runs, so POSIX coalescing applies
 *   as for any handler);
 * - standard in lock step (each sender waits until its signal was counted
 *   before sending the next): exact.
 * Deliveries happen in the main thread (the senders block the signals), so
 * the handler runs while the main thread polls and reads. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define SENDERS 3

static long per_sender;
static int sig;
static pid_t target;
static atomic_long handler_runs;
static atomic_long counted_total; /* lock-step: what the reader has seen */
static atomic_int lockstep;

static void on_urg(int s) {
    (void)s;
    atomic_fetch_add(&handler_runs, 1);
}

static void block_storm_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 7);
    sigaddset(&set, SIGURG);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
}

static void send_n(long n) {
    union sigval v;
    v.sival_int = 0;
    for (long i = 0; i < n;) {
        if (sigqueue(target, sig, v) == 0) {
            i++;
            if (atomic_load(&lockstep)) /* wait for the reader to count it */
                while (atomic_load(&counted_total) < i)
                    sched_yield();
        } else {
            CHECK_EQ(errno, EAGAIN); /* realtime queue full: let it drain */
            sched_yield();
        }
    }
}

static void *sender(void *arg) {
    (void)arg;
    block_storm_signals();
    send_n(per_sender);
    return NULL;
}

/* Reads `fd` until it has counted `want` (or, with want < 0, until every
 * sender is done and nothing more comes); returns the total. */
static long drain(int fd, long want, pthread_t *threads, int nthreads) {
    long total = 0;
    if (want < 0) /* free running: let every sender finish first */
        for (int i = 0; i < nthreads; i++)
            CHECK_EQ(pthread_join(threads[i], NULL), 0);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, want < 0 ? 200 : 60000);
        if (r < 0) {
            CHECK_EQ(errno, EINTR); /* a handler ran during poll */
            continue;
        }
        if (r == 0) {
            if (want < 0)
                break;
            CHECK(!"no delivery for 60 s");
        }
        uint64_t v;
        CHECK_EQ(read(fd, &v, sizeof v), (ssize_t)sizeof v);
        total += (long)v;
        atomic_store(&counted_total, total);
        if (want >= 0 && total >= want)
            break;
    }
    if (want >= 0)
        for (int i = 0; i < nthreads; i++)
            CHECK_EQ(pthread_join(threads[i], NULL), 0);
    return total;
}

/* One storm: 3 threads of this process and a child process send
 * `per_sender` signals each. */
static long storm(int fd, long want, int with_child) {
    pthread_t threads[SENDERS];
    target = getpid();
    pid_t child = -1;
    /* The child first, while this process has one thread (a fork from a
     * multi-threaded process upsets ThreadSanitizer's child). */
    if (with_child) {
        child = fork();
        CHECK(child >= 0);
        if (child == 0) {
            block_storm_signals();
            send_n(per_sender);
            _exit(0);
        }
    }
    for (int i = 0; i < SENDERS; i++)
        CHECK_EQ(pthread_create(&threads[i], NULL, sender, NULL), 0);
    if (with_child && want < 0) {
        int status;
        CHECK_EQ(waitpid(child, &status, 0), child);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    long total = drain(fd, want, threads, SENDERS);
    if (with_child && want >= 0) {
        int status;
        CHECK_EQ(waitpid(child, &status, 0), child);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    return total;
}

int main(void) {
    long n = 8000;
    const char *env = getenv("EVFD_STORM_SIGNALS");
    if (env)
        n = atol(env);
    else if (getenv("EVFD_CTEST_MODE"))
        n = 2000; /* sanitizers and valgrind tools are slower */
    per_sender = n / (SENDERS + 1);
    long sent = per_sender * (SENDERS + 1);
    int before = count_fds();

    /* Realtime, exclusive: exact. */
    sig = SIGRTMIN + 7;
    int rt = evfd_eventfs_signalfd(sig, 1);
    CHECK(rt >= 0);
    const char *mode = getenv("EVFD_CTEST_MODE");
    if (mode && strcmp(mode, "tsan") == 0) {
        /* ThreadSanitizer's runtime defers every handler and keeps one
         * pending instance per signal number and thread, so it merges
         * realtime signals before evfd's handler sees them: bounds only. */
        long got_rt = storm(rt, -1, 1);
        CHECK(got_rt >= 1 && got_rt <= sent);
    } else {
        CHECK_EQ(storm(rt, sent, 1), sent);
    }
    struct pollfd late = {rt, POLLIN, 0};
    CHECK_EQ(poll(&late, 1, 100), 0); /* nothing counted twice */
    close(rt);

    /* Standard, chained over a handler, free running: bounds. */
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_urg;
    act.sa_flags = SA_RESTART;
    CHECK_EQ(sigaction(SIGURG, &act, NULL), 0);
    sig = SIGURG;
    int urg = evfd_eventfs_signalfd(SIGURG, 0);
    CHECK(urg >= 0);
    long got = storm(urg, -1, 1);
    CHECK(got >= 1 && got <= sent);
    CHECK_EQ(atomic_load(&handler_runs), got);
    printf("standard free-running: %ld of %ld counted (coalesced: %ld)\n", got, sent, sent - got);

    /* Standard in lock step (threads only: they share counted_total): exact. */
    atomic_store(&lockstep, 1);
    per_sender = n / (SENDERS + 1) / 10 + 1; /* one round trip each */
    atomic_store(&counted_total, 0);
    atomic_store(&handler_runs, 0);
    pthread_t one[1];
    long step_sent = per_sender;
    CHECK_EQ(pthread_create(&one[0], NULL, sender, NULL), 0);
    CHECK_EQ(drain(urg, step_sent, one, 1), step_sent);
    CHECK_EQ(atomic_load(&handler_runs), step_sent);
    close(urg);
    CHECK_ERR(evfd_eventfs_signalfd(0, 0), EINVAL); /* reclaims */
    CHECK_NO_LEAK(before);
    return 0;
}
