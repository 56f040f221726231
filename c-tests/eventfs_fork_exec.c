/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* fork and exec with evfd_eventfs_signalfd:
 * - after fork, the child shares the parent's eventfd (one open file
 *   description, as for any inherited fd): deliveries in the child are
 *   counted in the same counter the parent reads, and the child can use
 *   evfd itself (its own registrations count only there);
 * - nothing survives exec: the fds and evfd's internal fds are
 *   close-on-exec, and the exec'd program starts with SIG_DFL for the
 *   signals evfd had a handler for (exec resets handlers; a SIG_IGN that
 *   was in force before evfd's handler is not passed on either). */
#define _GNU_SOURCE
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <evfd.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t take(int fd) {
    uint64_t v = 0;
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    return v;
}

static int eventfds_open(void) {
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len > 0) {
            target[len] = 0;
            if (strstr(target, "[eventfd]"))
                n++;
        }
    }
    closedir(d);
    return n;
}

/* The exec'd image: argv[2], argv[3] are the parent's eventfs fds. */
static int after_exec(char **argv) {
    int a = atoi(argv[2]), b = atoi(argv[3]);
    CHECK_ERR(fcntl(a, F_GETFD), EBADF);
    CHECK_ERR(fcntl(b, F_GETFD), EBADF);
    CHECK_EQ(eventfds_open(), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    CHECK_EQ(sigaction(SIGUSR1, NULL, &sa), 0);
    CHECK(sa.sa_handler == SIG_DFL);
    CHECK_EQ(sigaction(SIGUSR2, NULL, &sa), 0);
    CHECK(sa.sa_handler == SIG_DFL);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "exec-child") == 0)
        return after_exec(argv);

    signal(SIGUSR1, SIG_IGN);
    int chained = evfd_eventfs_signalfd(SIGUSR1, 0);
    int exclusive = evfd_eventfs_signalfd(SIGUSR2, 1);
    CHECK(chained >= 0 && exclusive >= 0);
    CHECK(eventfds_open() >= 4);             /* two fds, two of evfd's */

    /* The child's deliveries land in the shared counters. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 3; i++)
            raise(SIGUSR1);
        raise(SIGUSR2);              /* exclusive in the child too: survives */
        /* evfd works in the child; its own fd counts only here. */
        int own = evfd_eventfs_signalfd(SIGUSR1, 0);
        if (own < 0)
            _exit(10);
        raise(SIGUSR1);
        uint64_t v = 0;
        if (read(own, &v, sizeof v) != 8 || v != 1)
            _exit(11);
        _exit(0);
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_EQ(take(chained), 4);
    CHECK_EQ(take(exclusive), 1);
    raise(SIGUSR1);                           /* and the parent's still count */
    CHECK_EQ(take(chained), 1);

    /* exec: nothing of evfd remains. */
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char a[16], b[16];
        snprintf(a, sizeof a, "%d", chained);
        snprintf(b, sizeof b, "%d", exclusive);
        char *args[] = {argv[0], "exec-child", a, b, NULL};
        execv(argv[0], args);       /* under valgrind /proc/self/exe is valgrind */
        _exit(12);
    }
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);

    close(chained);
    close(exclusive);
    (void)evfd_eventfs_signalfd(0, 0);
    CHECK_EQ(eventfds_open(), 0);
    return 0;
}
