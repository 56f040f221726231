/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A burst of more ready eventfds than the ring's old fixed 256 provided
 * buffers (here 1,000, within the completion queue of a 1,024-entry ring) is
 * consumed with evfd_ring_peek without a single system call on the io_uring
 * backend, each event carrying its count. With too few buffers the kernel
 * ended the other multishot reads with ENOBUFS and every one of them had to
 * be re-armed through io_uring_enter before its event could arrive. The
 * consumer thread writes the eventfds itself (so the kernel's reads, task
 * work of that thread, are done when the writes return), then traps every
 * system call of its own with seccomp (SIGSYS, counted) and peeks. On the
 * epoll backend peek is an epoll_wait and a read per event, so only the
 * events are checked there. */
/* evfd-test: backends no-valgrind */
#define _GNU_SOURCE
#include "ring_util.h"
#include "syscall_trap.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SOURCES 1000


static int fds[SOURCES];
static struct evfd_event ev[256];
static unsigned char seen[SOURCES];
static struct {
    int during, io_uring, got, dup, bad;
    long nr;
} result;

static void write_all(void) {
    for (int i = 0; i < SOURCES; i++) {
        uint64_t v = (uint64_t)i + 1;
        CHECK_EQ(write(fds[i], &v, 8), 8);
    }
}

static void *consumer(void *arg) {
    (void)arg;
    struct evfd_ring *r = new_ring(1024);
    for (int i = 0; i < SOURCES; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        CHECK(fds[i] >= 0);
        CHECK_EQ(evfd_ring_add_fd(r, fds[i], POLLIN, (uint64_t)i), 0);
    }
    /* Warm up: buffers inside the ring reach their size. */
    write_all();
    for (int got = 0; got < SOURCES;)
        got += wait_events(r, ev, 256);

    write_all();
    int io_uring = !is_epoll(r);
    if (io_uring)
        trap_syscalls();
    int got = 0, dup = 0, bad = 0;
    for (;;) {
        int n = evfd_ring_peek(r, ev, 256);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            uint64_t u = ev[i].udata;
            if (ev[i].kind != EVFD_KIND_FD || u >= SOURCES || ev[i].value != u + 1 ||
                ev[i].error != 0)
                bad++;
            else if (seen[u]++)
                dup++;
        }
        got += n;
        if (got >= SOURCES)
            break;
    }
    result.during = trapped;
    result.nr = last_nr;
    result.io_uring = io_uring;
    result.got = got;
    result.dup = dup;
    result.bad = bad;
    trapped_done(); /* main checks the results */
    return NULL;
}

int main(void) {
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < SOURCES + 100) {
        if (rl.rlim_max < SOURCES + 100)
            SKIP("RLIMIT_NOFILE hard limit below the 1,100 descriptors needed");
        rl.rlim_cur = SOURCES + 100;
        CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    run_trapped(consumer);
    if (result.during != 0)
        fprintf(stderr, "peek made %d system call(s), the last nr %ld, after %d events\n",
                result.during, result.nr, result.got);
    CHECK_EQ(result.during, 0);
    CHECK_EQ(result.got, SOURCES);
    CHECK_EQ(result.bad, 0);
    CHECK_EQ(result.dup, 0);
    finish_trapped();
}
