/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A peek that fails loses nothing: events it had already taken (from the
 * ring's queue, or read from a ready fd) before the kernel poll failed are
 * delivered by the next call. A semaphore eventfd holding 100 is read 64
 * times by one peek, the rest being owed to the next; that next peek reads
 * them and then fails in epoll_wait, because the ring's epoll descriptor
 * is replaced for the call by an eventfd (fault injection: the only way to
 * make that system call fail on demand). All 100 counts must still
 * arrive, and the eventfd must be empty. (A review found 36 lost: the
 * events were written into the caller's array and dropped with it.) The
 * io_uring backend reaps from memory in that step, so this is epoll only. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    if (!is_epoll(r)) {
        evfd_ring_free(r);
        return 77;
    }
    int efd = eventfd(100, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(efd >= 0);
    CHECK_EQ(evfd_ring_add_fd(r, efd, POLLIN, 7), 0);
    struct evfd_event ev[256];
    int n = evfd_ring_peek(r, ev, 256);
    CHECK(n > 0 && n < 100); /* one report's worth of reads, the rest owed */
    long got = n;

    int ep = evfd_ring_fd(r);
    int saved = dup(ep);
    CHECK(saved >= 0);
    int other = eventfd(0, EFD_CLOEXEC);
    CHECK(other >= 0);
    CHECK_EQ(dup2(other, ep), ep);
    errno = 0;
    CHECK_EQ(evfd_ring_peek(r, ev, 256), -1);
    CHECK_EQ(errno, EINVAL); /* epoll_wait on an eventfd */
    CHECK_EQ(dup2(saved, ep), ep);
    close(saved);
    close(other);

    for (int i = 0; i < 10 && got < 100; i++) {
        n = evfd_ring_peek(r, ev, 256);
        CHECK(n >= 0);
        for (int k = 0; k < n; k++) {
            CHECK_EQ(ev[k].udata, 7);
            CHECK_EQ(ev[k].value, 1);
        }
        got += n;
    }
    CHECK_EQ(got, 100);
    uint64_t left;
    CHECK_EQ(read(efd, &left, 8), -1); /* empty: nothing read and dropped */
    CHECK_EQ(errno, EAGAIN);

    evfd_ring_free(r);
    close(efd);
    CHECK_NO_LEAK(before);
    return 0;
}
