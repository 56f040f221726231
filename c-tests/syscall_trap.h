/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* syscall_trap.h - proves a stretch of code makes no system call: a seccomp
 * filter on the calling thread turns every system call (but those needed to
 * leave the thread) into SIGSYS, which on_sigsys counts (run_trapped
 * installs it). */
#ifndef EVFD_SYSCALL_TRAP_H
#define EVFD_SYSCALL_TRAP_H

#include "check.h"
#include <linux/filter.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t trapped;
static volatile long last_nr;

static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    trapped++;
    last_nr = si->si_syscall;
}

#define ALLOW(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/* Traps every system call of this thread except those needed to leave it. */
static void trap_syscalls(void) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        ALLOW(SYS_rt_sigreturn),
        ALLOW(SYS_exit),
        ALLOW(SYS_exit_group),
        ALLOW(SYS_futex),
        ALLOW(SYS_munmap),
        ALLOW(SYS_madvise),
        ALLOW(SYS_rt_sigprocmask),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    /* ThreadSanitizer's runtime maps its per-thread signal state on the
     * thread's first signal: have that happen now, not when the first
     * trapped call raises SIGSYS (its mmap would be trapped inside the
     * handler, and a SIGSYS while SIGSYS is blocked kills the process). */
    CHECK_EQ(raise(SIGSYS), 0);
    struct timespec ms = {0, 1000 * 1000};
    for (int i = 0; i < 20000 && trapped == 0; i++)
        nanosleep(&ms, NULL); /* ThreadSanitizer may run the handler late */
    CHECK_EQ(trapped, 1);
    trapped = 0;
    CHECK_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    /* Without SECCOMP_FILTER_FLAG_TSYNC: this thread only. */
    CHECK_EQ(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), 0);
}

/* Running a stretch of code trapped. A thread that has trapped its system
 * calls cannot even exit cleanly, so the code runs on a thread of its own
 * (run_trapped), which calls trapped_done() when it has stored its
 * results: that thread then spins until main, which printing and checking
 * need system calls for, ends the process with _exit (finish_trapped). */
static int trapped_finished;

static void trapped_done(void) {
    __atomic_store_n(&trapped_finished, 1, __ATOMIC_SEQ_CST);
    for (;;)
        __atomic_load_n(&trapped_finished, __ATOMIC_SEQ_CST);
}

/* Counts SIGSYS, starts `body` on a thread and returns once it called
 * trapped_done(). */
static void run_trapped(void *(*body)(void *)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGSYS, &sa, NULL), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, body, NULL), 0);
    struct timespec pause = {0, 1000 * 1000};
    while (!__atomic_load_n(&trapped_finished, __ATOMIC_SEQ_CST))
        nanosleep(&pause, NULL);
}

/* Ends the test after run_trapped: the trapped thread is still spinning. */
static void finish_trapped(void) {
    fflush(NULL);
    _exit(0);
}

#endif
