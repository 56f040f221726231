/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* <evfd/proposed.h> gives a program the three 2007 spellings and nothing
 * else: signalfd(ufd, mask, masksize) and timerfd(ufd, clockid, timertype,
 * when), resolved to libevfd's unprefixed exports, and the one-argument
 * eventfd(count). Each behaves as its evfd_ twin (checked side by side),
 * linked and under LD_PRELOAD. Also proves the header compiles as C11
 * -pedantic, and that its struct signalfd_siginfo is the kernel record. */
/* evfd-test: preload */
#define _GNU_SOURCE
#include "check.h"
#include <evfd/proposed.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

_Static_assert(sizeof(struct signalfd_siginfo) == 128, "kernel record size");
_Static_assert(offsetof(struct signalfd_siginfo, ssi_pid) == 12, "ssi_pid");
_Static_assert(offsetof(struct signalfd_siginfo, ssi_int) == 44, "ssi_int");
_Static_assert(offsetof(struct signalfd_siginfo, ssi_ptr) == 48, "ssi_ptr");
_Static_assert(offsetof(struct signalfd_siginfo, ssi_addr_lsb) == 80, "ssi_addr_lsb");
_Static_assert(offsetof(struct signalfd_siginfo, ssi_syscall) == 84, "ssi_syscall");
_Static_assert(offsetof(struct signalfd_siginfo, ssi_call_addr) == 88, "ssi_call_addr");
_Static_assert(offsetof(struct signalfd_siginfo, ssi_arch) == 96, "ssi_arch");

static void check_plain_fd(int fd) {
    CHECK(fd >= 0);
    CHECK_EQ(fcntl(fd, F_GETFD), 0);
    CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
}

int main(void) {
    int before = count_fds();
    sigset_t mask;
    int sfd, tfd, efd;
    uint64_t v;

    /* signalfd, the 2007 way, with a struct from the header. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
    sfd = signalfd(-1, &mask, sizeof mask);
    check_plain_fd(sfd);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    {
        struct signalfd_siginfo info;
        CHECK_EQ(read(sfd, &info, sizeof info), (long)sizeof info);
        CHECK_EQ(info.ssi_signo, SIGUSR1);
        CHECK_EQ(info.ssi_pid, getpid());
        CHECK_EQ(info.ssi_code, SI_USER);
    }
    CHECK_ERR(signalfd(sfd, &mask, 4), EINVAL);
    CHECK_ERR(evfd_signalfd(sfd, &mask, 4), EINVAL);
    CHECK_ERR(signalfd(sfd, NULL, sizeof mask), EFAULT);
    CHECK_ERR(evfd_signalfd(sfd, NULL, sizeof mask), EFAULT);
    CHECK_ERR(signalfd(-3, &mask, sizeof mask), EBADF);
    CHECK_EQ(signalfd(sfd, &mask, 8), sfd);

    /* timerfd: same as evfd_timerfd. */
    {
        struct timespec soon = {0, 20 * 1000 * 1000}, zero = {0, 0}, bad = {0, 1000000000};
        struct pollfd p;
        tfd = timerfd(-1, CLOCK_MONOTONIC, TFD_TIMER_REL, &soon);
        check_plain_fd(tfd);
        p.fd = tfd;
        p.events = POLLIN;
        CHECK_EQ(poll(&p, 1, 60000), 1);
        CHECK_EQ(read(tfd, &v, sizeof v), 8);
        CHECK_EQ(v, 1);
        CHECK_EQ(timerfd(tfd, CLOCK_MONOTONIC, TFD_TIMER_SEQ, &zero), tfd); /* disarm */
        CHECK_ERR(timerfd(tfd, CLOCK_REALTIME, TFD_TIMER_REL, &soon), EINVAL);
        CHECK_ERR(evfd_timerfd(tfd, CLOCK_REALTIME, TFD_TIMER_REL, &soon), EINVAL);
        CHECK_ERR(timerfd(-1, CLOCK_MONOTONIC, 3, &soon), EINVAL);
        CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, 3, &soon), EINVAL);
        CHECK_ERR(timerfd(-1, CLOCK_MONOTONIC, TFD_TIMER_REL, &bad), EINVAL);
        CHECK_ERR(timerfd(-1, CLOCK_MONOTONIC, TFD_TIMER_REL, NULL), EFAULT);
        CHECK_ERR(timerfd(sfd, CLOCK_MONOTONIC, TFD_TIMER_REL, &soon), EINVAL);
        CHECK_ERR(timerfd(-2, CLOCK_MONOTONIC, TFD_TIMER_REL, &soon), EBADF);
    }

    /* eventfd(count): one argument, as merged in 2.6.22. */
    efd = eventfd(7);
    check_plain_fd(efd);
    CHECK_EQ(read(efd, &v, sizeof v), 8);
    CHECK_EQ(v, 7);

    close(efd);
    close(tfd);
    close(sfd);
    CHECK_NO_LEAK(before);
    return 0;
}
