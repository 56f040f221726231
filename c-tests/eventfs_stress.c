/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Deliveries racing with evfd_eventfs_signalfd() and close() on other
 * threads neither crash nor miscount nor write into a stranger's file:
 * - a long-lived chained fd counts exactly the deliveries sent (the
 *   program's handler runs for those no racing exclusive fd took), while
 * - racing threads keep registering, reading and closing fds for the same
 *   signals (chained and exclusive), and after each close open an eventfd
 *   that usually takes the old number, which must never receive a count.
 * Deliveries happen in the receiving thread's ppoll() (the signal is
 * blocked elsewhere), so the handler runs while the registry changes under
 * it. Also meant for EVFD_CTEST_MODE=tsan and valgrind. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RACERS 3

static int total = 4000;
static int rounds = 400;
static atomic_int handler_calls;
static atomic_int done_sending;
static int sig;

static void on_sig(int s) {
    (void)s;
    atomic_fetch_add(&handler_calls, 1);
}

static void *sender(void *arg) {
    (void)arg;
    pid_t self = getpid();
    for (int i = 0; i < total; i++) {
        union sigval v = {.sival_int = i};
        while (sigqueue(self, sig, v) != 0) {
            CHECK_EQ(errno, EAGAIN);
            struct timespec pause = {0, 100 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    atomic_store(&done_sending, 1);
    return NULL;
}

static void *racer(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < rounds; i++) {
        int exclusive = (i + id) % 4 == 0;
        int fd = evfd_eventfs_signalfd(sig, exclusive);
        CHECK(fd >= 0);
        if (i % 3 == 0) {
            uint64_t v;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 0) == 1) {
                CHECK_EQ(read(fd, &v, sizeof v), 8);
                CHECK(v >= 1 && v <= (uint64_t)total);
            }
        }
        CHECK_EQ(close(fd), 0);
        /* Most often takes the number just closed. */
        int stranger = eventfd(0, EFD_NONBLOCK);
        CHECK(stranger >= 0);
        for (int k = 0; k < 3; k++)
            sched_yield();
        uint64_t v = 0;
        CHECK_ERR(read(stranger, &v, sizeof v), EAGAIN);
        close(stranger);
    }
    return NULL;
}

int main(void) {
    /* valgrind runs threads one at a time: less of everything there. */
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) {
        total = 1000;
        rounds = 100;
    }
    sig = SIGRTMIN + 1;
    int before = count_fds();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    CHECK_EQ(sigaction(sig, &sa, NULL), 0);
    sigset_t blocked, unblocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, sig);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &blocked, &unblocked), 0);
    sigdelset(&unblocked, sig);

    int fd = evfd_eventfs_signalfd(sig, 0);
    CHECK(fd >= 0);
    pthread_t send, race[RACERS];
    for (int i = 0; i < RACERS; i++)
        CHECK_EQ(pthread_create(&race[i], NULL, racer, (void *)(intptr_t)i), 0);
    CHECK_EQ(pthread_create(&send, NULL, sender, NULL), 0);

    uint64_t counted = 0;
    int idle = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct timespec wait = {0, 200 * 1000 * 1000};
    for (;;) {
        int n = ppoll(&p, 1, &wait, &unblocked);
        if (n < 0) {
            CHECK_EQ(errno, EINTR);
            idle = 0;
            continue;
        }
        if (n > 0) {
            uint64_t v;
            CHECK_EQ(read(fd, &v, sizeof v), 8);
            counted += v;
            idle = 0;
            continue;
        }
        if (atomic_load(&done_sending) && ++idle >= 10)
            break;                          /* sent all, then 2 s of quiet */
        if (!atomic_load(&done_sending) && ++idle > 600)
            break;                          /* two minutes stuck: fail below */
    }
    CHECK_EQ(pthread_join(send, NULL), 0);
    for (int i = 0; i < RACERS; i++)
        CHECK_EQ(pthread_join(race[i], NULL), 0);
    /* Exclusive racers swallowed some deliveries from the handler, never
     * from the long-lived fd. */
    CHECK_EQ(counted, (uint64_t)total);
    CHECK(atomic_load(&handler_calls) <= total);
    CHECK(atomic_load(&handler_calls) > 0);

    close(fd);
    (void)evfd_eventfs_signalfd(0, 0);
    CHECK_NO_LEAK(before);
    struct sigaction now;
    memset(&now, 0, sizeof now);
    CHECK_EQ(sigaction(sig, NULL, &now), 0);
    CHECK(now.sa_handler == on_sig);
    return 0;
}
