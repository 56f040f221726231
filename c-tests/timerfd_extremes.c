/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_timerfd with extreme `when` values does what the kernel's
 * timerfd_settime does with the same values: the kernel keeps times as
 * signed 64-bit nanoseconds and clamps anything from 9223372036 seconds up to
 * KTIME_MAX (about 292 years), so a huge period is accepted and reads back
 * clamped, never wrapped to a short or negative one. Found while writing the
 * fuzz oracle (fuzz/README.md); this pins the behaviour for every timer type
 * and clock evfd accepts, compared with the kernel's own timerfd. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void same_as_kernel(int clock, int type, struct timespec when) {
    int fd = evfd_timerfd(-1, clock, type, &when);
    CHECK(fd >= 0);
    int k = timerfd_create(clock, 0);
    CHECK(k >= 0);
    struct itimerspec spec = {{0, 0}, when};
    if (type == EVFD_TIMER_SEQ)
        spec.it_interval = when;
    CHECK_EQ(timerfd_settime(k, type == EVFD_TIMER_ABS ? TFD_TIMER_ABSTIME : 0, &spec, NULL), 0);

    struct itimerspec mine, theirs;
    CHECK_EQ(timerfd_gettime(fd, &mine), 0);
    CHECK_EQ(timerfd_gettime(k, &theirs), 0);
    CHECK_EQ(mine.it_interval.tv_sec, theirs.it_interval.tv_sec);
    CHECK_EQ(mine.it_interval.tv_nsec, theirs.it_interval.tv_nsec);
    if (type == EVFD_TIMER_SEQ && when.tv_sec >= 9223372036) {
        CHECK_EQ(mine.it_interval.tv_sec, 9223372036);     /* KTIME_MAX */
        CHECK_EQ(mine.it_interval.tv_nsec, 854775807);
    }
    /* Far in the future either way: armed, not expired, not negative. */
    CHECK(mine.it_value.tv_sec > 0 && theirs.it_value.tv_sec > 0);

    /* Re-arming in place with the same extreme values agrees too. */
    CHECK_EQ(evfd_timerfd(fd, clock, type, &when), fd);
    CHECK_EQ(timerfd_gettime(fd, &mine), 0);
    CHECK_EQ(mine.it_interval.tv_sec, theirs.it_interval.tv_sec);
    close(fd);
    close(k);
}

int main(void) {
    int before = count_fds();
    const struct timespec extremes[] = {
        {INT64_MAX, 999999999},
        {INT64_MAX, 0},
        {9223372036, 0},               /* the first second that is clamped */
        {9223372036, 854775807},       /* exactly KTIME_MAX */
        {9223372035, 999999999},       /* the largest that is not */
        {(int64_t)1 << 40, 1},
    };
    const int clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
    for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; i++)
        for (size_t c = 0; c < 3; c++)
            for (int type = EVFD_TIMER_REL; type <= EVFD_TIMER_SEQ; type++)
                same_as_kernel(clocks[c], type, extremes[i]);
    CHECK_NO_LEAK(before);
    return 0;
}
