/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_timerfd(-1, clock, type, when): REL fires once after `when`, ABS once
 * at `when`, SEQ every `when`; {0,0} creates it disarmed; on each of
 * CLOCK_MONOTONIC, CLOCK_REALTIME and CLOCK_BOOTTIME; blocking, not
 * close-on-exec; the same timer the kernel's timerfd_create + timerfd_settime
 * make; read() gives the expiration count. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static uint64_t read_count(int fd) {
    uint64_t n = 0;
    CHECK_EQ(read(fd, &n, sizeof n), 8);
    return n;
}

/* Same clock, flags, interval and armed state as a kernel timer armed the
 * 2007 way; `when` is far enough away that neither fires meanwhile. */
static void same_as_kernel(clockid_t clock, int type, struct timespec when) {
    int fd = evfd_timerfd(-1, clock, type, &when);
    CHECK(fd >= 0);
    int kfd = timerfd_create(clock, 0);
    CHECK(kfd >= 0);
    struct itimerspec spec = {.it_value = when};
    if (type == EVFD_TIMER_SEQ)
        spec.it_interval = when;
    CHECK_EQ(timerfd_settime(kfd, type == EVFD_TIMER_ABS ? TFD_TIMER_ABSTIME : 0, &spec, NULL), 0);
    struct itimerspec mine, kernels;
    CHECK_EQ(timerfd_gettime(fd, &mine), 0);
    CHECK_EQ(timerfd_gettime(kfd, &kernels), 0);
    CHECK_EQ(mine.it_interval.tv_sec, kernels.it_interval.tv_sec);
    CHECK_EQ(mine.it_interval.tv_nsec, kernels.it_interval.tv_nsec);
    CHECK_EQ(mine.it_value.tv_sec == 0 && mine.it_value.tv_nsec == 0,
             kernels.it_value.tv_sec == 0 && kernels.it_value.tv_nsec == 0);
    CHECK_EQ(fdinfo_value(fd, "clockid:", 10), fdinfo_value(kfd, "clockid:", 10));
    CHECK_EQ(fcntl(fd, F_GETFD), fcntl(kfd, F_GETFD));
    CHECK_EQ(fcntl(fd, F_GETFL), fcntl(kfd, F_GETFL));
    close(kfd);
    close(fd);
}

static void one_clock(clockid_t clock) {
    const long long ms = 1000000LL;
    struct timespec rel = {0, 30 * ms};
    long long soon = now_ns(clock) + 100000 * ms;

    same_as_kernel(clock, EVFD_TIMER_REL, (struct timespec){100, 5});
    same_as_kernel(clock, EVFD_TIMER_SEQ, (struct timespec){100, 5});
    same_as_kernel(clock, EVFD_TIMER_ABS,
                   (struct timespec){(time_t)(soon / 1000000000LL), (long)(soon % 1000000000LL)});
    same_as_kernel(clock, EVFD_TIMER_SEQ, (struct timespec){0, 0});

    /* REL: one expiration, never early, then nothing more. */
    long long start = now_ns(clock);
    errno = 99;
    int fd = evfd_timerfd(-1, clock, EVFD_TIMER_REL, &rel);
    CHECK(fd >= 0);
    CHECK_EQ(errno, 99);
    CHECK_EQ(fcntl(fd, F_GETFD), 0);
    CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    CHECK_EQ(fdinfo_value(fd, "clockid:", 10), clock);
    CHECK_EQ(read_count(fd), 1);                       /* blocks until it fires */
    CHECK(now_ns(clock) - start >= 30 * ms);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 60), 0);                      /* one shot */
    close(fd);

    /* ABS: at an absolute time on that clock. */
    long long at = now_ns(clock) + 30 * ms;
    struct timespec abs_when = {(time_t)(at / 1000000000LL), (long)(at % 1000000000LL)};
    fd = evfd_timerfd(-1, clock, EVFD_TIMER_ABS, &abs_when);
    CHECK(fd >= 0);
    CHECK_EQ(read_count(fd), 1);
    CHECK(now_ns(clock) >= at);
    close(fd);

    /* ABS in the past fires at once. */
    struct timespec past = {1, 0};
    fd = evfd_timerfd(-1, clock, TFD_TIMER_ABS, &past);
    CHECK(fd >= 0);
    CHECK_EQ(read_count(fd), 1);
    close(fd);

    /* SEQ: periodic, expirations accumulate while unread. */
    struct timespec period = {0, 10 * ms};
    fd = evfd_timerfd(-1, clock, EVFD_TIMER_SEQ, &period);
    CHECK(fd >= 0);
    CHECK(read_count(fd) >= 1);
    struct timespec wait = {0, 50 * ms};
    nanosleep(&wait, NULL);
    CHECK(read_count(fd) >= 2);                        /* several periods went by */
    CHECK(read_count(fd) >= 1);                        /* and it keeps going */
    close(fd);

    /* {0,0}: created disarmed, whatever the type. */
    for (int type = EVFD_TIMER_REL; type <= EVFD_TIMER_SEQ; type++) {
        fd = evfd_timerfd(-1, clock, type, &(struct timespec){0, 0});
        CHECK(fd >= 0);
        struct itimerspec cur;
        CHECK_EQ(timerfd_gettime(fd, &cur), 0);
        CHECK_EQ(cur.it_value.tv_sec + cur.it_value.tv_nsec, 0);
        CHECK_EQ(cur.it_interval.tv_sec + cur.it_interval.tv_nsec, 0);
        CHECK_EQ(poll(&p, 0, 0), 0);
        close(fd);
    }
}

int main(void) {
    int before = count_fds();
    CHECK_EQ(TFD_TIMER_REL, 0);
    CHECK_EQ(TFD_TIMER_ABS, 1);
    CHECK_EQ(TFD_TIMER_SEQ, 2);
    CHECK_EQ(EVFD_TIMER_REL, TFD_TIMER_REL);
    CHECK_EQ(EVFD_TIMER_ABS, TFD_TIMER_ABS);
    CHECK_EQ(EVFD_TIMER_SEQ, TFD_TIMER_SEQ);
    one_clock(CLOCK_MONOTONIC);
    one_clock(CLOCK_REALTIME);
    one_clock(CLOCK_BOOTTIME);
    CHECK_NO_LEAK(before);
    return 0;
}
