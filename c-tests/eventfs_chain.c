/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Chained (flags == 0) registrations pass each counted delivery on to the
 * previous disposition: an SA_SIGINFO handler gets the same signal number,
 * siginfo (code, pid, uid, value) and a context; a one-argument handler gets
 * the signal number; SA_RESETHAND runs it once; SIG_IGN stays ignored
 * (for SIGCHLD: children are still reaped automatically); a
 * SIG_DFL that ignores (SIGWINCH, SIGCHLD, SIGURG) stays ignored; a SIG_DFL
 * that terminates still terminates (SIGTERM, and SIGQUIT with its core
 * flag), and one that stops still stops (SIGTSTP) and counts again after
 * SIGCONT. errno survives a delivery, and the chained handler sees the
 * interrupted code's errno. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t info_calls, info_sig, info_code, info_pid, info_uid, info_value;
static volatile sig_atomic_t info_had_context, info_errno, careless;
static void on_info(int sig, siginfo_t *si, void *ctx) {
    info_calls++;
    info_sig = sig;
    info_code = si->si_code;
    info_pid = si->si_pid;
    info_uid = (sig_atomic_t)si->si_uid;
    info_value = si->si_value.sival_int;
    info_had_context = ctx != NULL;
    info_errno = errno;
    if (careless)
        errno = 0; /* evfd still gives errno back */
}

static volatile sig_atomic_t plain_calls, plain_sig;
static void on_plain(int sig) {
    plain_calls++;
    plain_sig = sig;
}

/* A signal sent to the process is handled before sigqueue() returns;
 * ThreadSanitizer defers it to its next intercepted call, so wait a little
 * (in an intercepted call) rather than assume. */
static void wait_for(volatile sig_atomic_t *calls, int n) {
    for (int i = 0; i < 10000 && *calls < n; i++) {
        struct timespec pause = {0, 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    CHECK_EQ(*calls, n);
}

static uint64_t take(int fd) {
    uint64_t v = 0;
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    return v;
}

/* Runs `body` in a child; returns its wait status. */
static int in_child(void (*body)(void)) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        body();
        _exit(0);
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    return status;
}

static void chained_term(void) {
    if (evfd_eventfs_signalfd(SIGTERM, 0) < 0)
        _exit(10);
    raise(SIGTERM);
    _exit(11); /* must not get here */
}

static void chained_quit(void) {
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    if (evfd_eventfs_signalfd(SIGQUIT, 0) < 0)
        _exit(10);
    raise(SIGQUIT);
    _exit(11);
}

static void chained_rt(void) {
    if (evfd_eventfs_signalfd(SIGRTMIN, 0) < 0)
        _exit(10);
    union sigval v = {.sival_int = 1};
    sigqueue(getpid(), SIGRTMIN, v);
    for (int i = 0; i < 10000; i++) { /* see wait_for */
        struct timespec pause = {0, 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    _exit(11);
}

static void resethand_once(void) {
    struct sigaction sa;
    plain_calls = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_plain;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR2, &sa, NULL);
    int fd = evfd_eventfs_signalfd(SIGUSR2, 0);
    if (fd < 0)
        _exit(10);
    raise(SIGUSR2);
    if (plain_calls != 1)
        _exit(12);
    raise(SIGUSR2); /* the default now: terminates */
    _exit(11);
}

static void chained_stop(void) {
    int fd = evfd_eventfs_signalfd(SIGTSTP, 0);
    if (fd < 0)
        _exit(10);
    raise(SIGTSTP); /* stops here until the parent sends SIGCONT */
    uint64_t v = 0;
    if (read(fd, &v, sizeof v) != 8 || v != 1)
        _exit(12);
    /* evfd's handler is back after the stop: it counts again. */
    struct sigaction now;
    sigaction(SIGTSTP, NULL, &now);
    if (now.sa_handler == SIG_DFL)
        _exit(13);
    raise(SIGTSTP);
    if (read(fd, &v, sizeof v) != 8 || v != 1)
        _exit(14);
    _exit(0);
}

int main(void) {
    int before = count_fds();

    /* SA_SIGINFO handler: same arguments as without evfd. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    union sigval val = {.sival_int = 31337};
    errno = 555;
    CHECK_EQ(sigqueue(getpid(), SIGUSR1, val), 0);      /* reference run */
    wait_for(&info_calls, 1);
    CHECK_EQ(info_calls, 1);
    int ref_code = info_code, ref_pid = info_pid, ref_uid = info_uid, ref_errno = info_errno;
    CHECK_EQ(ref_code, SI_QUEUE);
    int fd = evfd_eventfs_signalfd(SIGUSR1, 0);
    CHECK(fd >= 0);
    careless = 1;
    errno = 555;
    CHECK_EQ(sigqueue(getpid(), SIGUSR1, val), 0);
    CHECK_EQ(errno, 555);
    wait_for(&info_calls, 2);
    CHECK_EQ(info_sig, SIGUSR1);
    CHECK_EQ(info_code, ref_code);
    CHECK_EQ(info_pid, ref_pid);
    CHECK_EQ(info_uid, ref_uid);
    CHECK_EQ(info_value, 31337);
    CHECK(info_had_context);
    CHECK_EQ(info_errno, ref_errno);
    CHECK_EQ(take(fd), 1);
    close(fd);

    /* One-argument handler. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_plain;
    CHECK_EQ(sigaction(SIGHUP, &sa, NULL), 0);
    fd = evfd_eventfs_signalfd(SIGHUP, 0);
    CHECK(fd >= 0);
    errno = 777;
    raise(SIGHUP);
    raise(SIGHUP);
    CHECK_EQ(errno, 777);
    CHECK_EQ(plain_calls, 2);
    CHECK_EQ(plain_sig, SIGHUP);
    CHECK_EQ(take(fd), 2);
    close(fd);

    /* SIG_IGN stays ignored; the default "ignore" signals stay ignored. */
    signal(SIGUSR2, SIG_IGN);
    int ignored[] = {SIGUSR2, SIGWINCH, SIGCHLD, SIGURG, SIGCONT};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        fd = evfd_eventfs_signalfd(ignored[i], 0);
        CHECK(fd >= 0);
        raise(ignored[i]);
        raise(ignored[i]);
        CHECK_EQ(take(fd), 2);
        close(fd);
    }
    signal(SIGUSR2, SIG_DFL);

    /* SIGCHLD over SIG_IGN: still counted, and children are still reaped
     * automatically (waitpid finds none), as SIG_IGN does. */
    signal(SIGCHLD, SIG_IGN);
    fd = evfd_eventfs_signalfd(SIGCHLD, 0);
    CHECK(fd >= 0);
    pid_t kid = fork();
    CHECK(kid >= 0);
    if (kid == 0)
        _exit(0);
    CHECK_ERR(waitpid(kid, NULL, 0), ECHILD);
    CHECK_EQ(take(fd), 1);
    close(fd);
    signal(SIGCHLD, SIG_DFL);
    (void)evfd_eventfs_signalfd(0, 0);

    /* errno survives a delivery even when the handler's own system calls
     * fail (here: evfd checks a registration whose fd is closed). */
    fd = evfd_eventfs_signalfd(SIGWINCH, 1);
    CHECK(fd >= 0);
    close(fd);
    errno = 4711;
    raise(SIGWINCH);
    CHECK_EQ(errno, 4711);

    /* Default actions that terminate, dump core, stop. */
    int status = in_child(chained_term);
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(WTERMSIG(status), SIGTERM);
    status = in_child(chained_quit);
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(WTERMSIG(status), SIGQUIT);
    status = in_child(chained_rt);
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(WTERMSIG(status), SIGRTMIN);
    status = in_child(resethand_once);
    if (WIFEXITED(status))
        fprintf(stderr, "resethand child exited %d\n", WEXITSTATUS(status));
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(WTERMSIG(status), SIGUSR2);

    /* The reference first: valgrind's signal emulation never stops a
     * process, evfd or not; there the stop cannot be checked. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        raise(SIGTSTP);
        _exit(0);
    }
    CHECK_EQ(waitpid(pid, &status, WUNTRACED), pid);
    int stops = WIFSTOPPED(status);
    if (stops) {
        CHECK_EQ(kill(pid, SIGCONT), 0);
        CHECK_EQ(waitpid(pid, &status, 0), pid);
    } else {
        fprintf(stderr, "note: SIGTSTP does not stop a process here; not checked\n");
    }
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        chained_stop();
    for (int i = 0; stops && i < 2; i++) {     /* each raise stops it */
        CHECK_EQ(waitpid(pid, &status, WUNTRACED), pid);
        CHECK(WIFSTOPPED(status));
        CHECK_EQ(WSTOPSIG(status), SIGTSTP);
        CHECK_EQ(kill(pid, SIGCONT), 0);
    }
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);

    (void)evfd_eventfs_signalfd(0, 0);
    CHECK_NO_LEAK(before);
    return 0;
}
