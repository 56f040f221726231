/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The descriptors evfd makes behave across fork() and exec() as the man
 * pages of the kernel objects say (signalfd(2), timerfd_create(2),
 * eventfd(2), fork(2), execve(2)):
 *
 * fork: the child shares each open file description with the parent.
 * - eventfd: one counter; the child's read() consumes what the parent
 *   wrote, and the parent then sees zero; the child's write reaches it.
 * - timerfd: one timer; the child re-arms it through evfd_timerfd and the
 *   parent sees the new setting; the child's read consumes expirations.
 * - signalfd: reads the signals of the process that reads it: the parent's
 *   pending signal is not inherited, the child's own signal is read in the
 *   child with the child's pid, and the parent still reads its own.
 *
 * exec: 2007-style descriptors are not close-on-exec, so they survive
 * exec with their state (signalfd mask, with a signal that was pending
 * before exec; timerfd clock and interval; eventfd count); a duplicate with
 * FD_CLOEXEC set is closed by exec. The test re-executes itself with the
 * "after-exec" argument to check that from the new program image.
 *
 * The same checks run on descriptors made by the unprefixed exports
 * (signalfd() with a 2007 masksize and with glibc's flags 0, timerfd()),
 * and on the kernel's own descriptors (signalfd4, timerfd_create, eventfd2
 * with no flags): the kernel is the reference. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* evfd's unprefixed timerfd() (DESIGN §3; glibc has no such function). */
int timerfd(int ufd, int clockid, int timertype, const struct timespec *when);

static void wait_ok(pid_t pid) {
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "child failed: status 0x%x\n", status);
        exit(1);
    }
}

static unsigned long long bit(int sig) { return 1ull << (sig - 1); }

static void check_fork(int sfd, int tfd, int efd) {
    uint64_t v = 5;
    CHECK_EQ(write(efd, &v, sizeof v), 8);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);          /* pending in the parent only */

    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* eventfd: the same counter. */
        CHECK_EQ(read(efd, &v, sizeof v), 8);
        CHECK_EQ(v, 5);
        v = 7;
        CHECK_EQ(write(efd, &v, sizeof v), 8);
        /* signalfd: fork does not inherit pending signals... */
        CHECK(!poll_in(sfd, 0));
        /* ...but the child's own are read, with the child's pid. */
        CHECK_EQ(kill(getpid(), SIGUSR2), 0);
        struct signalfd_siginfo si;
        CHECK_EQ(read(sfd, &si, sizeof si), sizeof si);
        CHECK_EQ(si.ssi_signo, SIGUSR2);
        CHECK_EQ(si.ssi_pid, getpid());
        /* timerfd: the same timer; re-arm it to a 1 ms period and read. */
        struct timespec ms = {0, 1000000};
        CHECK_EQ(evfd_timerfd(tfd, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &ms), tfd);
        CHECK_EQ(read(tfd, &v, sizeof v), 8);
        CHECK(v >= 1);
        _exit(0);
    }
    wait_ok(pid);
    CHECK_EQ(read(efd, &v, sizeof v), 8);
    CHECK_EQ(v, 7);                                /* the child's 5 was consumed */
    struct itimerspec cur;
    CHECK_EQ(timerfd_gettime(tfd, &cur), 0);
    CHECK_EQ(cur.it_interval.tv_sec, 0);
    CHECK_EQ(cur.it_interval.tv_nsec, 1000000);    /* the child's re-arm */
    struct signalfd_siginfo si;
    CHECK_EQ(read(sfd, &si, sizeof si), sizeof si);
    CHECK_EQ(si.ssi_signo, SIGUSR1);
    CHECK_EQ(si.ssi_pid, getpid());
    CHECK(!poll_in(sfd, 0));                         /* the child's SIGUSR2 stayed there */
}

/* argv: self after-exec sfd tfd efd cloexec-fd... ; checks the state that
 * check_exec set up, from the new program image. */
static int after_exec(int argc, char **argv) {
    CHECK(argc >= 5);
    int sfd = atoi(argv[2]), tfd = atoi(argv[3]), efd = atoi(argv[4]);
    /* Open, not close-on-exec, and the same objects with the same state. */
    CHECK_EQ(fcntl(sfd, F_GETFD), 0);
    CHECK_EQ(fcntl(tfd, F_GETFD), 0);
    CHECK_EQ(fcntl(efd, F_GETFD), 0);
    CHECK_EQ(fdinfo_value(sfd, "sigmask:", 16), bit(SIGUSR1) | bit(SIGUSR2));
    CHECK_EQ(fdinfo_value(tfd, "clockid:", 10), CLOCK_REALTIME);
    CHECK_EQ(fdinfo_value(efd, "eventfd-count:", 16), 42);
    struct itimerspec cur;
    CHECK_EQ(timerfd_gettime(tfd, &cur), 0);
    CHECK_EQ(cur.it_interval.tv_sec, 3600);
    /* The signal mask and the pending SIGUSR2 survive exec too (unless
     * valgrind ran the program before exec: it holds the signals a client
     * blocks in its own queue, which exec discards). */
    struct signalfd_siginfo si;
    if (strcmp(argv[argc - 1], "pending") == 0) {
        argc--;
        CHECK(poll_in(sfd, 0));
        CHECK_EQ(read(sfd, &si, sizeof si), sizeof si);
        CHECK_EQ(si.ssi_signo, SIGUSR2);
        CHECK(!poll_in(sfd, 0));
    } else {
        CHECK_EQ(strcmp(argv[argc - 1], "not-pending"), 0);
        argc--;
    }
    uint64_t v;
    CHECK_EQ(read(efd, &v, sizeof v), 8);
    CHECK_EQ(v, 42);
    /* The FD_CLOEXEC duplicates are gone. */
    for (int i = 5; i < argc; i++)
        CHECK_ERR(fcntl(atoi(argv[i]), F_GETFD), EBADF);
    /* And evfd still works on the inherited descriptors. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    CHECK_EQ(evfd_signalfd(sfd, &usr1, sizeof usr1), sfd);
    CHECK_EQ(evfd_timerfd(tfd, CLOCK_REALTIME, EVFD_TIMER_REL, &(struct timespec){0, 0}), tfd);
    return 0;
}

static void check_exec(const char *self, int sfd, int tfd, int efd) {
    struct timespec hour = {3600, 0};
    CHECK_EQ(evfd_timerfd(tfd, CLOCK_REALTIME, EVFD_TIMER_SEQ, &hour), tfd);
    uint64_t v = 42;
    CHECK_EQ(write(efd, &v, sizeof v), 8);
    int dups[3] = {dup(sfd), dup(tfd), dup(efd)};
    for (int i = 0; i < 3; i++) {
        CHECK(dups[i] >= 0);
        CHECK_EQ(fcntl(dups[i], F_SETFD, FD_CLOEXEC), 0);
    }
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char a[7][16];
        int nums[6] = {sfd, tfd, efd, dups[0], dups[1], dups[2]};
        for (int i = 0; i < 6; i++)
            snprintf(a[i], sizeof a[i], "%d", nums[i]);
        CHECK_EQ(kill(getpid(), SIGUSR2), 0);      /* pending across exec */
        const char *preload = getenv("LD_PRELOAD");
        int valgrind = preload && strstr(preload, "vgpreload");
        execl(self, self, "after-exec", a[0], a[1], a[2], a[3], a[4], a[5],
              valgrind ? "not-pending" : "pending", (char *)NULL);
        perror("execl");
        _exit(1);
    }
    wait_ok(pid);
    for (int i = 0; i < 3; i++)
        close(dups[i]);
    /* The exec'd child read the count the parent wrote: it is shared. */
    CHECK(!poll_in(efd, 0));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0)
        return after_exec(argc, argv);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
    int before = count_fds();
    struct timespec off = {0, 0};

    /* evfd's descriptors; check_exec uses a realtime timer, so that the
     * clock seen after exec is not the default one. */
    int sfd = evfd_signalfd(-1, &mask, sizeof mask);
    int tfd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &off);
    CHECK(sfd >= 0 && tfd >= 0);
    int efd = evfd_eventfd(0);
    CHECK(efd >= 0);
    int rt = evfd_timerfd(-1, CLOCK_REALTIME, EVFD_TIMER_REL, &off);
    CHECK(rt >= 0);
    check_fork(sfd, tfd, efd);
    check_exec(argv[0], sfd, rt, efd);
    close(sfd);
    close(tfd);
    close(efd);
    close(rt);
    CHECK_NO_LEAK(before);

    /* The unprefixed exports: signalfd() on the 2007 path (masksize) and
     * on glibc's path (flags 0), timerfd(): the same behaviour. */
    for (int path = 0; path < 2; path++) {
        sfd = signalfd(-1, &mask, path == 0 ? (int)sizeof mask : 0);
        tfd = timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &off);
        efd = evfd_eventfd(0);
        rt = timerfd(-1, CLOCK_REALTIME, EVFD_TIMER_REL, &off);
        CHECK(sfd >= 0 && tfd >= 0 && efd >= 0 && rt >= 0);
        check_fork(sfd, tfd, efd);
        check_exec(argv[0], sfd, rt, efd);
        close(sfd);
        close(tfd);
        close(efd);
        close(rt);
        CHECK_NO_LEAK(before);
    }
    /* glibc's SFD_CLOEXEC through the unprefixed signalfd sets FD_CLOEXEC
     * (which exec honours, as checked above for the duplicates). */
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    CHECK(sfd >= 0);
    CHECK(fcntl(sfd, F_GETFD) & FD_CLOEXEC);
    close(sfd);

    /* The kernel's, made with no flags: the same behaviour. */
    sfd = (int)syscall(SYS_signalfd4, -1, &mask, 8, 0);
    tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    efd = (int)syscall(SYS_eventfd2, 0, 0);
    rt = timerfd_create(CLOCK_REALTIME, 0);
    CHECK(sfd >= 0 && tfd >= 0 && efd >= 0 && rt >= 0);
    check_fork(sfd, tfd, efd);
    check_exec(argv[0], sfd, rt, efd);
    close(sfd);
    close(tfd);
    close(efd);
    close(rt);
    CHECK_NO_LEAK(before);
    return 0;
}
