/* The registration belongs to the number evfd_eventfs_signalfd returned:
 * a dup() of it shares the count while that number is open, and once it
 * is closed the copy sees no further deliveries and the signal stops
 * being exclusive at once (before any further evfd call), even though the
 * copy keeps the file open. Checked on both ways evfd compares
 * descriptors: fcntl(F_DUPFD_QUERY) (Linux 6.10 and later), and kcmp(2)
 * with F_DUPFD_QUERY refused by a seccomp filter (as on older kernels). */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __x86_64__
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#endif

#define DUPFD_QUERY 1027 /* F_DUPFD_QUERY, linux/fcntl.h */

static volatile sig_atomic_t handled;
static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

/* Makes fcntl(.., F_DUPFD_QUERY, ..) fail with EINVAL, as before 6.10.
 * Returns 0 where that cannot be done here. */
static int refuse_dupfd_query(void) {
#ifdef __x86_64__
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fcntl, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DUPFD_QUERY, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return 0;
    CHECK_ERR(syscall(SYS_fcntl, 0, DUPFD_QUERY, 0), EINVAL);
    /* kcmp must work for this half to test the kcmp path at all. */
    int a = dup(1);
    CHECK(a >= 0);
    if (syscall(SYS_kcmp, getpid(), getpid(), 0, 1, a) != 0) {
        close(a);
        return 0;
    }
    close(a);
    return 1;
#else
    return 0;
#endif
}

static uint64_t take(int fd) {
    uint64_t v = 0;
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    return v;
}

static void check_dup_then_close(int flags) {
    int fd = evfd_eventfs_signalfd(SIGUSR1, flags);
    CHECK(fd >= 0);
    int copy = dup(fd);
    CHECK(copy >= 0);
    CHECK_EQ(fcntl(copy, F_SETFL, O_NONBLOCK), 0);
    handled = 0;
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(handled, flags ? 0 : 1);
    CHECK_EQ(take(copy), 1); /* the copy shares the count */

    CHECK_EQ(close(fd), 0);  /* no evfd call from here on */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(raise(SIGUSR1), 0);
    uint64_t v;
    CHECK_ERR(read(copy, &v, sizeof v), EAGAIN); /* not counted any more */
    /* Chained: the handler ran each time; exclusive: it runs again now. */
    CHECK_EQ(handled, flags ? 3 : 4);
    CHECK_EQ(close(copy), 0);
}

static void run_checks(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    int before = count_fds();
    check_dup_then_close(0);
    check_dup_then_close(1);
    /* Both at once: the exclusive one closed, the chained one still open. */
    int chained = evfd_eventfs_signalfd(SIGUSR1, 0);
    int excl = evfd_eventfs_signalfd(SIGUSR1, 1);
    CHECK(chained >= 0 && excl >= 0);
    handled = 0;
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(handled, 0);
    CHECK_EQ(close(excl), 0);
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(handled, 1);
    CHECK_EQ(take(chained), 2);
    CHECK_EQ(close(chained), 0);
    CHECK_ERR(evfd_eventfs_signalfd(0, 0), EINVAL); /* reclaims */
    CHECK_NO_LEAK(before);
}

int main(void) {
    for (int kcmp_path = 0; kcmp_path < 2; kcmp_path++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            if (kcmp_path && !refuse_dupfd_query()) {
                fprintf(stderr, "kcmp path not checked: no seccomp filter or no kcmp here\n");
                _exit(0);
            }
            run_checks();
            _exit(0);
        }
        int status;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
    }
    return 0;
}
