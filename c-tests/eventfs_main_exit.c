/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_eventfs_signalfd keeps working after the main thread has called
 * pthread_exit(): deliveries taken by the remaining thread are counted,
 * and a closed registration is still recognised as closed (evfd compares
 * descriptors in the fd table of the thread it runs on, not of the
 * process's first thread, which is gone). */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int fd, other;

static void *survivor(void *arg) {
    (void)arg;
    /* Let the main thread finish exiting first. */
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(raise(SIGUSR1), 0);
    uint64_t v = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 10000), 1);          /* fail, don't hang */
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    CHECK_EQ(v, 3);
    /* Close one registration; put a stranger on its number. */
    int stranger = eventfd(0, EFD_NONBLOCK);
    CHECK(stranger >= 0);
    CHECK_EQ(close(fd), 0);
    CHECK_EQ(dup2(stranger, fd), fd);
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_ERR(read(stranger, &v, sizeof v), EAGAIN);
    CHECK_EQ(read(other, &v, sizeof v), 8);
    CHECK_EQ(v, 4);
    /* And an evfd call reclaims it, while `other` keeps counting. */
    int e = evfd_eventfd(0);
    CHECK(e >= 0);
    close(e);
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(read(other, &v, sizeof v), 8);
    CHECK_EQ(v, 1);
    CHECK_ERR(read(stranger, &v, sizeof v), EAGAIN);
    exit(0);
}

int main(void) {
    signal(SIGUSR1, SIG_IGN);
    fd = evfd_eventfs_signalfd(SIGUSR1, 1);
    other = evfd_eventfs_signalfd(SIGUSR1, 0);
    CHECK(fd >= 0 && other >= 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, survivor, NULL), 0);
    pthread_exit(NULL);
}
