/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The Linux 6.18 trap: a private io_uring futex wait armed while the process
 * is still single-threaded must still be woken by FUTEX_WAKE|FUTEX_PRIVATE_FLAG
 * from the first thread created afterwards. This program is single-threaded
 * until the wait is armed. On the epoll backend the ring's helper thread
 * makes the process multi-threaded before the wait: the same test must
 * pass there too. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint32_t word;

static void *waker(void *arg) {
    (void)arg;
    struct timespec pause = {0, 100 * 1000 * 1000};
    long woken = 0;
    /* Keep waking until someone was woken: the wait is armed already, but
     * retrying costs nothing and never hides a lost wait-up (that would
     * leave `woken` at 0 for ever, and the main thread's wait times out). */
    for (int i = 0; i < 100 && woken == 0; i++) {
        __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
        woken = syscall(SYS_futex, &word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
        if (woken == 0)
            nanosleep(&pause, NULL);
    }
    return (void *)woken;
}

int main(void) {
    struct evfd_ring *r = new_ring(0);
    if (!futex_waits_testable(r)) {
        evfd_ring_free(r);
        SKIP("futex_waitv is ENOSYS under valgrind 3.19");
    }
    if (under_valgrind() && !is_epoll(r)) {
        evfd_ring_free(r);
        SKIP("io_uring futex wake across threads is unreliable under valgrind 3.19 (see c-tests/valgrind.supp)");
    }
    CHECK_EQ(evfd_ring_add_futex(r, &word, 0, 99), 0);
    /* Armed, still one thread. Now the first thread. */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, waker, NULL), 0);
    struct evfd_event ev = next_event(r);
    CHECK_EQ(ev.kind, EVFD_KIND_FUTEX);
    CHECK_EQ(ev.udata, 99);
    CHECK_EQ(ev.error, 0);
    void *woken;
    CHECK_EQ(pthread_join(t, &woken), 0);
    /* On epoll the ring's helper may be preempted between arming and
     * sleeping; then the waker's change of the word reaches it first, the
     * event reports the wake-up (checked above) and the FUTEX_WAKE finds
     * no waiter (evfd_ring(3), the documented window). */
    if (!is_epoll(r))
        CHECK_EQ((long)woken, 1);
    evfd_ring_free(r);
    return 0;
}
