/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Nothing is lost under load: 20,000 sigqueue(SIGRTMIN) from another
 * thread are all counted, exactly, by an evfd_eventfs_signalfd fd (chained
 * over a handler, which also runs exactly 20,000 times). The signal is
 * blocked everywhere except inside the receiving thread's ppoll(), so each
 * delivery runs the handler in that thread (also under sanitizers that
 * defer signals outside blocking calls). */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define TOTAL 20000

static atomic_int handler_calls;
static void on_rt(int sig) {
    (void)sig;
    atomic_fetch_add(&handler_calls, 1);
}

static int sig;

static void *sender(void *arg) {
    (void)arg;
    pid_t self = getpid();
    for (int i = 0; i < TOTAL; i++) {
        union sigval v = {.sival_int = i};
        while (sigqueue(self, sig, v) != 0) {
            CHECK_EQ(errno, EAGAIN);     /* the queue is full: let it drain */
            struct timespec pause = {0, 100 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

int main(void) {
    sig = SIGRTMIN;
    int before = count_fds();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_rt;
    CHECK_EQ(sigaction(sig, &sa, NULL), 0);
    sigset_t blocked, unblocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, sig);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &blocked, &unblocked), 0);
    sigdelset(&unblocked, sig);

    int fd = evfd_eventfs_signalfd(sig, 0);
    CHECK(fd >= 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, sender, NULL), 0);

    uint64_t counted = 0;
    int idle = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct timespec wait = {1, 0};
    /* Until everything arrived and a generous quiet spell shows no more. */
    while (idle < 5) {
        int n = ppoll(&p, 1, &wait, &unblocked);
        if (n < 0) {
            CHECK_EQ(errno, EINTR);
            idle = 0;
            continue;
        }
        if (n == 0) {
            if (counted >= TOTAL)
                idle++;
            else if (++idle > 60)
                break;                   /* a minute without progress */
            continue;
        }
        uint64_t v;
        CHECK_EQ(read(fd, &v, sizeof v), 8);
        counted += v;
        idle = 0;
    }
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(counted, TOTAL);
    CHECK_EQ(atomic_load(&handler_calls), TOTAL);
    close(fd);
    (void)evfd_eventfs_signalfd(0, 0);
    CHECK_NO_LEAK(before);
    return 0;
}
