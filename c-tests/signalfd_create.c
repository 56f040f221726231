/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_signalfd(-1, mask, masksize): a new signalfd exactly like the kernel's
 * signalfd4(-1, mask, 8, 0): same mask (SIGKILL/SIGSTOP dropped, only signals
 * 1..64 read from the first 8 bytes), blocking, not close-on-exec, reads whole
 * signalfd_siginfo records, errno untouched on success, nothing read past
 * masksize. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static int kernel_signalfd(const sigset_t *mask) {
    return (int)syscall(SYS_signalfd4, -1, mask, 8, 0);
}

static unsigned long long sigmask_of(int fd) { return fdinfo_value(fd, "sigmask:", 16); }

int main(void) {
    int before = count_fds();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGRTMIN);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);

    /* Every accepted masksize, errno left alone, same object as the kernel's. */
    size_t sizes[] = {8, 9, 16, 64, 127, sizeof(sigset_t)};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        errno = 777;
        int fd = evfd_signalfd(-1, &mask, sizes[i]);
        CHECK(fd >= 0);
        CHECK_EQ(errno, 777);
        int kfd = kernel_signalfd(&mask);
        CHECK(kfd >= 0);
        CHECK_EQ(sigmask_of(fd), sigmask_of(kfd));
        CHECK_EQ(fcntl(fd, F_GETFD), fcntl(kfd, F_GETFD));
        CHECK_EQ(fcntl(fd, F_GETFD), 0);
        CHECK_EQ(fcntl(fd, F_GETFL), fcntl(kfd, F_GETFL));
        CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        close(fd);
        close(kfd);
    }

    /* SIGKILL and SIGSTOP are dropped, as the kernel does. */
    sigset_t all;
    sigfillset(&all);
    int fd = evfd_signalfd(-1, &all, sizeof all);
    CHECK(fd >= 0);
    int kfd = kernel_signalfd(&all);
    CHECK_EQ(sigmask_of(fd), sigmask_of(kfd));
    CHECK_EQ(sigmask_of(fd) & (1ull << (SIGKILL - 1)), 0);
    CHECK_EQ(sigmask_of(fd) & (1ull << (SIGSTOP - 1)), 0);
    CHECK(sigmask_of(fd) & (1ull << (SIGUSR1 - 1)));
    close(fd);
    close(kfd);

    /* Only the first 8 bytes count: bits of "signals" above 64 are ignored. */
    unsigned char wide[sizeof(sigset_t)];
    memset(wide, 0xff, sizeof wide);
    uint64_t low = 1ull << (SIGUSR1 - 1);
    memcpy(wide, &low, sizeof low);
    fd = evfd_signalfd(-1, (const sigset_t *)(void *)wide, sizeof wide);
    CHECK(fd >= 0);
    CHECK_EQ(sigmask_of(fd), low);
    close(fd);

    /* No byte past masksize is read: an 8-byte mask ending at a guard page. */
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *map = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    CHECK_EQ(mprotect(map + page, (size_t)page, PROT_NONE), 0);
    unsigned char *edge = map + page - 8;
    memcpy(edge, &low, 8);
    fd = evfd_signalfd(-1, (const sigset_t *)(void *)edge, 8);
    CHECK(fd >= 0);
    CHECK_EQ(sigmask_of(fd), low);
    close(fd);
    munmap(map, 2 * (size_t)page);

    /* Reading: whole records, as many as fit, with the siginfo fields. */
    fd = evfd_signalfd(-1, &mask, sizeof mask);
    CHECK(fd >= 0);
    union sigval v1 = {.sival_int = 41}, v2 = {.sival_int = 42};
    CHECK_EQ(sigqueue(getpid(), SIGRTMIN, v1), 0);
    CHECK_EQ(sigqueue(getpid(), SIGRTMIN, v2), 0);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 5000), 1);
    struct signalfd_siginfo si[4];
    char small[sizeof(struct signalfd_siginfo) - 1];
    CHECK_ERR(read(fd, small, sizeof small), EINVAL);          /* smaller than a record */
    CHECK_EQ(read(fd, si, sizeof si), 3 * sizeof si[0]);       /* as many as there are */
    CHECK_EQ(si[0].ssi_signo, SIGUSR1);                         /* lowest number first */
    CHECK_EQ(si[0].ssi_code, SI_USER);
    CHECK_EQ(si[0].ssi_pid, getpid());
    CHECK_EQ(si[0].ssi_uid, getuid());
    CHECK_EQ(si[1].ssi_signo, SIGRTMIN);
    CHECK_EQ(si[1].ssi_code, SI_QUEUE);
    CHECK_EQ(si[1].ssi_int, 41);                                /* queued in order */
    CHECK_EQ(si[2].ssi_int, 42);
    CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    CHECK_ERR(read(fd, si, sizeof si), EAGAIN);
    close(fd);

    CHECK_NO_LEAK(before);
    return 0;
}
