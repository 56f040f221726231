/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_timerfd(ufd, ...) on an open timerfd re-arms it in place and returns
 * ufd, discarding expirations not yet read; {0,0} disarms it; a timerfd on
 * another clock is EINVAL and keeps its setting; kernel-made timerfds are
 * re-armed the same way. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static const long ms = 1000000L;

static void rearm_checks(int fd, clockid_t clock) {
    struct timespec fast = {0, 2 * ms}, slow = {100, 0};
    struct itimerspec cur;

    CHECK_EQ(evfd_timerfd(fd, clock, EVFD_TIMER_SEQ, &fast), fd);
    CHECK(poll_in(fd, 5000));                          /* expirations pending */
    nanosleep(&(struct timespec){0, 10 * ms}, NULL);
    CHECK(fdinfo_value(fd, "ticks:", 10) >= 1);
    errno = 5;
    CHECK_EQ(evfd_timerfd(fd, clock, EVFD_TIMER_REL, &slow), fd);
    CHECK_EQ(errno, 5);
    CHECK(!poll_in(fd, 0));                            /* discarded */
    CHECK_EQ(fdinfo_value(fd, "ticks:", 10), 0);
    CHECK_EQ(timerfd_gettime(fd, &cur), 0);
    CHECK(cur.it_value.tv_sec > 90);                    /* now the slow one-shot */
    CHECK_EQ(cur.it_interval.tv_sec + cur.it_interval.tv_nsec, 0);

    /* Another clock: refused, setting unchanged. */
    clockid_t other = clock == CLOCK_MONOTONIC ? CLOCK_REALTIME : CLOCK_MONOTONIC;
    CHECK_ERR(evfd_timerfd(fd, other, EVFD_TIMER_SEQ, &fast), EINVAL);
    CHECK_ERR(evfd_timerfd(fd, CLOCK_BOOTTIME == clock ? CLOCK_MONOTONIC : CLOCK_BOOTTIME,
                           EVFD_TIMER_SEQ, &fast), EINVAL);
    CHECK_EQ(timerfd_gettime(fd, &cur), 0);
    CHECK(cur.it_value.tv_sec > 90);
    CHECK_EQ(cur.it_interval.tv_sec + cur.it_interval.tv_nsec, 0);
    CHECK_EQ(fdinfo_value(fd, "clockid:", 10), clock);

    /* {0,0} disarms. */
    CHECK_EQ(evfd_timerfd(fd, clock, EVFD_TIMER_SEQ, &fast), fd);
    CHECK(poll_in(fd, 5000));
    CHECK_EQ(evfd_timerfd(fd, clock, EVFD_TIMER_SEQ, &(struct timespec){0, 0}), fd);
    CHECK_EQ(timerfd_gettime(fd, &cur), 0);
    CHECK_EQ(cur.it_value.tv_sec + cur.it_value.tv_nsec, 0);
    CHECK(!poll_in(fd, 30));
}

int main(void) {
    int before = count_fds();
    struct timespec idle = {0, 0};

    int mine = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &idle);
    CHECK(mine >= 0);
    rearm_checks(mine, CLOCK_MONOTONIC);
    close(mine);

    mine = evfd_timerfd(-1, CLOCK_BOOTTIME, EVFD_TIMER_REL, &idle);
    CHECK(mine >= 0);
    rearm_checks(mine, CLOCK_BOOTTIME);
    close(mine);

    /* A timerfd the kernel made, with its own flags, re-armed by evfd. */
    int kernels = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    CHECK(kernels >= 0);
    rearm_checks(kernels, CLOCK_REALTIME);
    CHECK_EQ(fcntl(kernels, F_GETFD), FD_CLOEXEC);
    CHECK(fcntl(kernels, F_GETFL) & O_NONBLOCK);
    close(kernels);

    CHECK_NO_LEAK(before);
    return 0;
}
