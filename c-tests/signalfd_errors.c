/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_signalfd's errors: masksize out of 8..sizeof(sigset_t) is EINVAL, a
 * NULL mask EFAULT, a closed or < -1 ufd EBADF, an open non-signalfd EINVAL
 * (as the kernel says for the same ufd), in that order; a refused call on an
 * existing signalfd leaves its mask alone, and no call leaks a descriptor. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned long long sigmask_of(int fd) { return fdinfo_value(fd, "sigmask:", 16); }

/* evfd and signalfd4 must fail the same way for this ufd. */
static void both_fail(int ufd, const sigset_t *mask, int err) {
    CHECK_ERR(evfd_signalfd(ufd, mask, sizeof *mask), err);
    CHECK_ERR(syscall(SYS_signalfd4, ufd, mask, 8, 0), err);
}

int main(void) {
    sigset_t mask, other;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigemptyset(&other);
    sigaddset(&other, SIGUSR2);
    int before = count_fds();

    size_t bad_sizes[] = {0, 1, 7, sizeof(sigset_t) + 1, 4096, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        CHECK_ERR(evfd_signalfd(-1, &mask, bad_sizes[i]), EINVAL);
        CHECK_ERR(evfd_signalfd(-1, NULL, bad_sizes[i]), EINVAL);   /* size checked first */
    }
    CHECK_ERR(evfd_signalfd(-1, NULL, sizeof mask), EFAULT);
    CHECK_ERR(syscall(SYS_signalfd4, -1, NULL, 8, 0), EFAULT);       /* the kernel agrees */
    CHECK_ERR(evfd_signalfd(12345, NULL, sizeof mask), EFAULT);      /* mask before ufd */
    CHECK_NO_LEAK(before);

    /* ufd: not open, below -1, open but something else. */
    int closed = evfd_eventfd(0);
    CHECK(closed >= 0);
    close(closed);
    both_fail(closed, &mask, EBADF);
    both_fail(-2, &mask, EBADF);
    both_fail(INT_MIN, &mask, EBADF);
    int pipefd[2];
    CHECK_EQ(pipe(pipefd), 0);
    both_fail(pipefd[0], &mask, EINVAL);
    int efd = eventfd(0, 0);
    both_fail(efd, &mask, EINVAL);
    int tfd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &(struct timespec){0, 0});
    CHECK(tfd >= 0);
    both_fail(tfd, &mask, EINVAL);

    /* A refused call changes nothing on an existing signalfd. */
    int sfd = evfd_signalfd(-1, &mask, sizeof mask);
    CHECK(sfd >= 0);
    unsigned long long old = sigmask_of(sfd);
    CHECK_ERR(evfd_signalfd(sfd, &other, 7), EINVAL);
    CHECK_ERR(evfd_signalfd(sfd, &other, sizeof other + 1), EINVAL);
    CHECK_ERR(evfd_signalfd(sfd, NULL, sizeof other), EFAULT);
    CHECK_EQ(sigmask_of(sfd), old);
    /* ...and an accepted one does change it (so the check above can fail). */
    CHECK_EQ(evfd_signalfd(sfd, &other, sizeof other), sfd);
    CHECK_EQ(sigmask_of(sfd), 1ull << (SIGUSR2 - 1));

    close(sfd);
    close(tfd);
    close(efd);
    close(pipefd[0]);
    close(pipefd[1]);
    CHECK_NO_LEAK(before);
    return 0;
}
