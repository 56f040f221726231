/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The registration belongs to the number evfd_eventfs_signalfd returned:
 * a dup() of it shares the count while that number is open, and once it
 * is closed the copy sees no further deliveries and the signal stops
 * being exclusive at once (before any further evfd call), even though the
 * copy keeps the file open. Checked on both ways evfd compares
 * descriptors: fcntl(F_DUPFD_QUERY) (Linux 6.10 and later), and kcmp(2)
 * with F_DUPFD_QUERY refused by a seccomp filter (as on older kernels). */
#define _GNU_SOURCE
#include "check.h"
#include "seccomp_refuse.h"
#include <evfd.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>


static volatile sig_atomic_t handled;
static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

/* Makes fcntl(.., F_DUPFD_QUERY, ..) fail with EINVAL, as before 6.10,
 * leaving kcmp working. Returns 0 where that cannot be done here. */
static int refuse_dupfd_query(void) {
    if (!refuse_fd_comparison(EINVAL, 0))
        return 0;
    /* kcmp must work for this half to test the kcmp path at all. */
    int a = dup(1);
    CHECK(a >= 0);
    if (syscall(SYS_kcmp, getpid(), getpid(), 0, 1, a) != 0) {
        close(a);
        return 0;
    }
    close(a);
    return 1;
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
