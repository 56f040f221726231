/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A multi-threaded program built against plain glibc: threads start first,
 * then all of them at once create and use glibc-style signalfds (with
 * flags), eventfds and timerfds, and 2007-style signalfds (third argument
 * = sizeof(sigset_t)). With LD_PRELOAD=libevfd.so every glibc-style call
 * behaves as without it, and the 2007 calls, refused by glibc, work. */
/* evfd-test: no-link */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS 200

static int preloaded;
static pthread_barrier_t start;

static void *worker(void *arg) {
    sigset_t mask;
    int i;
    (void)arg;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGRTMIN + 1);
    pthread_barrier_wait(&start);
    for (i = 0; i < ROUNDS; i++) {
        uint64_t v = 0;
        struct itimerspec its = {{0, 0}, {0, 1}};
        int s = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        int e = eventfd(2, EFD_CLOEXEC);
        int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        int old;
        CHECK(s >= 0 && e >= 0 && t >= 0);
        CHECK_EQ(fcntl(s, F_GETFD), FD_CLOEXEC);
        CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
        CHECK_ERR(read(s, &v, sizeof v), EINVAL); /* smaller than one record */
        CHECK_EQ(signalfd(s, &mask, 0), s);
        CHECK_EQ(read(e, &v, sizeof v), 8);
        CHECK_EQ(v, 2);
        CHECK_EQ(timerfd_settime(t, 0, &its, NULL), 0);
        CHECK_EQ(read(t, &v, sizeof v), 8);
        CHECK(v >= 1);
        /* The 2007 call: glibc reads 128 as bad flags. */
        errno = 0;
        old = signalfd(-1, &mask, (int)sizeof(sigset_t));
        if (preloaded) {
            CHECK(old >= 0);
            CHECK_EQ(fcntl(old, F_GETFD), 0);
            CHECK_EQ(fcntl(old, F_GETFL) & O_NONBLOCK, 0);
            CHECK_EQ(signalfd(old, &mask, 8), old);
            close(old);
        } else {
            CHECK_EQ(old, -1);
            CHECK_EQ(errno, EINVAL);
        }
        close(s);
        close(e);
        close(t);
    }
    return NULL;
}

int main(void) {
    pthread_t th[THREADS];
    int before = count_fds();
    int i;
    sigset_t mask;

    preloaded = getenv("EVFD_TEST_PRELOADED") != NULL;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGRTMIN + 1);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &mask, NULL), 0);
    CHECK_EQ(pthread_barrier_init(&start, NULL, THREADS + 1), 0);
    for (i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, worker, NULL), 0);
    pthread_barrier_wait(&start);
    for (i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    CHECK_NO_LEAK(before);
    return 0;
}
