/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Where kcmp(2) is refused (a seccomp profile, simulated here with a
 * filter that makes it fail with EPERM) and fcntl(F_DUPFD_QUERY) is not
 * there (before Linux 6.10; the filter makes it fail with EINVAL), so
 * that evfd has no way to compare descriptors, evfd_eventfs_signalfd still
 * counts, still never writes into a file that took a closed fd's number
 * (a pipe or another eventfd dup2()ed onto it), and still reclaims its
 * internal fd and restores the disposition on the next evfd call: it
 * compares the eventfd-id in /proc/self/fdinfo instead. */
#define _GNU_SOURCE
#include "check.h"
#include "seccomp_refuse.h"
#include <evfd.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void refuse_comparing(void) {
    if (!refuse_fd_comparison(EINVAL, 1))
        SKIP("cannot install the seccomp filter here (it is written for x86-64)");
}

static uint64_t take(int fd) {
    uint64_t v = 0;
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    return v;
}

int main(void) {
    refuse_comparing();
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    struct sigaction old;
    memset(&old, 0, sizeof old);
    CHECK_EQ(sigaction(SIGUSR2, NULL, &old), 0);
    int before = count_fds();

    int a = evfd_eventfs_signalfd(SIGUSR1, 0);
    int b = evfd_eventfs_signalfd(SIGUSR2, 1);
    CHECK(a >= 0 && b >= 0);
    raise(SIGUSR1);
    raise(SIGUSR2);
    raise(SIGUSR2);
    CHECK_EQ(take(a), 1);
    CHECK_EQ(take(b), 2);

    /* A pipe takes a's number. */
    int ends[2];
    CHECK_EQ(pipe2(ends, O_NONBLOCK), 0);
    CHECK_EQ(close(a), 0);
    CHECK_EQ(dup2(ends[1], a), a);
    raise(SIGUSR1);
    char buf[16];
    CHECK_ERR(read(ends[0], buf, sizeof buf), EAGAIN);
    /* Another eventfd takes b's number. */
    int stranger = eventfd(0, EFD_NONBLOCK);
    CHECK(stranger >= 0);
    CHECK_EQ(close(b), 0);
    CHECK_EQ(dup2(stranger, b), b);
    raise(SIGUSR2);
    uint64_t v;
    CHECK_ERR(read(stranger, &v, sizeof v), EAGAIN);

    /* The next evfd call reclaims both and restores SIGUSR2's SIG_IGN. */
    int e = evfd_eventfd(0);
    CHECK(e >= 0);
    close(e);
    CHECK_EQ(count_fds(), before + 5);  /* a, b, both ends, stranger; none of evfd's */
    struct sigaction now;
    memset(&now, 0, sizeof now);
    CHECK_EQ(sigaction(SIGUSR2, NULL, &now), 0);
    CHECK(now.sa_handler == old.sa_handler);
    CHECK_EQ(now.sa_flags, old.sa_flags);
    raise(SIGUSR1);
    raise(SIGUSR2);
    CHECK_ERR(read(ends[0], buf, sizeof buf), EAGAIN);
    CHECK_ERR(read(stranger, &v, sizeof v), EAGAIN);
    close(a);
    close(b);
    close(ends[0]);
    close(ends[1]);
    close(stranger);
    CHECK_NO_LEAK(before);
    return 0;
}
