/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Many threads at once create, replace, close and read descriptors through
 * all three 2007 calls, and race on shared ones:
 *
 * - private descriptors (each thread its own): every call does exactly what
 *   it says (mask, interval, count, errno left alone on success, EINVAL for
 *   a timer's wrong clock with the timer unchanged);
 * - shared ones: every thread replaces the mask of one signalfd and re-arms
 *   one timerfd while others read them; every thread adds to one eventfd
 *   while a reader drains it, and the sum is exact;
 * - "chaos" numbers: threads atomically swap descriptors of every kind into
 *   a few fixed numbers with dup2() and close them, while other threads call
 *   evfd_signalfd/evfd_timerfd on those numbers: each call succeeds or fails
 *   with an errno the documentation lists (EBADF, EINVAL), never anything
 *   else, and never touches another descriptor.
 *
 * At the end no descriptor is left over. Run under ThreadSanitizer
 * (EVFD_CTEST_MODE=tsan) it must report nothing. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define ITERS 1500
#define CHAOS_BASE 500 /* far above anything the lowest-free rule hands out */
#define CHAOS_SLOTS 4
#define SENTINEL 4242

static int shared_sfd, shared_tfd, shared_efd;
static sigset_t mask_a, mask_b;
static atomic_int writers_left = THREADS;
/* Swaps (dup2/close) of one chaos number are serialised among themselves,
 * so ThreadSanitizer does not flag the test's own close-vs-dup2 race; the
 * evfd calls on those numbers take no lock and race with the swaps. */
static pthread_mutex_t swap_lock[CHAOS_SLOTS] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};

static unsigned long long bits(const sigset_t *s) {
    unsigned long long b = 0;
    for (int sig = 1; sig <= 64; sig++)
        if (sigismember(s, sig) == 1 && sig != SIGKILL && sig != SIGSTOP)
            b |= 1ull << (sig - 1);
    return b;
}

static unsigned next_rand(unsigned *state) {
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

static long interval_of(int fd) {
    struct itimerspec cur;
    CHECK_EQ(timerfd_gettime(fd, &cur), 0);
    return cur.it_interval.tv_nsec;
}

static void private_round(unsigned *rng) {
    sigset_t m;
    sigemptyset(&m);
    for (int sig = 1; sig <= 64; sig++)
        if (next_rand(rng) % 4 == 0)
            sigaddset(&m, sig);

    errno = SENTINEL;
    int sfd = evfd_signalfd(-1, &m, sizeof m);
    CHECK(sfd >= 0);
    CHECK_EQ(errno, SENTINEL);
    CHECK_EQ(fdinfo_value(sfd, "sigmask:", 16), bits(&m));
    CHECK_EQ(evfd_signalfd(sfd, &mask_a, 8), sfd);
    CHECK_EQ(fdinfo_value(sfd, "sigmask:", 16), bits(&mask_a));

    struct timespec when = {0, 1000 + next_rand(rng) % 1000000};
    int tfd = evfd_timerfd(-1, CLOCK_BOOTTIME, EVFD_TIMER_SEQ, &when);
    CHECK(tfd >= 0);
    CHECK_EQ(interval_of(tfd), when.tv_nsec);
    CHECK_ERR(evfd_timerfd(tfd, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &when), EINVAL);
    CHECK_EQ(interval_of(tfd), when.tv_nsec);
    errno = SENTINEL;
    CHECK_EQ(evfd_timerfd(tfd, CLOCK_BOOTTIME, EVFD_TIMER_REL, &when), tfd);
    CHECK_EQ(errno, SENTINEL);
    CHECK_EQ(interval_of(tfd), 0);

    unsigned count = next_rand(rng);
    int efd = evfd_eventfd(count);
    CHECK(efd >= 0);
    if (count) {
        uint64_t v;
        CHECK_EQ(read(efd, &v, sizeof v), 8);
        CHECK_EQ(v, count);
    }
    CHECK_EQ(close(sfd), 0);
    CHECK_EQ(close(tfd), 0);
    CHECK_EQ(close(efd), 0);
}

static void shared_round(unsigned *rng) {
    CHECK_EQ(evfd_signalfd(shared_sfd, next_rand(rng) % 2 ? &mask_a : &mask_b, 8), shared_sfd);
    struct timespec when = {0, next_rand(rng) % 2 ? 3000000 : 5000000};
    CHECK_EQ(evfd_timerfd(shared_tfd, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &when), shared_tfd);
    CHECK_ERR(evfd_timerfd(shared_tfd, CLOCK_REALTIME, EVFD_TIMER_SEQ, &when), EINVAL);
    uint64_t one = 1, v;
    CHECK_EQ(write(shared_efd, &one, sizeof one), 8);
    ssize_t n = read(shared_tfd, &v, sizeof v);        /* non-blocking */
    CHECK(n == 8 || (n == -1 && errno == EAGAIN));
}

static void chaos_round(unsigned *rng) {
    int slot = (int)(next_rand(rng) % CHAOS_SLOTS), target = CHAOS_BASE + slot;
    struct timespec when = {0, 1000000};
    int fd = -1, r;
    switch (next_rand(rng) % 8) {
    case 0:
        fd = evfd_signalfd(-1, &mask_a, 8);
        break;
    case 1:
        fd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &when);
        break;
    case 2:
        fd = evfd_eventfd(1);
        break;
    case 3:
        CHECK_EQ(pthread_mutex_lock(&swap_lock[slot]), 0);
        close(target);
        CHECK_EQ(pthread_mutex_unlock(&swap_lock[slot]), 0);
        return;
    case 4:
    case 5:
        errno = SENTINEL;
        r = evfd_signalfd(target, &mask_b, 8);
        if (r == -1)
            CHECK(errno == EBADF || errno == EINVAL);
        else
            CHECK(r == target && errno == SENTINEL);
        return;
    default:
        errno = SENTINEL;
        r = evfd_timerfd(target, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &when);
        if (r == -1)
            CHECK(errno == EBADF || errno == EINVAL);
        else
            CHECK(r == target && errno == SENTINEL);
        return;
    }
    CHECK(fd >= 0);
    CHECK_EQ(pthread_mutex_lock(&swap_lock[slot]), 0);
    CHECK_EQ(dup2(fd, target), target);                 /* atomic replace */
    CHECK_EQ(pthread_mutex_unlock(&swap_lock[slot]), 0);
    CHECK_EQ(close(fd), 0);
}

static void *worker(void *arg) {
    unsigned rng = (unsigned)(uintptr_t)arg * 2654435761u;
    for (int i = 0; i < ITERS; i++) {
        switch (next_rand(&rng) % 3) {
        case 0:
            private_round(&rng);
            break;
        case 1:
            chaos_round(&rng);
            break;
        default:
            break;
        }
        shared_round(&rng);                              /* once per iteration */
    }
    atomic_fetch_sub(&writers_left, 1);
    return NULL;
}

/* Drains the shared eventfd while the workers add to it. */
static void *drainer(void *arg) {
    uint64_t *sum = arg, v;
    for (;;) {
        int last = atomic_load(&writers_left) == 0;
        struct pollfd p = {.fd = shared_efd, .events = POLLIN};
        CHECK(poll(&p, 1, 10) >= 0);
        ssize_t n = read(shared_efd, &v, sizeof v);
        if (n == 8)
            *sum += v;
        else
            CHECK(n == -1 && errno == EAGAIN);
        if (last && n != 8)
            return NULL;
    }
}

int main(void) {
    sigemptyset(&mask_a);
    sigaddset(&mask_a, SIGUSR1);
    sigemptyset(&mask_b);
    sigaddset(&mask_b, SIGUSR2);
    sigaddset(&mask_b, SIGRTMIN);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask_b, NULL), 0);
    int before = count_fds();
    for (int i = 0; i < CHAOS_SLOTS; i++)
        CHECK_ERR(fcntl(CHAOS_BASE + i, F_GETFD), EBADF);

    struct timespec when = {0, 3000000};
    shared_sfd = evfd_signalfd(-1, &mask_a, 8);
    shared_tfd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &when);
    shared_efd = evfd_eventfd(0);
    CHECK(shared_sfd >= 0 && shared_tfd >= 0 && shared_efd >= 0);
    CHECK_EQ(fcntl(shared_tfd, F_SETFL, O_NONBLOCK), 0);
    CHECK_EQ(fcntl(shared_efd, F_SETFL, O_NONBLOCK), 0);

    uint64_t sum = 0;
    pthread_t threads[THREADS], drain;
    CHECK_EQ(pthread_create(&drain, NULL, drainer, &sum), 0);
    for (int t = 0; t < THREADS; t++)
        CHECK_EQ(pthread_create(&threads[t], NULL, worker, (void *)(uintptr_t)(t + 1)), 0);
    for (int t = 0; t < THREADS; t++)
        CHECK_EQ(pthread_join(threads[t], NULL), 0);
    CHECK_EQ(pthread_join(drain, NULL), 0);

    CHECK_EQ(sum, (uint64_t)THREADS * ITERS);             /* no count lost */
    unsigned long long m = fdinfo_value(shared_sfd, "sigmask:", 16);
    CHECK(m == bits(&mask_a) || m == bits(&mask_b));
    long iv = interval_of(shared_tfd);
    CHECK(iv == 3000000 || iv == 5000000);
    CHECK_EQ(fdinfo_value(shared_tfd, "clockid:", 10), CLOCK_MONOTONIC);

    close(shared_sfd);
    close(shared_tfd);
    close(shared_efd);
    for (int i = 0; i < CHAOS_SLOTS; i++)
        close(CHAOS_BASE + i);
    CHECK_NO_LEAK(before);
    return 0;
}
