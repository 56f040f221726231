/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_eventfs_signalfd count semantics: read() of 8 bytes gives the
 * deliveries since the last read and resets to zero; EAGAIN when empty
 * with O_NONBLOCK; a blocking read waits for the next delivery; POLLIN
 * while non-zero; a short read is EINVAL. The same sequence on a kernel
 * eventfd written once per delivery gives the same answers. Several fds
 * for one signal each count every delivery, and a signal blocked in every
 * thread stays pending, uncounted, until it is unblocked. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The same observations on the eventfs fd and on the kernel reference. */
static void check_same(int fd, int kfd, uint64_t expected) {
    uint64_t a = 0, b = 0;
    CHECK_EQ(poll_in(fd, 0), expected != 0);
    CHECK_EQ(poll_in(kfd, 0), expected != 0);
    CHECK_EQ(fdinfo_value(fd, "eventfd-count:", 16), expected);
    CHECK_ERR(read(fd, &a, 4), EINVAL);
    CHECK_ERR(read(kfd, &b, 4), EINVAL);
    if (expected == 0) {
        CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        CHECK_EQ(fcntl(kfd, F_SETFL, O_NONBLOCK), 0);
        CHECK_ERR(read(fd, &a, sizeof a), EAGAIN);
        CHECK_ERR(read(kfd, &b, sizeof b), EAGAIN);
        CHECK_EQ(fcntl(fd, F_SETFL, 0), 0);
        CHECK_EQ(fcntl(kfd, F_SETFL, 0), 0);
        return;
    }
    CHECK_EQ(read(fd, &a, sizeof a), 8);
    CHECK_EQ(read(kfd, &b, sizeof b), 8);
    CHECK_EQ(a, expected);
    CHECK_EQ(b, expected);
    CHECK(!poll_in(fd, 0));
    CHECK(!poll_in(kfd, 0));
}

static void deliver(int sig, int kfd, int times) {
    uint64_t one = 1;
    for (int i = 0; i < times; i++) {
        CHECK_EQ(raise(sig), 0);
        CHECK_EQ(write(kfd, &one, sizeof one), 8);
    }
}

static int late_sig;
static void *send_later(void *arg) {
    (void)arg;
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK_EQ(kill(getpid(), late_sig), 0);
    return NULL;
}

static void check_counts(int sig, int flags) {
    int before = count_fds();
    int fd = evfd_eventfs_signalfd(sig, flags);
    CHECK(fd >= 0);
    int kfd = (int)syscall(SYS_eventfd2, 0, 0);
    CHECK(kfd >= 0);
    check_same(fd, kfd, 0);
    deliver(sig, kfd, 1);
    check_same(fd, kfd, 1);
    deliver(sig, kfd, 3);
    check_same(fd, kfd, 3);            /* nothing lost, nothing merged */
    check_same(fd, kfd, 0);            /* the read reset it */

    /* A blocking read waits for a delivery from another thread. */
    pthread_t t;
    late_sig = sig;
    CHECK_EQ(pthread_create(&t, NULL, send_later, NULL), 0);
    uint64_t v = 0;
    ssize_t got;
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer runs handlers late, in its next blocking interceptor,
     * and read() is not one: poll() first so the count can arrive. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 100) == 0 || (p.revents & POLLIN) == 0)
        ;
#endif
    do
        got = read(fd, &v, sizeof v);
    while (got < 0 && errno == EINTR);
    CHECK_EQ(got, 8);
    CHECK_EQ(v, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);

    /* Several fds for one signal each count every delivery. */
    int fd2 = evfd_eventfs_signalfd(sig, 0);
    int fd3 = evfd_eventfs_signalfd(sig, flags);
    CHECK(fd2 >= 0 && fd3 >= 0);
    deliver(sig, kfd, 5);
    check_same(fd2, kfd, 5);
    CHECK_EQ(fdinfo_value(fd, "eventfd-count:", 16), 5);
    CHECK_EQ(fdinfo_value(fd3, "eventfd-count:", 16), 5);
    close(fd2);
    deliver(sig, kfd, 2);
    CHECK_EQ(fdinfo_value(fd, "eventfd-count:", 16), 7);
    CHECK_EQ(fdinfo_value(fd3, "eventfd-count:", 16), 7);
    close(fd3);

    /* Blocked in every thread (this is the only one): pending, not counted. */
    sigset_t only, old;
    sigemptyset(&only);
    sigaddset(&only, sig);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &only, &old), 0);
    CHECK_EQ(raise(sig), 0);
    CHECK_EQ(fdinfo_value(fd, "eventfd-count:", 16), 7);
    sigset_t pending;
    CHECK_EQ(sigpending(&pending), 0);
    CHECK(sigismember(&pending, sig));
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);   /* delivered now */
    CHECK_EQ(fdinfo_value(fd, "eventfd-count:", 16), 8);

    close(fd);
    close(kfd);
    (void)evfd_eventfs_signalfd(0, 0);     /* reclaim */
    CHECK_NO_LEAK(before);
}

int main(void) {
    /* Counted whatever the disposition: chained over SIG_IGN, exclusive
     * over SIG_DFL (would terminate), and a real-time signal both ways. */
    signal(SIGUSR1, SIG_IGN);
    check_counts(SIGUSR1, 0);
    check_counts(SIGUSR2, 1);
    check_counts(SIGRTMIN + 3, 1);
    signal(SIGRTMIN + 4, SIG_IGN);
    check_counts(SIGRTMIN + 4, 0);
    return 0;
}
