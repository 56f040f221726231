/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_timerfd's errors, in order: a bad timertype or clockid is EINVAL, a
 * NULL when EFAULT, an out-of-range when EINVAL (the kernel's
 * timerfd_settime agrees), then ufd: closed or < -1 EBADF, open but not a
 * timerfd EINVAL. No call leaks a descriptor; a refused call on an existing
 * timer leaves it as it was. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <limits.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    int before = count_fds();
    struct timespec ok = {1, 0};

    int bad_types[] = {-1, 3, 4, 100, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, bad_types[i], &ok), EINVAL);
        CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, bad_types[i], NULL), EINVAL);
    }
    clockid_t bad_clocks[] = {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                              CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE,
                              CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, CLOCK_TAI, -1, 99};
    for (size_t i = 0; i < sizeof bad_clocks / sizeof bad_clocks[0]; i++) {
        CHECK_ERR(evfd_timerfd(-1, bad_clocks[i], EVFD_TIMER_REL, &ok), EINVAL);
        CHECK_ERR(evfd_timerfd(-1, bad_clocks[i], EVFD_TIMER_REL, NULL), EINVAL);
    }
    CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, NULL), EFAULT);
    CHECK_ERR(evfd_timerfd(INT_MAX, CLOCK_MONOTONIC, EVFD_TIMER_REL, NULL), EFAULT);

    struct timespec bad_when[] = {{-1, 0}, {0, -1}, {0, 1000000000L}, {LONG_MIN, 0},
                                  {0, LONG_MAX}, {-5, 999999999L}};
    int kfd = timerfd_create(CLOCK_MONOTONIC, 0);
    CHECK(kfd >= 0);
    for (size_t i = 0; i < sizeof bad_when / sizeof bad_when[0]; i++) {
        for (int type = EVFD_TIMER_REL; type <= EVFD_TIMER_SEQ; type++)
            CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, type, &bad_when[i]), EINVAL);
        struct itimerspec spec = {.it_value = bad_when[i]};
        CHECK_ERR(timerfd_settime(kfd, 0, &spec, NULL), EINVAL);     /* the kernel agrees */
    }
    /* The extremes that are valid are accepted. */
    struct timespec far = {INT_MAX, 999999999L};
    int fd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &far);
    CHECK(fd >= 0);
    close(fd);
    CHECK_NO_LEAK(before + 1);

    /* ufd. */
    int closed = evfd_eventfd(0);
    close(closed);
    CHECK_ERR(evfd_timerfd(closed, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ok), EBADF);
    CHECK_ERR(timerfd_settime(closed, 0, &(struct itimerspec){{0, 0}, {1, 0}}, NULL), EBADF);
    CHECK_ERR(evfd_timerfd(-2, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ok), EBADF);
    CHECK_ERR(evfd_timerfd(INT_MIN, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ok), EBADF);
    int efd = eventfd(0, 0);
    CHECK_ERR(evfd_timerfd(efd, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ok), EINVAL);
    CHECK_ERR(timerfd_settime(efd, 0, &(struct itimerspec){{0, 0}, {1, 0}}, NULL), EINVAL);
    sigset_t mask;
    sigemptyset(&mask);
    int sfd = signalfd(-1, &mask, 0);
    CHECK_ERR(evfd_timerfd(sfd, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ok), EINVAL);
    CHECK_ERR(evfd_timerfd(STDIN_FILENO, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ok), EINVAL);

    /* Refused calls leave an existing timer alone. */
    struct itimerspec seq = {{0, 5000000}, {7, 0}}, cur;
    CHECK_EQ(timerfd_settime(kfd, 0, &seq, NULL), 0);
    CHECK_ERR(evfd_timerfd(kfd, CLOCK_MONOTONIC, 3, &ok), EINVAL);
    CHECK_ERR(evfd_timerfd(kfd, CLOCK_MONOTONIC, EVFD_TIMER_REL, NULL), EFAULT);
    CHECK_ERR(evfd_timerfd(kfd, CLOCK_MONOTONIC, EVFD_TIMER_REL, &bad_when[2]), EINVAL);
    CHECK_ERR(evfd_timerfd(kfd, CLOCK_REALTIME, EVFD_TIMER_REL, &ok), EINVAL);
    CHECK_EQ(timerfd_gettime(kfd, &cur), 0);
    CHECK_EQ(cur.it_interval.tv_nsec, 5000000);
    CHECK(cur.it_value.tv_sec >= 6);
    /* ...while an accepted one does change it. */
    CHECK_EQ(evfd_timerfd(kfd, CLOCK_MONOTONIC, EVFD_TIMER_REL, &ok), kfd);
    CHECK_EQ(timerfd_gettime(kfd, &cur), 0);
    CHECK_EQ(cur.it_interval.tv_nsec, 0);

    close(kfd);
    close(efd);
    close(sfd);
    CHECK_NO_LEAK(before);
    return 0;
}
