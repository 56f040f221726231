/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A plain close() ends an evfd_eventfs_signalfd registration safely:
 * - evfd never writes into the file that later takes the fd number (a
 *   pipe's write end, or another eventfd, dup2()ed onto it), whether or
 *   not an evfd call happened in between;
 * - evfd's internal descriptors are reclaimed on the next evfd call;
 * - once the last fd for a signal is gone, sigaction() shows the previous
 *   disposition again exactly (handler, flags, mask), for a handler,
 *   SIG_DFL and SIG_IGN; a handler the program installed over evfd's in
 *   the meantime is left alone. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void on_info(int sig, siginfo_t *si, void *ctx) {
    (void)sig, (void)si, (void)ctx;
}
static void on_plain(int sig) {
    (void)sig;
}

static void get_action(int sig, struct sigaction *sa) {
    memset(sa, 0, sizeof *sa);
    CHECK_EQ(sigaction(sig, NULL, sa), 0);
}

static int same_action(const struct sigaction *a, const struct sigaction *b) {
    if (a->sa_sigaction != b->sa_sigaction || a->sa_flags != b->sa_flags)
        return 0;
    for (int s = 1; s <= SIGRTMAX; s++)
        if (sigismember(&a->sa_mask, s) != sigismember(&b->sa_mask, s))
            return 0;
    return 1;
}

/* Registers `sig`, closes the fd, puts `foreign` on its number, delivers:
 * the foreign file must see nothing. With `evfd_call`, an evfd call
 * happens between close and reuse (reclaim), else not. */
static void check_reuse_is_safe(int sig, int flags, int evfd_call, int use_pipe) {
    int fd = evfd_eventfs_signalfd(sig, flags);
    CHECK(fd >= 0);
    CHECK_EQ(raise(sig), 0);
    int ends[2], foreign;
    if (use_pipe) {
        CHECK_EQ(pipe2(ends, O_NONBLOCK), 0);
        foreign = ends[1];
    } else {
        foreign = eventfd(0, EFD_NONBLOCK);
        CHECK(foreign >= 0);
        ends[0] = foreign;
    }
    CHECK_EQ(close(fd), 0);
    if (evfd_call)
        (void)evfd_eventfs_signalfd(0, 0);
    CHECK_EQ(dup2(foreign, fd), fd);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(raise(sig), 0);
    /* A later registration must not make evfd find the old one alive. */
    int other = evfd_eventfs_signalfd(sig, flags);
    CHECK(other >= 0);
    CHECK_EQ(raise(sig), 0);
    uint64_t v = 0;
    CHECK_EQ(read(other, &v, sizeof v), 8);
    CHECK_EQ(v, 1);
    char buf[64];
    CHECK_ERR(read(ends[0], buf, sizeof buf), EAGAIN);   /* nothing written */
    close(other);
    close(fd);
    if (use_pipe) {
        close(ends[0]);
        close(ends[1]);
    } else {
        close(foreign);
    }
}

/* Registers twice on `sig` over the current disposition, which must show
 * evfd's handler meanwhile and the exact old one after close + evfd call. */
static void check_restored(int sig) {
    struct sigaction old, during, after;
    get_action(sig, &old);
    int a = evfd_eventfs_signalfd(sig, 0);
    int b = evfd_eventfs_signalfd(sig, 1);
    CHECK(a >= 0 && b >= 0);
    get_action(sig, &during);
    CHECK(!same_action(&old, &during));
    CHECK(during.sa_flags & SA_SIGINFO);
    close(b);
    (void)evfd_eventfs_signalfd(0, 0);
    get_action(sig, &after);
    CHECK(same_action(&during, &after));      /* `a` still open */
    close(a);
    (void)evfd_eventfs_signalfd(0, 0);
    get_action(sig, &after);
    if (!same_action(&old, &after))
        fprintf(stderr, "signal %d: was %s flags %#x, now %s flags %#x\n", sig,
                old.sa_handler == after.sa_handler ? "same" : "other", old.sa_flags, old.sa_handler == after.sa_handler ? "same" : "other", after.sa_flags);
    CHECK(same_action(&old, &after));
}

int main(void) {
    /* Ignored, so that deliveries after close() are harmless. */
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    int before = count_fds();
    for (int evfd_call = 0; evfd_call < 2; evfd_call++)
        for (int use_pipe = 0; use_pipe < 2; use_pipe++) {
            check_reuse_is_safe(SIGUSR1, 0, evfd_call, use_pipe);
            check_reuse_is_safe(SIGUSR2, 1, evfd_call, use_pipe);
        }
    (void)evfd_eventfs_signalfd(0, 0);
    CHECK_NO_LEAK(before);

    /* Internal descriptors: held while registered, gone at the next call. */
    int fd = evfd_eventfs_signalfd(SIGUSR1, 0);
    CHECK(fd >= 0);
    int held = count_fds();
    CHECK(held > before + 1);                 /* fd + evfd's own */
    close(fd);
    CHECK_EQ(count_fds(), held - 1);          /* no evfd call yet */
    int e = evfd_eventfd(0);                  /* any evfd call */
    CHECK(e >= 0);
    close(e);
    CHECK_NO_LEAK(before);

    /* Dispositions restored exactly. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGHUP);
    sigaddset(&sa.sa_mask, SIGRTMIN + 2);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    check_restored(SIGUSR1);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_plain;
    sa.sa_flags = SA_RESETHAND;
    sigaddset(&sa.sa_mask, SIGTERM);
    CHECK_EQ(sigaction(SIGHUP, &sa, NULL), 0);
    check_restored(SIGHUP);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDSTOP;
    CHECK_EQ(sigaction(SIGCHLD, &sa, NULL), 0);
    check_restored(SIGCHLD);
    signal(SIGCHLD, SIG_IGN);
    check_restored(SIGCHLD);
    check_restored(SIGTERM);
    check_restored(SIGRTMIN + 5);

    /* The program replaced evfd's handler: closing leaves the program's. */
    fd = evfd_eventfs_signalfd(SIGUSR2, 0);
    CHECK(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_plain;
    CHECK_EQ(sigaction(SIGUSR2, &sa, NULL), 0);
    close(fd);
    (void)evfd_eventfs_signalfd(0, 0);
    struct sigaction now;
    get_action(SIGUSR2, &now);
    CHECK(now.sa_handler == on_plain);

    CHECK_NO_LEAK(before);
    return 0;
}
