/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_ring_add_signal: one EVFD_KIND_SIGNAL event per delivered signal
 * with its full siginfo (sigqueue value, pid, uid, si_code), queued
 * real-time signals not merged, every registration of a signal told,
 * removal, and errors (signals 32 and 33, which glibc reserves, refused
 * as evfd_eventfs_signalfd refuses them). The kernel's signalfd is the
 * reference: the same signals read from it carry the same fields. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* Queues `n` SIGRTMIN signals carrying first, first + 1, ...; each must
 * arrive as one event under udata 200, in order, and nothing after. */
static void queue_and_take(struct evfd_ring *r, int n, int first) {
    for (int i = 0; i < n; i++)
        CHECK_EQ(sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = first + i}), 0);
    for (int i = 0; i < n; i++) {
        struct evfd_event ev = next_event(r);
        CHECK_EQ(ev.udata, 200);
        CHECK_EQ(ev.signo, SIGRTMIN);
        CHECK_EQ(ev.value, first + i);
    }
    expect_quiet(r, 100);
}

int main(void) {
    int before = count_fds();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGRTMIN);
    sigaddset(&mask, SIGCHLD);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);

    struct evfd_ring *r = new_ring(0);
    CHECK_EQ(evfd_ring_add_signal(r, SIGUSR1, 100), 0);
    CHECK_EQ(evfd_ring_add_signal(r, SIGRTMIN, 200), 0);

    /* sigqueue: value, pid, uid, SI_QUEUE. */
    CHECK_EQ(sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 1234}), 0);
    struct evfd_event ev = next_event(r);
    CHECK_EQ(ev.kind, EVFD_KIND_SIGNAL);
    CHECK_EQ(ev.udata, 100);
    CHECK_EQ(ev.error, 0);
    CHECK_EQ(ev.signo, SIGUSR1);
    CHECK_EQ(ev.code, SI_QUEUE);
    CHECK_EQ(ev.pid, getpid());
    CHECK_EQ(ev.uid, getuid());
    CHECK_EQ(ev.value, 1234);

    /* kill: SI_USER. */
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    ev = next_event(r);
    CHECK_EQ(ev.signo, SIGUSR1);
    CHECK_EQ(ev.code, SI_USER);
    CHECK_EQ(ev.pid, getpid());

    /* Real-time signals queue: five sent, five events, in order; then
     * 21, more than the ring takes from its signalfd in one read (8), and
     * a multiple of none of its batches. */
    queue_and_take(r, 5, 10);
    queue_and_take(r, 21, 100);

    /* The kernel's signalfd reports the same fields for the same signal. */
    int sfd = signalfd(-1, &mask, 0);
    CHECK_EQ(sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 55}), 0);
    CHECK_EQ(evfd_ring_remove(r, 200), 0); /* the kernel's fd reads this one */
    struct signalfd_siginfo si;
    CHECK_EQ(read(sfd, &si, sizeof si), sizeof si);
    CHECK_EQ(si.ssi_code, SI_QUEUE);
    CHECK_EQ(si.ssi_ptr, 55);
    CHECK_EQ(evfd_ring_add_signal(r, SIGRTMIN, 200), 0);
    CHECK_EQ(sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 55}), 0);
    ev = next_event(r);
    CHECK_EQ(ev.signo, si.ssi_signo);
    CHECK_EQ(ev.code, si.ssi_code);
    CHECK_EQ(ev.pid, si.ssi_pid);
    CHECK_EQ(ev.uid, si.ssi_uid);
    CHECK_EQ(ev.value, si.ssi_ptr);
    close(sfd);

    /* SIGCHLD: si_status and the child's pid. */
    CHECK_EQ(evfd_ring_add_signal(r, SIGCHLD, 300), 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0)
        _exit(42);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 300);
    CHECK_EQ(ev.signo, SIGCHLD);
    CHECK_EQ(ev.code, CLD_EXITED);
    CHECK_EQ(ev.pid, child);
    CHECK_EQ(ev.status, 42);
    waitpid(child, NULL, 0);
    CHECK_EQ(evfd_ring_remove(r, 300), 0);

    /* Two registrations of one signal: each gets the delivery. */
    CHECK_EQ(evfd_ring_add_signal(r, SIGUSR1, 101), 0);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    struct evfd_event two[2];
    two[0] = next_event(r);
    two[1] = next_event(r);
    CHECK_EQ(two[0].udata + two[1].udata, 201);
    CHECK_EQ(two[0].signo, SIGUSR1);
    CHECK_EQ(two[1].signo, SIGUSR1);

    /* Removed: no more events; the signal stays pending (blocked). */
    CHECK_EQ(evfd_ring_remove(r, 100), 0);
    CHECK_EQ(evfd_ring_remove(r, 101), 0);
    CHECK_ERR(evfd_ring_remove(r, 100), ENOENT);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    expect_quiet(r, 200);
    sigset_t pending;
    CHECK_EQ(sigpending(&pending), 0);
    CHECK(sigismember(&pending, SIGUSR1));
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    int signo = 0;
    CHECK_EQ(sigwait(&one, &signo), 0);

    /* Errors. */
    int mid = count_fds();
    CHECK_ERR(evfd_ring_add_signal(NULL, SIGUSR1, 1), EFAULT);
    CHECK_ERR(evfd_ring_add_signal(r, 0, 1), EINVAL);
    CHECK_ERR(evfd_ring_add_signal(r, 65, 1), EINVAL);
    CHECK_ERR(evfd_ring_add_signal(r, -3, 1), EINVAL);
    CHECK_ERR(evfd_ring_add_signal(r, SIGKILL, 1), EINVAL);
    CHECK_ERR(evfd_ring_add_signal(r, SIGSTOP, 1), EINVAL);
    /* 32 and 33 are glibc's (thread cancellation, setxid): refused as
     * evfd_eventfs_signalfd refuses them, with the same errno. */
    for (int reserved = 32; reserved <= 33; reserved++) {
        CHECK_ERR(evfd_eventfs_signalfd(reserved, 0), EINVAL);
        CHECK_ERR(evfd_ring_add_signal(r, reserved, 1), EINVAL);
    }
    CHECK_ERR(evfd_ring_remove(r, 1), ENOENT); /* nothing was registered */
    CHECK_NO_LEAK(mid);

    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
