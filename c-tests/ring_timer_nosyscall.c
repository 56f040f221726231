/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Adding, re-arming and removing monotonic timers makes no system call,
 * even when each one moves the earliest deadline (DESIGN §4: timers live in
 * user space): while the ring's descriptor has not been asked for, no
 * kernel timer follows the monotonic deadlines, and evfd_ring_wait bounds
 * its sleep by the earliest one instead (ring_timer_sleep.c). The thread
 * traps every system call with seccomp (syscall_trap.h) around 300 adds
 * with ever earlier deadlines (REL and ABS, on CLOCK_MONOTONIC and on
 * CLOCK_REALTIME, whose REL timers run on the monotonic clock), re-arms to
 * earlier deadlines and removals; the count must stay 0, and a getppid()
 * afterwards must be trapped, so the filter is known to work. */
/* evfd-test: backends no-valgrind */
#define _GNU_SOURCE
#include "ring_util.h"
#include "syscall_trap.h"
#include <time.h>

#define TIMERS 300

static struct {
    int during, probe, armed;
    long nr;
} result;

static void *consumer(void *arg) {
    (void)arg;
    struct evfd_ring *r = new_ring(0);
    /* Warm up: the udata index's table is mapped on first use. */
    struct timespec far = {3600, 0};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &far, 1), 0);
    CHECK_EQ(evfd_ring_remove(r, 1), 0);
    struct timespec now;
    CHECK_EQ(clock_gettime(CLOCK_MONOTONIC, &now), 0);

    trap_syscalls();
    int armed = 0;
    for (int i = 0; i < TIMERS; i++) {
        /* Each deadline is earlier than every one before it. */
        struct timespec rel = {3600 - i, 0};
        struct timespec abs = {now.tv_sec + 3600 - i, 500000000};
        uint64_t udata = 100 + (uint64_t)i;
        int ok;
        switch (i % 3) {
        case 0:
            ok = evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &rel, udata);
            break;
        case 1:
            ok = evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_ABS, &abs, udata);
            break;
        default:
            ok = evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_REL, &rel, udata);
            break;
        }
        armed += ok == 0;
    }
    /* Re-arm some earlier still, and remove some. */
    for (int i = 0; i < TIMERS; i += 10) {
        struct timespec sooner = {600, (long)i};
        armed += evfd_ring_rearm_timer(r, 100 + (uint64_t)i, EVFD_TIMER_REL, &sooner) == 0;
    }
    for (int i = 5; i < TIMERS; i += 10)
        armed += evfd_ring_remove(r, 100 + (uint64_t)i) == 0;
    result.during = trapped;
    result.nr = last_nr;
    result.armed = armed;
    (void)getppid();
    result.probe = trapped - result.during;
    trapped_done(); /* main checks the results */
    return NULL;
}

int main(void) {
    run_trapped(consumer);
    if (result.during != 0)
        fprintf(stderr, "timer calls made %d system call(s), the last nr %ld\n", result.during,
                result.nr);
    CHECK_EQ(result.during, 0);
    CHECK_EQ(result.probe, 1);
    CHECK_EQ(result.armed, TIMERS + TIMERS / 10 + TIMERS / 10);
    finish_trapped();
}
