/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Exclusive (flags != 0) registrations: the signal is delivered only
 * through the fd, no handler runs and no default action happens (a forked
 * child raising an exclusive SIGTERM survives), and the signal stays
 * exclusive while any exclusive fd for it is open, whatever chained fds
 * exist; once the last exclusive fd is closed, the previous handler runs
 * again (at once, before any further evfd call). */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

static uint64_t take(int fd) {
    uint64_t v = 0;
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    return v;
}

int main(void) {
    /* A child whose SIGTERM is exclusive survives raising it. */
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        int fd = evfd_eventfs_signalfd(SIGTERM, 1);
        if (fd < 0)
            _exit(10);
        raise(SIGTERM);
        kill(getpid(), SIGTERM);
        uint64_t v = 0;
        if (read(fd, &v, sizeof v) != 8 || v != 2)
            _exit(11);
        _exit(0);
    }
    int status;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);

    /* And one whose SIGTERM is chained does not (the test can fail). */
    child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        if (evfd_eventfs_signalfd(SIGTERM, 0) < 0)
            _exit(10);
        raise(SIGTERM);
        _exit(0);
    }
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(WTERMSIG(status), SIGTERM);

    /* Exclusive over a handler: the handler does not run. */
    int before = count_fds();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    int chained = evfd_eventfs_signalfd(SIGUSR1, 0);
    CHECK(chained >= 0);
    raise(SIGUSR1);
    CHECK_EQ(handled, 1);
    int x1 = evfd_eventfs_signalfd(SIGUSR1, 1);
    int x2 = evfd_eventfs_signalfd(SIGUSR1, 7);
    CHECK(x1 >= 0 && x2 >= 0);
    raise(SIGUSR1);
    raise(SIGUSR1);
    CHECK_EQ(handled, 1);
    CHECK_EQ(take(x1), 2);
    CHECK_EQ(take(x2), 2);
    CHECK_EQ(take(chained), 3);
    /* Still exclusive while one exclusive fd is open. */
    close(x1);
    raise(SIGUSR1);
    CHECK_EQ(handled, 1);
    CHECK_EQ(take(x2), 1);
    /* The last exclusive fd closed: the handler runs again at once. */
    close(x2);
    raise(SIGUSR1);
    CHECK_EQ(handled, 2);
    CHECK_EQ(take(chained), 2);
    /* A new exclusive fd makes it exclusive again. */
    int x3 = evfd_eventfs_signalfd(SIGUSR1, 1);
    CHECK(x3 >= 0);
    raise(SIGUSR1);
    CHECK_EQ(handled, 2);
    CHECK_EQ(take(x3), 1);
    CHECK_EQ(take(chained), 1);
    close(x3);
    close(chained);
    raise(SIGUSR1);
    CHECK_EQ(handled, 3);
    (void)evfd_eventfs_signalfd(0, 0);
    CHECK_NO_LEAK(before);
    /* And the handler is the program's own again. */
    struct sigaction now;
    memset(&now, 0, sizeof now);
    CHECK_EQ(sigaction(SIGUSR1, NULL, &now), 0);
    CHECK(now.sa_handler == on_usr1);
    return 0;
}
