/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_ring_peek makes no system call when posts and due timers are
 * pending, on both backends (DESIGN §4): the consumer thread installs a
 * seccomp filter that traps every system call (SIGSYS, counted by a
 * handler) and then takes pending posts and due timers (user-space timers,
 * found through the vDSO clock) with evfd_ring_peek; the count must stay
 * 0. A getppid() afterwards must be trapped, so the filter is known to
 * work. On epoll the kernel's readiness reports cost an epoll_wait, which
 * peek leaves for a later call while events are pending in user memory. A live eventfs registration is held throughout: the eventfs
 * reclaim that other evfd calls make (a kcmp per registration) must not run
 * in peek. */
/* evfd-test: backends no-valgrind */
#define _GNU_SOURCE
#include "ring_util.h"
#include "syscall_trap.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct evfd_event ev[256];
static struct {
    int during, io_uring, posts, ticks, peeked, probe;
    long nr;
} result;

static void *consumer(void *arg) {
    (void)arg;
    struct evfd_ring *r = new_ring(0);
    struct timespec period = {0, 1000 * 1000};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period, 1), 0);
    /* Warm up: buffers inside the ring reach their size. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++)
            CHECK_EQ(evfd_ring_post(r, 2, (uint64_t)i), 0);
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
        while (evfd_ring_peek(r, ev, 256) > 0)
            ;
    }
    for (int i = 0; i < 100; i++)
        CHECK_EQ(evfd_ring_post(r, 2, (uint64_t)i), 0);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL); /* the SEQ timer falls due meanwhile */

    int io_uring = !is_epoll(r);
    trap_syscalls();
    int posts = 0, ticks = 0;
    int n = evfd_ring_peek(r, ev, 256);
    for (int i = 0; i < n; i++) {
        if (ev[i].kind == EVFD_KIND_USER)
            posts++;
        else if (ev[i].kind == EVFD_KIND_TIMER)
            ticks++;
    }
    result.during = trapped;
    result.nr = last_nr;
    result.io_uring = io_uring;
    result.posts = posts;
    result.ticks = ticks;
    result.peeked = n;
    /* The filter works: a system call is trapped. */
    (void)getppid();
    result.probe = trapped - result.during;
    trapped_done(); /* main checks the results; the ring is left to exit */
    return NULL;
}

int main(void) {
    int eventfs = evfd_eventfs_signalfd(SIGURG, 0); /* chained; SIGURG is harmless */
    CHECK(eventfs >= 0);
    run_trapped(consumer);
    if (result.during != 0)
        fprintf(stderr, "peek made %d system call(s), the last nr %ld\n", result.during, result.nr);
    CHECK_EQ(result.during, 0);
    CHECK_EQ(result.probe, 1);
    CHECK(result.peeked > 0);
    CHECK_EQ(result.posts, 100);
    CHECK(result.ticks >= 1);
    finish_trapped();
}
