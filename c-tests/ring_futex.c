/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_ring_add_futex: one EVFD_KIND_FUTEX event when a private FUTEX_WAKE
 * wakes the word, error EAGAIN when the word does not hold `expected`,
 * one-shot (re-add to wait again), removable, and its argument errors. The
 * kernel is the reference: a plain FUTEX_WAIT with the same word and value
 * also says EAGAIN. Both backends: io_uring's FUTEX_WAIT, and on epoll the
 * ring's helper threads in futex_waitv. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint32_t word;
static int woke;

static long wake(uint32_t *w) {
    return syscall(SYS_futex, w, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
}

static void *waker(void *arg) {
    (void)arg;
    struct timespec pause = {0, 50 * 1000 * 1000};
    while (wake(&word) == 0)
        nanosleep(&pause, NULL);
    __atomic_store_n(&woke, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    uint32_t misaligned[2];

    CHECK_ERR(evfd_ring_add_futex(NULL, &word, 0, 1), EFAULT);
    CHECK_ERR(evfd_ring_add_futex(r, NULL, 0, 1), EFAULT);
    CHECK_ERR(evfd_ring_add_futex(r, (const uint32_t *)((char *)misaligned + 1), 0, 1), EINVAL);

    /* Woken by another thread (the thread exists before the wait here; the
     * single-threaded case is ring_futex_trap). */
    /* Under valgrind 3.19 a wake from a thread created after the wait was
     * armed misses the io_uring waiter in about one run of four (never seen
     * in plain, ASan or TSan runs): valgrind-only, see c-tests/valgrind.supp.
     * That part is skipped there; the rest runs. */
    if (!futex_waits_testable(r)) {
        evfd_ring_free(r);
        SKIP("futex_waitv is ENOSYS under valgrind 3.19");
    }
    if (under_valgrind() && !is_epoll(r)) {
        fprintf(stderr, "note: cross-thread wake skipped (io_uring under valgrind)\n");
        goto same_thread;
    }
    pthread_t t;
    CHECK_EQ(evfd_ring_add_futex(r, &word, 0, 11), 0);
    CHECK_EQ(pthread_create(&t, NULL, waker, NULL), 0);
    struct evfd_event woken;
    if (wait_events(r, &woken, 1) != 1) {
        fprintf(stderr, "no futex event; the waker %s\n",
                __atomic_load_n(&woke, __ATOMIC_SEQ_CST) ? "woke a waiter" : "found no waiter");
        exit(1);
    }
    CHECK_EQ(woken.kind, EVFD_KIND_FUTEX);
    CHECK_EQ(woken.udata, 11);
    CHECK_EQ(woken.error, 0);
    CHECK_EQ(woken.value, 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* One-shot: gone after its event. */
    CHECK_ERR(evfd_ring_remove(r, 11), ENOENT);
    CHECK_EQ(wake(&word), 0);

same_thread:;
    /* Value mismatch: EAGAIN, as the kernel's own FUTEX_WAIT says. */
    struct evfd_event ev;
    word = 5;
    CHECK_ERR(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 4, NULL, NULL, 0), EAGAIN);
    CHECK_EQ(evfd_ring_add_futex(r, &word, 4, 12), 0);
    ev = next_event(r);
    CHECK_EQ(ev.kind, EVFD_KIND_FUTEX);
    CHECK_EQ(ev.udata, 12);
    CHECK_EQ(ev.error, EAGAIN);

    /* Removed before any wake: no event, and the wake finds no waiter. */
    word = 0;
    CHECK_EQ(evfd_ring_add_futex(r, &word, 0, 13), 0);
    CHECK_EQ(evfd_ring_remove(r, 13), 0);
    expect_quiet(r, 200);
    CHECK_EQ(wake(&word), 0);
    CHECK_ERR(evfd_ring_remove(r, 13), ENOENT);

    /* Two waits on one word, one wake each. */
    CHECK_EQ(evfd_ring_add_futex(r, &word, 0, 14), 0);
    CHECK_EQ(evfd_ring_add_futex(r, &word, 0, 15), 0);
    expect_quiet(r, 100); /* both armed (on epoll: the helper is asleep) */
    CHECK_EQ(wake(&word), 1);
    ev = next_event(r);
    CHECK(ev.udata == 14 || ev.udata == 15);
    uint64_t first = ev.udata;
    /* On epoll the helper thread goes back to sleep on the other wait after
     * reporting this one: a wake without a change of the word in that
     * window finds no waiter (the documented window), so wake until one is
     * woken. */
    for (int i = 0; i < 200 && wake(&word) == 0; i++) {
        struct timespec ms = {0, 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    ev = next_event(r);
    CHECK(ev.udata == 14 || ev.udata == 15);
    CHECK(ev.udata != first);

    /* A word that is not mapped: the source fails with EFAULT. */
    CHECK_EQ(evfd_ring_add_futex(r, (const uint32_t *)(uintptr_t)4096, 0, 16), 0);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 16);
    CHECK_EQ(ev.error, EFAULT);

    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
