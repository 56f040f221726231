/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A stream of posts never starves fd readiness, on either backend: while
 * a producer thread keeps the posts queue non-empty, an eventfd made ready
 * must still be reported. On epoll peek takes posts without a system call
 * and looks at the kernel's reports at least once per 1,024 events taken
 * from user memory (evfd_ring(3)); with that bound removed this test waits
 * forever for the eventfd (and fails after its limit).
 *
 * Then a pipe left readable (level semantics: reported until drained) must
 * be reported again and again during the stream, not once. On io_uring the
 * ring watches it with a one-shot poll that is re-armed after each report;
 * the re-arm used to wait for the ring's next io_uring_enter, which a
 * stream that never runs dry never made: the pipe was reported once in
 * 200,000 events (with a slower consumer: 25 times in 12.8 million). */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

static struct evfd_ring *ring;
static int stop;

static void *producer(void *arg) {
    (void)arg;
    uint64_t i = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST))
        CHECK_EQ(evfd_ring_post(ring, 1, i++), 0);
    return NULL;
}

int main(void) {
    int before = count_fds();
    ring = new_ring(0);
    int efd = eventfd(0, EFD_CLOEXEC);
    CHECK(efd >= 0);
    CHECK_EQ(evfd_ring_add_fd(ring, efd, POLLIN, 2), 0);
    /* Three producers and a consumer taking one event per call: the queue
     * is (practically) never found empty. */
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, producer, NULL), 0);
    /* Posts are flowing before the eventfd becomes ready. */
    struct evfd_event ev[64];
    long posts = 0;
    while (posts < 1000) {
        int n = wait_events(ring, ev, 64);
        for (int i = 0; i < n; i++)
            posts += ev[i].kind == EVFD_KIND_USER;
    }
    uint64_t seven = 7;
    CHECK_EQ(write(efd, &seven, 8), 8);
    long limit = under_valgrind() ? 200000 : 2000000, taken = 0;
    int found = 0;
    while (!found && taken < limit) {
        int n = wait_events(ring, ev, 1);
        for (int i = 0; i < n; i++) {
            taken++;
            if (ev[i].kind == EVFD_KIND_FD) {
                CHECK_EQ(ev[i].udata, 2);
                CHECK_EQ(ev[i].value, 7);
                found = 1;
            }
        }
    }
    if (!found)
        fprintf(stderr, "the eventfd was never reported in %ld events\n", taken);
    CHECK(found);

    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    CHECK_EQ(evfd_ring_add_fd(ring, p[0], POLLIN, 3), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    long window = under_valgrind() ? 20000 : 200000, reports = 0;
    for (taken = 0; taken < window;) {
        int n = wait_events(ring, ev, 1);
        for (int i = 0; i < n; i++) {
            taken++;
            if (ev[i].kind == EVFD_KIND_FD) {
                CHECK_EQ(ev[i].udata, 3);
                CHECK(ev[i].revents & POLLIN);
                reports++;
            }
        }
    }
    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    if (reports < 3)
        fprintf(stderr, "the readable pipe was reported %ld time(s) in %ld events\n", reports,
                taken);
    /* About once per 1,024 events: far more than 3 in the window. */
    CHECK(reports >= 3);
    close(p[0]);
    close(p[1]);
    evfd_ring_free(ring);
    close(efd);
    CHECK_NO_LEAK(before);
    return 0;
}
