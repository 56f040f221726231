/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_ring_add_fd: pipe readiness (level-triggered: reported again until
 * drained, like the kernel's level-triggered epoll in the same test),
 * POLLOUT, eventfd and timerfd counts read for you (evfd's and the
 * kernel's), a signalfd's siginfo, removal (after which the ring holds no
 * reference to the file), and the argument errors. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    struct evfd_event ev;

    /* Pipe readiness, level-triggered. */
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 1), 0);
    int ep = epoll_create1(0);
    struct epoll_event ee = {.events = EPOLLIN, .data.u64 = 1};
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ee), 0);
    expect_quiet(r, 100);
    CHECK_EQ(write(p[1], "xy", 2), 2);
    for (int round = 0; round < 3; round++) {
        ev = next_event(r);
        CHECK_EQ(ev.kind, EVFD_KIND_FD);
        CHECK_EQ(ev.udata, 1);
        CHECK_EQ(ev.error, 0);
        CHECK(ev.revents & POLLIN);
        CHECK_EQ(ev.value, 0);
        CHECK_EQ(epoll_wait(ep, &ee, 1, 0), 1); /* the kernel says so too */
    }
    char buf[4];
    CHECK_EQ(read(p[0], buf, sizeof buf), 2);
    expect_quiet(r, 100);
    CHECK_EQ(epoll_wait(ep, &ee, 1, 0), 0);
    /* Same fd twice: EEXIST, like epoll. */
    CHECK_ERR(evfd_ring_add_fd(r, p[0], POLLIN, 2), EEXIST);
    /* Writer end hang-up. */
    close(p[1]);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 1);
    CHECK(ev.revents & POLLHUP);
    CHECK_EQ(evfd_ring_remove(r, 1), 0);
    expect_quiet(r, 100);
    CHECK_ERR(evfd_ring_remove(r, 1), ENOENT);
    close(p[0]);
    close(ep);

    /* POLLOUT on a fresh pipe. */
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(evfd_ring_add_fd(r, p[1], POLLOUT, 3), 0);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 3);
    CHECK(ev.revents & POLLOUT);
    CHECK_EQ(evfd_ring_remove(r, 3), 0);
    /* Removed, then closed: the ring keeps no reference to the file, so
     * the other end sees the hang-up at once. */
    close(p[1]);
    struct pollfd hup = {.fd = p[0], .events = POLLIN};
    CHECK_EQ(poll(&hup, 1, 0), 1);
    CHECK(hup.revents & POLLHUP);
    close(p[0]);

    /* eventfd counts: evfd's and the kernel's, read for you. */
    int efd = evfd_eventfd(0);
    int kfd = eventfd(0, 0);
    CHECK(efd >= 0 && kfd >= 0);
    CHECK_EQ(evfd_ring_add_fd(r, efd, POLLIN, 4), 0);
    CHECK_EQ(evfd_ring_add_fd(r, kfd, POLLIN, 5), 0);
    uint64_t v = 40;
    CHECK_EQ(write(efd, &v, 8), 8);
    v = 2;
    CHECK_EQ(write(efd, &v, 8), 8);
    v = 7;
    CHECK_EQ(write(kfd, &v, 8), 8);
    uint64_t got[6] = {0};
    for (int i = 0; i < 2;) {
        ev = next_event(r);
        CHECK_EQ(ev.kind, EVFD_KIND_FD);
        CHECK(ev.udata == 4 || ev.udata == 5);
        CHECK(ev.revents & POLLIN);
        got[ev.udata] += ev.value;
        i = (got[4] == 42) + (got[5] == 7);
    }
    CHECK_EQ(got[4], 42);
    CHECK_EQ(got[5], 7);
    expect_quiet(r, 100);
    /* The ring read them: the counters are zero again (the fd is blocking,
     * and the ring never blocked on it). */
    CHECK_EQ(fdinfo_value(efd, "eventfd-count:", 16), 0);
    CHECK_EQ(fcntl(efd, F_GETFL) & O_NONBLOCK, 0);
    /* A steady stream, one write at a time, none lost. */
    uint64_t sum = 0;
    for (uint64_t i = 1; i <= 200; i++) {
        CHECK_EQ(write(kfd, &i, 8), 8);
        if (i % 10 == 0)
            while (sum < i * (i + 1) / 2) {
                ev = next_event(r);
                CHECK_EQ(ev.udata, 5);
                sum += ev.value;
            }
    }
    CHECK_EQ(sum, 200 * 201 / 2);
    CHECK_EQ(evfd_ring_remove(r, 4), 0);
    CHECK_EQ(evfd_ring_remove(r, 5), 0);
    close(efd);
    close(kfd);

    /* A non-blocking eventfd (read with read(2) on epoll): the same counts,
     * a stream of them, and its flags untouched. */
    int nb = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(nb >= 0);
    CHECK_EQ(evfd_ring_add_fd(r, nb, POLLIN, 6), 0);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 6);
    CHECK_EQ(ev.value, 3);
    sum = 0;
    for (uint64_t i = 1; i <= 100; i++) {
        CHECK_EQ(write(nb, &i, 8), 8);
        while (sum < i * (i + 1) / 2) {
            ev = next_event(r);
            CHECK_EQ(ev.udata, 6);
            CHECK_EQ(ev.error, 0);
            sum += ev.value;
        }
    }
    CHECK_EQ(sum, 100 * 101 / 2);
    expect_quiet(r, 50);
    CHECK(fcntl(nb, F_GETFL) & O_NONBLOCK);
    CHECK_EQ(evfd_ring_remove(r, 6), 0);
    close(nb);

    /* A semaphore eventfd gives 1 per read: five events of value 1, as
     * five reads of the kernel's own semaphore eventfd would. */
    int sem = eventfd(5, EFD_SEMAPHORE);
    CHECK(sem >= 0);
    CHECK_EQ(evfd_ring_add_fd(r, sem, POLLIN, 40), 0);
    /* All five in one call: the ring reads a semaphore eventfd until it is
     * empty (up to 64 reads per report, evfd_ring(3)), not once per
     * readiness report as it does a plain counter. */
    struct evfd_event five[16];
    CHECK_EQ(evfd_ring_wait(r, five, 16, &(struct timespec){5, 0}), 5);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(five[i].kind, EVFD_KIND_FD);
        CHECK_EQ(five[i].udata, 40);
        CHECK_EQ(five[i].value, 1);
    }
    expect_quiet(r, 100);
    /* And more than one report's worth (64 reads): every unit still
     * arrives as an event of value 1, the rest on the next calls. */
    uint64_t many = 100;
    CHECK_EQ(write(sem, &many, 8), 8);
    for (int i = 0; i < 100; i++) {
        ev = next_event(r);
        CHECK_EQ(ev.udata, 40);
        CHECK_EQ(ev.value, 1);
    }
    expect_quiet(r, 100);
    CHECK_EQ(evfd_ring_remove(r, 40), 0);
    close(sem);

    /* timerfd: expirations read for you. */
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 10 * 1000 * 1000}, {0, 10 * 1000 * 1000}};
    CHECK_EQ(evfd_ring_add_fd(r, tfd, POLLIN, 6), 0);
    CHECK_EQ(timerfd_settime(tfd, 0, &its, NULL), 0);
    uint64_t expirations = 0;
    while (expirations < 5) {
        ev = next_event(r);
        CHECK_EQ(ev.udata, 6);
        CHECK(ev.value >= 1);
        expirations += ev.value;
    }
    CHECK_EQ(evfd_ring_remove(r, 6), 0);
    close(tfd);
    int etfd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &(struct timespec){0, 1000});
    CHECK(etfd >= 0);
    CHECK_EQ(evfd_ring_add_fd(r, etfd, POLLIN, 7), 0);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 7);
    CHECK_EQ(ev.value, 1);
    CHECK_EQ(evfd_ring_remove(r, 7), 0);
    close(etfd);

    /* signalfd: one SIGNAL event per signal, with its siginfo. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
    int sfd = signalfd(-1, &mask, 0);
    CHECK_EQ(evfd_ring_add_fd(r, sfd, POLLIN, 8), 0);
    CHECK_EQ(sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 77}), 0);
    ev = next_event(r);
    CHECK_EQ(ev.kind, EVFD_KIND_SIGNAL);
    CHECK_EQ(ev.udata, 8);
    CHECK_EQ(ev.signo, SIGUSR2);
    CHECK_EQ(ev.code, SI_QUEUE);
    CHECK_EQ(ev.pid, getpid());
    CHECK_EQ(ev.uid, getuid());
    CHECK_EQ(ev.value, 77);
    CHECK_EQ(evfd_ring_remove(r, 8), 0);
    close(sfd);

    /* Errors, without leaking. */
    int mid = count_fds();
    CHECK_ERR(evfd_ring_add_fd(NULL, 0, POLLIN, 9), EFAULT);
    CHECK_ERR(evfd_ring_add_fd(r, -1, POLLIN, 9), EBADF);
    CHECK_ERR(evfd_ring_add_fd(r, 1000, POLLIN, 9), EBADF);
    CHECK_EQ(pipe(p), 0);
    CHECK_ERR(evfd_ring_add_fd(r, p[0], 0, 9), EINVAL);
    CHECK_ERR(evfd_ring_add_fd(r, p[0], 0x80000000u, 9), EINVAL);
    CHECK_ERR(evfd_ring_add_fd(r, evfd_ring_fd(r), POLLIN, 9), EINVAL);
    int reg = open("/proc/self/exe", O_RDONLY);
    CHECK(reg >= 0);
    CHECK_ERR(evfd_ring_add_fd(r, reg, POLLIN, 9), EPERM);
    CHECK_ERR(evfd_ring_remove(r, 9), ENOENT);
    close(reg);
    close(p[0]);
    close(p[1]);
    CHECK_NO_LEAK(mid);

    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
