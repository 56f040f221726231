/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_eventfs_signalfd: which signals and flags are refused (EINVAL, with
 * nothing leaked and the disposition untouched), and what a new descriptor
 * is: a blocking, close-on-exec eventfd with a zero count, like the
 * kernel's eventfd2(0, EFD_CLOEXEC). errno is left alone on success. A
 * signal takes at most 32 fds (EMFILE beyond). */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static void check_refused(int sig, int flags) {
    struct sigaction before, after;
    /* Any evfd call first reclaims closed registrations: count after one. */
    (void)evfd_eventfs_signalfd(0, 0);
    int fds = count_fds();
    memset(&before, 0, sizeof before);
    memset(&after, 0, sizeof after);
    int valid = sig >= 1 && sig <= SIGRTMAX;
    if (valid)
        sigaction(sig, NULL, &before);
    CHECK_ERR(evfd_eventfs_signalfd(sig, flags), EINVAL);
    CHECK_NO_LEAK(fds);
    if (valid) {
        sigaction(sig, NULL, &after);
        CHECK(before.sa_handler == after.sa_handler);
        CHECK_EQ(before.sa_flags, after.sa_flags);
    }
}

static void ignore_it(int sig) {
    (void)sig;
}

static void check_fresh_fd(int fd) {
    uint64_t v;
    CHECK(fd >= 0);
    CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    CHECK_EQ(fdinfo_value(fd, "eventfd-count:", 16), 0);
    CHECK_EQ(fdinfo_value(fd, "eventfd-semaphore:", 10), 0);
    /* The kernel's own eventfd2(0, EFD_CLOEXEC) agrees. */
    int kfd = (int)syscall(SYS_eventfd2, 0, EFD_CLOEXEC);
    CHECK(kfd >= 0);
    CHECK_EQ(fcntl(kfd, F_GETFD), fcntl(fd, F_GETFD));
    CHECK_EQ(fcntl(kfd, F_GETFL), fcntl(fd, F_GETFL));
    close(kfd);
    CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    CHECK_ERR(read(fd, &v, sizeof v), EAGAIN);
}

int main(void) {
    int before = count_fds();
    int out_of_range[] = {0, -1, -SIGTERM, SIGRTMAX + 1, 65, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        check_refused(out_of_range[i], 0);
        check_refused(out_of_range[i], 1);
    }
    check_refused(SIGKILL, 0);
    check_refused(SIGKILL, 1);
    check_refused(SIGSTOP, 0);
    check_refused(SIGSTOP, 1);
    /* glibc keeps 32 and 33 for itself (its sigaction says EINVAL). */
    check_refused(32, 0);
    check_refused(33, 0);
    check_refused(33, 1);
    int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        check_refused(faults[i], 1);
        check_refused(faults[i], -1);
        check_refused(faults[i], 0x100);
        /* Chained, a fault signal is fine: the fault still happens. */
        errno = 4242;
        int fd = evfd_eventfs_signalfd(faults[i], 0);
        CHECK_EQ(errno, 4242);
        check_fresh_fd(fd);
        close(fd);
    }
    /* Every other signal in range is accepted, both ways, if the program
     * itself may set its disposition (glibc keeps 32 and 33, valgrind
     * keeps SIGRTMAX): evfd agrees with sigaction() there. */
    for (int sig = 1; sig <= SIGRTMAX; sig++) {
        struct sigaction cur, probe;
        memset(&cur, 0, sizeof cur);
        memset(&probe, 0, sizeof probe);
        probe.sa_handler = ignore_it;
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, &probe, &cur) != 0) {
            CHECK_EQ(errno, EINVAL);
            check_refused(sig, 0);
            continue;
        }
        CHECK_EQ(sigaction(sig, &cur, NULL), 0);
        int fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
                    sig == SIGTRAP;
        errno = 77;
        int fd = evfd_eventfs_signalfd(sig, 0);
        CHECK_EQ(errno, 77);
        check_fresh_fd(fd);
        if (!fault) {
            int xfd = evfd_eventfs_signalfd(sig, 1);
            check_fresh_fd(xfd);
            close(xfd);
        }
        close(fd);
    }
    /* A signal takes 32 fds at most; the 33rd is EMFILE, leaking nothing. */
    int many[32];
    for (int i = 0; i < 32; i++) {
        many[i] = evfd_eventfs_signalfd(SIGUSR1, i % 2);
        CHECK(many[i] >= 0);
    }
    int fds = count_fds();
    CHECK_ERR(evfd_eventfs_signalfd(SIGUSR1, 0), EMFILE);
    CHECK_NO_LEAK(fds);
    close(many[7]);
    many[7] = evfd_eventfs_signalfd(SIGUSR1, 0);     /* room again */
    CHECK(many[7] >= 0);
    for (int i = 0; i < 32; i++)
        close(many[i]);

    /* After the next evfd call nothing of those registrations is left. */
    check_refused(0, 0);
    CHECK_NO_LEAK(before);
    return 0;
}
