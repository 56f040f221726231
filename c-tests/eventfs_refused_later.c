/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A seccomp filter installed after evfd chose how to compare descriptors
 * (at the first registration), refusing both fcntl(F_DUPFD_QUERY) and
 * kcmp(2), does not make evfd_eventfs_signalfd silently stop working:
 * deliveries are still counted, an exclusive SIGTERM still does not
 * terminate, a closed fd's number taken by a pipe is never written to,
 * and the next evfd call still reclaims evfd's internal fds and restores
 * the disposition (from /proc/self/fdinfo, as where neither ever worked). */
#define _GNU_SOURCE
#include "check.h"
#include "seccomp_refuse.h"
#include <evfd.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void refuse_comparing(void) {
    if (!refuse_fd_comparison(EPERM, 1))
        SKIP("cannot install the seccomp filter here (it is written for x86-64)");
}

static uint64_t take(int fd) {
    uint64_t v = 0;
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    return v;
}

int main(void) {
    signal(SIGUSR1, SIG_IGN);
    struct sigaction old;
    memset(&old, 0, sizeof old);
    CHECK_EQ(sigaction(SIGTERM, NULL, &old), 0);
    int before = count_fds();

    int a = evfd_eventfs_signalfd(SIGUSR1, 0);
    int t = evfd_eventfs_signalfd(SIGTERM, 1);
    CHECK(a >= 0 && t >= 0);
    /* Non-blocking: a missed count fails the read instead of hanging. */
    CHECK_EQ(fcntl(a, F_SETFL, O_NONBLOCK), 0);
    CHECK_EQ(fcntl(t, F_SETFL, O_NONBLOCK), 0);
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(take(a), 1);

    refuse_comparing();
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(take(a), 2);          /* still counted */
    CHECK_EQ(raise(SIGTERM), 0);   /* still exclusive: we are alive */
    CHECK_EQ(take(t), 1);

    /* A pipe takes a's number: never written to. */
    int ends[2];
    CHECK_EQ(pipe2(ends, O_NONBLOCK), 0);
    CHECK_EQ(close(a), 0);
    CHECK_EQ(dup2(ends[1], a), a);
    CHECK_EQ(raise(SIGUSR1), 0);
    char buf[16];
    CHECK_ERR(read(ends[0], buf, sizeof buf), EAGAIN);

    /* The next evfd call reclaims both and restores SIGTERM's default. */
    CHECK_EQ(close(t), 0);
    CHECK_ERR(evfd_eventfs_signalfd(0, 0), EINVAL);
    CHECK_EQ(count_fds(), before + 3); /* both pipe ends and a copy on a's number; none of evfd's */
    struct sigaction now;
    memset(&now, 0, sizeof now);
    CHECK_EQ(sigaction(SIGTERM, NULL, &now), 0);
    CHECK(now.sa_handler == old.sa_handler);
    CHECK_EQ(now.sa_flags, old.sa_flags);
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_ERR(read(ends[0], buf, sizeof buf), EAGAIN);
    close(a);
    close(ends[0]);
    close(ends[1]);
    CHECK_NO_LEAK(before);
    return 0;
}
