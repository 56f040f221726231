/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A program written against the 2007 article and built against plain glibc
 * (no evfd headers, no -levfd): it declares the 2007 prototype itself and
 * calls signalfd(-1, &mask, sizeof mask). On its own, glibc reads the third
 * argument as flags and the call fails with EINVAL; run with
 * LD_PRELOAD=libevfd.so the same binary gets a working signalfd and
 * receives its signal through it, and `timerfd` appears. */
/* evfd-test: no-link -ldl */
#define _GNU_SOURCE
#include "check.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

/* Davide Libenzi, March 2007. */
int signalfd(int ufd, const sigset_t *mask, size_t masksize);

int main(void) {
    int preloaded = getenv("EVFD_TEST_PRELOADED") != NULL;
    int before = count_fds();
    sigset_t mask;
    int fd;

    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);

    errno = 0;
    fd = signalfd(-1, &mask, sizeof mask);
    if (!preloaded) {
        CHECK_EQ(fd, -1);
        CHECK_EQ(errno, EINVAL);
        CHECK(dlsym(RTLD_DEFAULT, "timerfd") == NULL);
        CHECK_NO_LEAK(before);
        return 0;
    }

    CHECK(fd >= 0);
    CHECK_EQ(errno, 0);
    CHECK_EQ(fcntl(fd, F_GETFD), 0);                /* 2007: no close-on-exec */
    CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);   /* and blocking */
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        unsigned char info[128]; /* struct signalfd_siginfo */
        uint32_t signo, pid;
        CHECK_EQ(poll(&p, 1, 60000), 1);
        CHECK_EQ(read(fd, info, sizeof info), 128);
        memcpy(&signo, info, sizeof signo);          /* ssi_signo */
        memcpy(&pid, info + 12, sizeof pid);         /* ssi_pid */
        CHECK_EQ(signo, SIGUSR1);
        CHECK_EQ(pid, getpid());
    }
    /* Changing the mask of the same fd, the 2007 way. */
    sigaddset(&mask, SIGUSR2);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
    CHECK_EQ(signalfd(fd, &mask, sizeof mask), fd);
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    {
        unsigned char info[128];
        uint32_t signo;
        CHECK_EQ(read(fd, info, sizeof info), 128);
        memcpy(&signo, info, sizeof signo);
        CHECK_EQ(signo, SIGUSR2);
    }
    close(fd);
    CHECK(dlsym(RTLD_DEFAULT, "timerfd") != NULL);
    CHECK_NO_LEAK(before);
    return 0;
}
