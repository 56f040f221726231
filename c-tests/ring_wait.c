/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_ring_wait and evfd_ring_fd: a timeout returns 0 with nothing
 * pending, a signal handler makes wait fail with EINTR, the ring's fd nests
 * in poll() (readable exactly while events are pending, including events
 * left in user memory by a small `max`, and before the ring was ever
 * peeked), peek never blocks, the fd count is
 * back to baseline after evfd_ring_free, and the argument errors of
 * new/peek/wait/fd/backend/remove/post. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;
static void on_alarm(int s) {
    (void)s;
    alarms++;
}

/* ThreadSanitizer runs a handler at its next interception point, maybe
 * after the interrupted call returned: wait for it (bounded). */
static void wait_for_alarms(int n) {
    struct timespec ms = {0, 1000 * 1000};
    for (int i = 0; i < 20000 && alarms < n; i++)
        nanosleep(&ms, NULL);
    CHECK_EQ(alarms, n);
}

int main(void) {
    int before = count_fds();

    /* A ring whose descriptor is polled before it was ever peeked: a post,
     * made before the descriptor was asked for or after, makes it
     * readable. */
    for (int post_first = 0; post_first < 2; post_first++) {
        struct evfd_ring *fresh = new_ring(0);
        if (post_first)
            CHECK_EQ(evfd_ring_post(fresh, 3, 4), 0);
        int ffd = evfd_ring_fd(fresh);
        CHECK(ffd >= 0);
        if (!post_first) {
            CHECK(!poll_in(ffd, 0));
            CHECK_EQ(evfd_ring_post(fresh, 3, 4), 0);
        }
        CHECK(poll_in(ffd, 20000));
        struct evfd_event one;
        CHECK_EQ(evfd_ring_peek(fresh, &one, 1), 1);
        CHECK_EQ(one.udata, 3);
        evfd_ring_free(fresh);
    }

    struct evfd_ring *r = new_ring(0);
    struct evfd_event ev[8];

    /* Timeout with nothing pending: 0. Zero timeout is a peek. */
    struct timespec t = {0, 50 * 1000 * 1000}, zero = {0, 0};
    CHECK_EQ(evfd_ring_wait(r, ev, 8, &t), 0);
    CHECK_EQ(evfd_ring_wait(r, ev, 8, &zero), 0);
    CHECK_EQ(evfd_ring_peek(r, ev, 8), 0);

    /* EINTR: a handler without SA_RESTART interrupts a wait (NULL timeout).
     * Valgrind 3.19 keeps signals blocked while it runs io_uring_enter for
     * the program, so no signal can interrupt that wait under valgrind: the
     * io_uring variant skips this part there (the epoll one still runs). */
    if (under_valgrind() && !is_epoll(r)) {
        fprintf(stderr, "note: EINTR part skipped (io_uring under valgrind)\n");
        goto after_eintr;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = {{0, 0}, {0, 100 * 1000}};
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    CHECK_ERR(evfd_ring_wait(r, ev, 8, NULL), EINTR);
    wait_for_alarms(1);
    /* ... and one with a timeout. */
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    struct timespec longer = {30, 0};
    CHECK_ERR(evfd_ring_wait(r, ev, 8, &longer), EINTR);
    wait_for_alarms(2);
after_eintr:;

    /* The ring's fd in poll(): not readable when empty, readable after a
     * post, not readable once drained. */
    int rfd = evfd_ring_fd(r);
    CHECK(rfd >= 0);
    CHECK_EQ(evfd_ring_fd(r), rfd);
    CHECK(!poll_in(rfd, 0));
    CHECK_EQ(evfd_ring_post(r, 1, 10), 0);
    CHECK(poll_in(rfd, 20000));
    CHECK_EQ(evfd_ring_peek(r, ev, 8), 1);
    CHECK_EQ(ev[0].udata, 1);
    CHECK_EQ(evfd_ring_peek(r, ev, 8), 0);
    CHECK(!poll_in(rfd, 100));

    /* A kernel source makes it readable too. */
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 2), 0);
    CHECK_EQ(evfd_ring_peek(r, ev, 8), 0);
    CHECK(!poll_in(rfd, 100));
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK(poll_in(rfd, 20000));
    CHECK_EQ(evfd_ring_peek(r, ev, 8), 1);
    CHECK_EQ(ev[0].udata, 2);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    CHECK_EQ(evfd_ring_peek(r, ev, 8), 0);
    CHECK(!poll_in(rfd, 100));

    /* Events left in user memory (max smaller than the backlog) keep it
     * readable until taken. */
    for (int i = 0; i < 5; i++)
        CHECK_EQ(evfd_ring_post(r, 3, (uint64_t)i), 0);
    for (int i = 0; i < 5; i++) {
        CHECK(poll_in(rfd, 20000));
        CHECK_EQ(evfd_ring_peek(r, ev, 1), 1);
        CHECK_EQ(ev[0].value, (uint64_t)i);
    }
    CHECK_EQ(evfd_ring_peek(r, ev, 1), 0);
    CHECK(!poll_in(rfd, 100));
    CHECK_EQ(evfd_ring_remove(r, 2), 0);
    close(p[0]);
    close(p[1]);

    /* Errors, without leaking. */
    int mid = count_fds();
    errno = 0;
    CHECK(evfd_ring_new(0, 1) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(evfd_ring_new(0, 0x80000000u) == NULL && errno == EINVAL);
    CHECK_ERR(evfd_ring_peek(NULL, ev, 8), EFAULT);
    CHECK_ERR(evfd_ring_peek(r, NULL, 8), EFAULT);
    CHECK_ERR(evfd_ring_peek(r, ev, 0), EINVAL);
    CHECK_ERR(evfd_ring_wait(NULL, ev, 8, &t), EFAULT);
    CHECK_ERR(evfd_ring_wait(r, NULL, 8, &t), EFAULT);
    CHECK_ERR(evfd_ring_wait(r, ev, 0, &t), EINVAL);
    struct timespec neg = {-1, 0}, bad = {0, 1000000000};
    CHECK_ERR(evfd_ring_wait(r, ev, 8, &neg), EINVAL);
    CHECK_ERR(evfd_ring_wait(r, ev, 8, &bad), EINVAL);
    CHECK_ERR(evfd_ring_fd(NULL), EFAULT);
    CHECK_ERR(evfd_ring_post(NULL, 1, 1), EFAULT);
    CHECK_ERR(evfd_ring_remove(NULL, 1), EFAULT);
    CHECK_ERR(evfd_ring_remove(r, 12345), ENOENT);
    errno = 0;
    CHECK(evfd_ring_backend(NULL) == NULL);
    CHECK_EQ(errno, EFAULT);
    evfd_ring_free(NULL);
    CHECK_NO_LEAK(mid);

    /* A bad EVFD_RING_BACKEND value is refused. */
    const char *forced = getenv("EVFD_RING_BACKEND");
    char *saved = forced ? strdup(forced) : NULL;
    setenv("EVFD_RING_BACKEND", "kqueue", 1);
    errno = 0;
    CHECK(evfd_ring_new(0, 0) == NULL && errno == EINVAL);
    if (saved) {
        setenv("EVFD_RING_BACKEND", saved, 1);
        free(saved);
    } else {
        unsetenv("EVFD_RING_BACKEND");
    }
    CHECK_NO_LEAK(mid);

    /* Freeing a ring with live sources of every kind gives back every fd. */
    CHECK_EQ(pipe(p), 0);
    int after_pipe = count_fds();
    struct evfd_ring *busy = new_ring(4);
    struct timespec period = {0, 1000 * 1000};
    CHECK_EQ(evfd_ring_add_fd(busy, p[0], POLLIN, 1), 0);
    CHECK_EQ(evfd_ring_add_signal(busy, SIGUSR1, 2), 0);
    CHECK_EQ(evfd_ring_add_timer(busy, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period, 3), 0);
    CHECK_EQ(evfd_ring_post(busy, 4, 4), 0);
    CHECK(evfd_ring_fd(busy) >= 0);
    evfd_ring_free(busy);
    CHECK_NO_LEAK(after_pipe);
    close(p[0]);
    close(p[1]);

    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
