/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_signalfd(ufd, mask, ...) on an open signalfd replaces its mask and
 * returns ufd, for signalfds made by evfd and by the kernel alike; the fd then
 * reports the new signals and not the old ones. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static void replace_and_check(int fd) {
    sigset_t usr1, usr2;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);

    CHECK_EQ(evfd_signalfd(fd, &usr1, sizeof usr1), fd);
    CHECK_EQ(fdinfo_value(fd, "sigmask:", 16), 1ull << (SIGUSR1 - 1));
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    CHECK(!poll_in(fd, 0));                       /* SIGUSR2 not in the mask yet */

    errno = 31337;
    CHECK_EQ(evfd_signalfd(fd, &usr2, 8), fd);
    CHECK_EQ(errno, 31337);
    CHECK_EQ(fdinfo_value(fd, "sigmask:", 16), 1ull << (SIGUSR2 - 1));
    CHECK(poll_in(fd, 0));                        /* the pending SIGUSR2 now counts */
    struct signalfd_siginfo si;
    CHECK_EQ(read(fd, &si, sizeof si), sizeof si);
    CHECK_EQ(si.ssi_signo, SIGUSR2);

    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK(!poll_in(fd, 0));                       /* SIGUSR1 is no longer in it */
    CHECK_EQ(evfd_signalfd(fd, &usr1, sizeof usr1), fd);
    CHECK_EQ(read(fd, &si, sizeof si), sizeof si);
    CHECK_EQ(si.ssi_signo, SIGUSR1);
}

int main(void) {
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGUSR2);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &both, NULL), 0);
    int before = count_fds();

    sigset_t none;
    sigemptyset(&none);
    int mine = evfd_signalfd(-1, &none, sizeof none);
    CHECK(mine >= 0);
    replace_and_check(mine);

    int kernels = (int)syscall(SYS_signalfd4, -1, &none, 8, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(kernels >= 0);
    replace_and_check(kernels);
    /* Replacing the mask keeps the descriptor's own flags. */
    CHECK_EQ(fcntl(kernels, F_GETFD), FD_CLOEXEC);
    CHECK(fcntl(kernels, F_GETFL) & O_NONBLOCK);

    /* The kernel can replace the mask of an evfd-made signalfd too. */
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    CHECK_EQ(syscall(SYS_signalfd4, mine, &usr2, 8, 0), mine);
    CHECK_EQ(fdinfo_value(mine, "sigmask:", 16), 1ull << (SIGUSR2 - 1));

    close(mine);
    close(kernels);
    CHECK_NO_LEAK(before);
    return 0;
}
