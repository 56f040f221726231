/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Clocks behave as the kernel's do (DESIGN §4): an EVFD_TIMER_ABS timer on
 * CLOCK_REALTIME fires as soon as the clock is set past it, while a REL
 * timer on CLOCK_REALTIME is not moved by the change; a kernel timerfd with
 * the same settings is the reference. This sets the system clock (forward
 * by 20 s, then back), so it runs only where the process has CAP_SYS_TIME
 * and EVFD_TEST_SET_CLOCK=1 asks for it, never in CI: elsewhere it skips.
 * (CLOCK_BOOTTIME counting suspend cannot be tested without suspending the
 * machine; its timers are absolute CLOCK_BOOTTIME timerfds, which do.) */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void shift_clock(long seconds) {
    struct timespec now;
    CHECK_EQ(clock_gettime(CLOCK_REALTIME, &now), 0);
    now.tv_sec += seconds;
    CHECK_EQ(clock_settime(CLOCK_REALTIME, &now), 0);
}

int main(void) {
    const char *ask = getenv("EVFD_TEST_SET_CLOCK");
    if (!ask || strcmp(ask, "1") != 0)
        SKIP("sets the system clock: only with EVFD_TEST_SET_CLOCK=1 (and CAP_SYS_TIME)");
    struct timespec now;
    CHECK_EQ(clock_gettime(CLOCK_REALTIME, &now), 0);
    /* Probe the capability by setting the clock to what it is. */
    if (clock_settime(CLOCK_REALTIME, &now) != 0)
        SKIP("no CAP_SYS_TIME");

    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    struct timespec at = {now.tv_sec + 10, now.tv_nsec};
    struct timespec rel = {15, 0};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_ABS, &at, 1), 0);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_REL, &rel, 2), 0);
    int kabs = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    int krel = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    struct itimerspec its_abs = {{0, 0}, at}, its_rel = {{0, 0}, rel};
    CHECK_EQ(timerfd_settime(kabs, TFD_TIMER_ABSTIME, &its_abs, NULL), 0);
    CHECK_EQ(timerfd_settime(krel, 0, &its_rel, NULL), 0);
    expect_quiet(r, 200);

    shift_clock(20);
    /* The ABS timer fires at once (well before its 10 s); the REL one not. */
    struct evfd_event ev;
    struct timespec two = {2, 0};
    int n = evfd_ring_wait(r, &ev, 1, &two);
    /* The kernel agrees (checked while the clock is still set forward):
     * the ABS timerfd fired, the REL one not. */
    struct pollfd p[2] = {{kabs, POLLIN, 0}, {krel, POLLIN, 0}};
    int kernel = poll(p, 2, 1000);
    shift_clock(-20);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev.udata, 1);
    CHECK_EQ(ev.value, 1);
    CHECK_EQ(kernel, 1);
    CHECK(p[0].revents & POLLIN);
    CHECK_EQ(p[1].revents, 0);
    expect_quiet(r, 500);
    CHECK_EQ(evfd_ring_remove(r, 2), 0);
    close(kabs);
    close(krel);
    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
