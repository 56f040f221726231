/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* DESIGN §4: a registered fd that the caller closes without
 * evfd_ring_remove behaves the same on both backends. When its number is
 * added again (now naming a new pipe or eventfd), the add succeeds and the
 * old source is dropped with exactly one event {udata old, EVFD_KIND_FD,
 * error EBADF}; the new source then works, and the old udata is gone. The
 * cases: a pipe's read end closed while its write end stays open; an
 * eventfd (which the ring reads) closed outright; an eventfd whose file
 * lives on through a dup the caller keeps (the ring must go by the number's
 * file, not by whether the file still exists: io_uring's poll request holds
 * a reference to the old file). Adding a number that is still open and
 * registered stays EEXIST. Each case checks the whole sequence of events,
 * so both backends must show the same one. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Moves `fd` to the number `at` (free, or `fd` itself). */
static void renumber(int fd, int at) {
    CHECK(fd >= 0);
    if (fd == at)
        return;
    CHECK_EQ(dup2(fd, at), at);
    CHECK_EQ(close(fd), 0);
}

/* Every event that arrives until the ring has been quiet for 300 ms. */
static int drain(struct evfd_ring *r, struct evfd_event *out, int max) {
    int n = 0;
    struct timespec quiet = {0, 300 * 1000 * 1000};
    for (;;) {
        int k = evfd_ring_wait(r, out + n, (unsigned)(max - n), &quiet);
        if (k < 0 && errno == EINTR)
            continue;
        CHECK(k >= 0);
        if (k == 0)
            return n;
        n += k;
        CHECK(n < max);
    }
}

/* After the re-add: exactly one event, the old source's EBADF. */
static void expect_dropped(struct evfd_ring *r, uint64_t old, int line) {
    struct evfd_event ev[8];
    int n = drain(r, ev, 8);
    for (int i = 0; i < n; i++)
        if (n != 1 || ev[i].udata != old || ev[i].error != EBADF)
            fprintf(stderr, "line %d: event %d of %d: udata %llu kind %u error %d revents %#x\n",
                    line, i, n, (unsigned long long)ev[i].udata, ev[i].kind, ev[i].error,
                    ev[i].revents);
    if (n == 0)
        fprintf(stderr, "line %d: no event for the dropped source\n", line);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].udata, old);
    CHECK_EQ(ev[0].kind, EVFD_KIND_FD);
    CHECK_EQ(ev[0].error, EBADF);
    CHECK_ERR(evfd_ring_remove(r, old), ENOENT);
}

/* Every case, on ring `r`, with each descriptor the test makes moved to a
 * number of at least `low_fd` (0: where the kernel puts it). */
static int low_fd;

static int placed(int fd) {
    CHECK(fd >= 0);
    if (low_fd == 0)
        return fd;
    int moved = fcntl(fd, F_DUPFD, low_fd);
    CHECK(moved >= low_fd);
    CHECK_EQ(close(fd), 0);
    return moved;
}

static void placed_pipe(int p[2]) {
    CHECK_EQ(pipe(p), 0);
    p[0] = placed(p[0]);
    p[1] = placed(p[1]);
}

static void run_cases(struct evfd_ring *r) {
    struct evfd_event ev;
    uint64_t one = 1;

    /* A pipe's read end, closed; the write end stays open. */
    int p[2], q[2];
    placed_pipe(p);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 10), 0);
    CHECK_ERR(evfd_ring_add_fd(r, p[0], POLLIN, 11), EEXIST); /* open and registered */
    CHECK_EQ(write(p[1], "x", 1), 1);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 10);
    CHECK_EQ(ev.revents & POLLIN, POLLIN);
    int num = p[0];
    CHECK_EQ(close(p[0]), 0);
    placed_pipe(q);
    renumber(q[0], num);
    CHECK_EQ(evfd_ring_add_fd(r, num, POLLIN, 11), 0);
    expect_dropped(r, 10, __LINE__);
    CHECK_EQ(write(q[1], "y", 1), 1);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 11);
    CHECK_EQ(ev.kind, EVFD_KIND_FD);
    CHECK_EQ(ev.error, 0);
    CHECK_EQ(ev.revents & POLLIN, POLLIN);
    CHECK_EQ(ev.value, 0);
    char c;
    CHECK_EQ(read(num, &c, 1), 1);
    CHECK_EQ(c, 'y');
    expect_quiet(r, 200);
    CHECK_ERR(evfd_ring_add_fd(r, num, POLLIN, 12), EEXIST);
    CHECK_EQ(evfd_ring_remove(r, 11), 0);
    close(p[1]);
    close(num);
    close(q[1]);

    /* An eventfd, closed outright; the ring reads the new one's count. */
    int efd = placed(eventfd(0, 0));
    CHECK(efd >= 0);
    CHECK_EQ(evfd_ring_add_fd(r, efd, POLLIN, 20), 0);
    uint64_t five = 5;
    CHECK_EQ(write(efd, &five, 8), 8);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 20);
    CHECK_EQ(ev.value, 5);
    num = efd;
    CHECK_EQ(close(efd), 0);
    renumber(placed(eventfd(0, 0)), num);
    CHECK_EQ(evfd_ring_add_fd(r, num, POLLIN, 21), 0);
    expect_dropped(r, 20, __LINE__);
    uint64_t seven = 7;
    CHECK_EQ(write(num, &seven, 8), 8);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 21);
    CHECK_EQ(ev.error, 0);
    CHECK_EQ(ev.value, 7);
    CHECK_EQ(fdinfo_value(num, "eventfd-count:", 16), 0); /* read by the ring */
    expect_quiet(r, 200);
    CHECK_ERR(evfd_ring_add_fd(r, num, POLLIN, 22), EEXIST);

    /* An eventfd whose file lives on through a dup: closing the registered
     * number is what counts. Writes to the old file then reach no one. */
    int old = num, keep = dup(old);
    CHECK(keep >= 0);
    CHECK_EQ(close(old), 0);
    renumber(placed(eventfd(0, 0)), old);
    CHECK_EQ(evfd_ring_add_fd(r, old, POLLIN, 23), 0);
    expect_dropped(r, 21, __LINE__);
    CHECK_EQ(write(keep, &one, 8), 8);
    expect_quiet(r, 200);
    CHECK_EQ(fdinfo_value(keep, "eventfd-count:", 16), 1); /* nobody read it */
    CHECK_EQ(write(old, &seven, 8), 8);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 23);
    CHECK_EQ(ev.value, 7);
    CHECK_EQ(evfd_ring_remove(r, 23), 0);
    CHECK_ERR(evfd_ring_remove(r, 23), ENOENT);
    close(keep);
    close(old);
}

/* Another ring's descriptor (an io_uring one on that backend: the kernel
 * keeps those out of fixed file tables, so the ring remembers it the epoll
 * way): it nests, the same number again is EEXIST, and once that ring is
 * freed and the number names an eventfd, the old source is dropped. */
static void nested_ring_case(struct evfd_ring *r) {
    struct evfd_ring *inner = new_ring(0);
    int num = evfd_ring_fd(inner);
    CHECK(num >= 0);
    CHECK_EQ(evfd_ring_add_fd(r, num, POLLIN, 30), 0);
    CHECK_ERR(evfd_ring_add_fd(r, num, POLLIN, 31), EEXIST);
    CHECK_EQ(evfd_ring_post(inner, 7, 8), 0);
    struct evfd_event ev = next_event(r);
    CHECK_EQ(ev.udata, 30);
    CHECK_EQ(ev.revents & POLLIN, POLLIN);
    struct evfd_event posted;
    CHECK_EQ(evfd_ring_peek(inner, &posted, 1), 1);
    CHECK_EQ(posted.udata, 7);
    evfd_ring_free(inner);
    renumber(eventfd(0, 0), num);
    CHECK_EQ(evfd_ring_add_fd(r, num, POLLIN, 32), 0);
    expect_dropped(r, 30, __LINE__);
    CHECK_EQ(evfd_ring_remove(r, 32), 0);
    close(num);
}

/* A closed source's number taken by the ring's own signalfd (made by the
 * first add_signal): removing the stale source must not unwatch it. */
static void internal_number_case(void) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &usr1, NULL), 0);
    struct evfd_ring *r = new_ring(0);
    int p[2];
    placed_pipe(p);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 40), 0);
    int num = p[0];
    CHECK_EQ(close(p[0]), 0);
    CHECK_EQ(evfd_ring_add_signal(r, SIGUSR1, 41), 0);
    CHECK(fcntl(num, F_GETFD) >= 0); /* the ring's signalfd has the number */
    /* The ring dropped the stale source when it made its signalfd. */
    struct evfd_event ev = next_event(r);
    CHECK_EQ(ev.udata, 40);
    CHECK_EQ(ev.error, EBADF);
    CHECK_ERR(evfd_ring_remove(r, 40), ENOENT);
    CHECK_EQ(raise(SIGUSR1), 0);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 41);
    CHECK_EQ(ev.kind, EVFD_KIND_SIGNAL);
    CHECK_EQ(ev.signo, SIGUSR1);
    expect_quiet(r, 100);
    /* The same with the kernel timer of CLOCK_REALTIME (made by the first
     * ABS timer on it): the stale source's number is never watched again on
     * the ring's timerfd (io_uring re-arms a reported pipe by number). */
    close(p[1]);
    placed_pipe(p);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 42), 0);
    CHECK_EQ(write(p[1], "r", 1), 1);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 42);
    num = p[0];
    CHECK_EQ(close(p[0]), 0);
    struct timespec now;
    CHECK_EQ(clock_gettime(CLOCK_REALTIME, &now), 0);
    now.tv_sec += 1;
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_REALTIME, EVFD_TIMER_ABS, &now, 43), 0);
    if (fcntl(num, F_GETFD) >= 0) { /* the ring's timerfd has the number */
        ev = next_event(r);
        CHECK_EQ(ev.udata, 42);
        CHECK_EQ(ev.error, EBADF);
    }
    ev = next_event(r);
    CHECK_EQ(ev.udata, 43);
    CHECK_EQ(ev.kind, EVFD_KIND_TIMER);
    close(p[1]);
    /* And with the eventfd of the epoll backend's futex helpers (made by
     * the first futex wait; io_uring makes none). */
    if (futex_waits_testable(r)) {
        placed_pipe(p);
        CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 44), 0);
        num = p[0];
        CHECK_EQ(close(p[0]), 0);
        static uint32_t word;
        CHECK_EQ(evfd_ring_add_futex(r, &word, 0, 45), 0);
        if (fcntl(num, F_GETFD) >= 0) { /* the helpers' eventfd has it */
            ev = next_event(r);
            CHECK_EQ(ev.udata, 44);
            CHECK_EQ(ev.error, EBADF);
        }
        CHECK_EQ(evfd_ring_remove(r, 45), 0);
        evfd_ring_remove(r, 44); /* 0, or ENOENT once dropped */
        close(p[1]);
    }
    evfd_ring_free(r);
    close(p[1]);
    CHECK_EQ(sigprocmask(SIG_UNBLOCK, &usr1, NULL), 0);
}

/* Re-adding a reused number with no descriptor free (the ring needs one
 * for an instant to look at an eventfd, and on io_uring to compare files)
 * fails with EMFILE and changes nothing: the old source is still there,
 * with no event; with a descriptor free again the same add succeeds. */
static void no_descriptor_case(void) {
    struct evfd_ring *r = new_ring(0);
    int num = eventfd(0, 0);
    CHECK(num >= 0);
    CHECK_EQ(evfd_ring_add_fd(r, num, POLLIN, 50), 0);
    CHECK_EQ(close(num), 0);
    renumber(eventfd(0, 0), num);
    struct rlimit lim, tight;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    int fill[64], filled = 0;
    tight.rlim_cur = (rlim_t)count_fds() + 8;
    tight.rlim_max = lim.rlim_max;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
    for (int fd; filled < 64 && (fd = dup(num)) >= 0;)
        fill[filled++] = fd;
    CHECK(filled < 64);
    CHECK_ERR(evfd_ring_add_fd(r, num, POLLIN, 51), EMFILE);
    CHECK_EQ(close(fill[--filled]), 0);
    struct evfd_event ev;
    CHECK_EQ(evfd_ring_peek(r, &ev, 1), 0);
    while (filled > 0)
        close(fill[--filled]);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
    CHECK_EQ(evfd_ring_add_fd(r, num, POLLIN, 51), 0);
    expect_dropped(r, 50, __LINE__);
    CHECK_EQ(evfd_ring_remove(r, 51), 0);
    close(num);
    evfd_ring_free(r);
}

/* Files epoll cannot watch are refused alike on both backends (EPERM),
 * also when they come back on a stale source's number: the failed add
 * keeps the stale source. */
static void unpollable_case(struct evfd_ring *r) {
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(null >= 0);
    CHECK_ERR(evfd_ring_add_fd(r, null, POLLIN, 60), EPERM);
    int p[2];
    placed_pipe(p);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 61), 0);
    int num = p[0];
    CHECK_EQ(close(p[0]), 0);
    renumber(null, num);
    CHECK_ERR(evfd_ring_add_fd(r, num, POLLIN, 62), EPERM);
    struct evfd_event ev;
    CHECK_EQ(evfd_ring_peek(r, &ev, 1), 0);
    int q[2];
    placed_pipe(q); /* before the number is free */
    CHECK_EQ(close(num), 0);
    renumber(q[0], num);
    CHECK_EQ(evfd_ring_add_fd(r, num, POLLIN, 63), 0);
    expect_dropped(r, 61, __LINE__);
    CHECK_EQ(evfd_ring_remove(r, 63), 0);
    close(num);
    close(p[1]);
    close(q[1]);
}

/* A number closed while its file lives on through a dup, its source then
 * removed: the file is back on that number later, and adding it is a new
 * source (not EEXIST because of what the first one left behind). */
static void returning_file_case(struct evfd_ring *r) {
    int p[2];
    placed_pipe(p);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 70), 0);
    int num = p[0], keep = dup(p[0]);
    CHECK(keep >= 0);
    CHECK_EQ(close(num), 0);
    evfd_ring_remove(r, 70); /* 0, or ENOENT if already dropped */
    struct evfd_event ev[4];
    while (evfd_ring_peek(r, ev, 4) > 0) {
    }
    CHECK_EQ(dup2(keep, num), num);
    CHECK_EQ(evfd_ring_add_fd(r, num, POLLIN, 71), 0);
    CHECK_EQ(write(p[1], "z", 1), 1);
    struct evfd_event got = next_event(r);
    CHECK_EQ(got.udata, 71);
    CHECK_EQ(evfd_ring_remove(r, 71), 0);
    close(num);
    close(keep);
    close(p[1]);
}

/* After many removals a ready fd is still delivered by the first peek
 * (io_uring: the cancelled requests' completions come first). */
static void peek_after_removals_case(struct evfd_ring *r) {
    int p[2];
    placed_pipe(p);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 80), 0);
    for (int i = 0; i < 100; i++) {
        int e = eventfd(0, 0);
        CHECK(e >= 0);
        CHECK_EQ(evfd_ring_add_fd(r, e, POLLIN, 81), 0);
        CHECK_EQ(evfd_ring_remove(r, 81), 0);
        CHECK_EQ(close(e), 0);
    }
    CHECK_EQ(write(p[1], "w", 1), 1);
    struct evfd_event ev;
    CHECK_EQ(evfd_ring_peek(r, &ev, 1), 1);
    CHECK_EQ(ev.udata, 80);
    CHECK_EQ(evfd_ring_remove(r, 80), 0);
    close(p[0]);
    close(p[1]);
}

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    run_cases(r);
    nested_ring_case(r);
    unpollable_case(r);
    returning_file_case(r);
    peek_after_removals_case(r);
    evfd_ring_free(r);
    internal_number_case();
    no_descriptor_case();

    /* The io_uring backend remembers each watched number's file in a fixed
     * file table of 1,024 slots (fewer if RLIMIT_NOFILE's soft limit is
     * lower when the ring is made), and the rest the epoll way. A ring made
     * under a limit of 64, its table filled with eventfds: the cases on
     * numbers from 100 up go the epoll way; once the eventfds are removed,
     * the same cases again take the slots they left. */
    struct rlimit lim;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_cur < 300 && lim.rlim_max >= 300) {
        lim.rlim_cur = 300;
        CHECK_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
    }
    if (lim.rlim_cur < 300) {
        printf("skip: the second half needs RLIMIT_NOFILE 300\n");
        CHECK_NO_LEAK(before);
        return 0;
    }
    struct rlimit low = {64, lim.rlim_max};
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    r = new_ring(0);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int fillers[64];
    for (int i = 0; i < 64; i++) {
        fillers[i] = eventfd(0, 0);
        CHECK(fillers[i] >= 0);
        CHECK_EQ(evfd_ring_add_fd(r, fillers[i], POLLIN, 1000 + (uint64_t)i), 0);
    }
    low_fd = 100;
    run_cases(r);
    for (int i = 0; i < 64; i++) {
        CHECK_EQ(evfd_ring_remove(r, 1000 + (uint64_t)i), 0);
        CHECK_EQ(close(fillers[i]), 0);
    }
    run_cases(r);
    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
