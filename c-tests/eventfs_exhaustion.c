/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_eventfs_signalfd() and the unprefixed signalfd() when resources run
 * out fail cleanly and change nothing:
 * - with exactly 0, 1, 2 descriptors free below RLIMIT_NOFILE, a
 *   registration (two descriptors: the caller's and evfd's duplicate)
 *   fails with EMFILE at 0 and 1, leaks nothing (the free count is the
 *   same after), and leaves the signal's disposition exactly as it was
 *   (handler, flags, mask) - for a first registration and for a signal that
 *   already has one (which keeps counting); at 2 it works;
 * - the internal table full (32 per signal): the 33rd is EMFILE, chained or
 *   exclusive, nothing leaked, the signal does not become exclusive, and the
 *   32 registrations still count every delivery; once all are closed the
 *   previous disposition is back exactly;
 * - the unprefixed signalfd() on glibc's path (flags) with no descriptor
 *   free fails with EMFILE exactly as glibc's own signalfd does, on the
 *   2007 path (masksize) with EMFILE too, and replacing the mask of an
 *   existing signalfd needs no descriptor on either path. */
#define _GNU_SOURCE
#include "check.h"
#include <dlfcn.h>
#include <evfd.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int handler_runs;

static void on_sig(int sig) {
    (void)sig;
    atomic_fetch_add(&handler_runs, 1);
}

/* Leaves exactly `free_slots` descriptors free below the limit. */
static int fill_leaving(int *filler, int cap, int free_slots) {
    int n = 0;
    for (;;) {
        int fd = dup(0);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            break;
        }
        CHECK(n < cap);
        filler[n++] = fd;
    }
    for (int i = 0; i < free_slots; i++)
        close(filler[--n]);
    return n;
}

/* Exactly `free_slots` descriptors can still be made (counted with dup(),
 * since /proc/self/fd cannot be opened in a full table). */
static void check_free(int free_slots) {
    int made[8], n = 0;
    for (;;) {
        int fd = dup(0);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            break;
        }
        CHECK(n < 8);
        made[n++] = fd;
    }
    CHECK_EQ(n, free_slots);
    while (n > 0)
        close(made[--n]);
}

static void get_action(int sig, struct sigaction *out) {
    memset(out, 0, sizeof *out);
    CHECK_EQ(sigaction(sig, NULL, out), 0);
}

/* handler, flags and mask all equal */
static void check_same_action(int sig, const struct sigaction *want) {
    struct sigaction now;
    get_action(sig, &now);
    CHECK(now.sa_handler == want->sa_handler);
    CHECK_EQ(now.sa_flags, want->sa_flags);
    for (int s = 1; s < SIGRTMAX; s++)
        CHECK_EQ(sigismember(&now.sa_mask, s), sigismember(&want->sa_mask, s));
}

static void raise_here(int sig) {
    CHECK_EQ(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig), 0);
}

/* Waits in poll() first: ThreadSanitizer defers a signal's handler until
 * the thread leaves an intercepted call or enters a blocking one such as
 * poll(), not read(), so a read() straight after the signal would block
 * forever under TSan with the handler still pending. */
static uint64_t take_count(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 60000), 1);
    uint64_t v = 0;
    CHECK_EQ(read(fd, &v, sizeof v), (ssize_t)sizeof v);
    return v;
}

/* evfd reclaims closed registrations on its next call; any call will do. */
static void reclaim(void) { CHECK_ERR(evfd_eventfs_signalfd(0, 0), EINVAL); }

typedef int (*glibc_signalfd_fn)(int, const sigset_t *, int);

static glibc_signalfd_fn glibc_signalfd(void) {
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    CHECK(libc != NULL);
    glibc_signalfd_fn f;
    void *p = dlsym(libc, "signalfd");
    CHECK(p != NULL);
    memcpy(&f, &p, sizeof f);
    return f;
}

static void near_the_limit(void) {
    int chained_sig = SIGRTMIN + 1; /* has a program handler */
    int fresh_sig = SIGURG;         /* SIG_DFL, harmless */
    struct sigaction handler_act, before_chained, before_fresh;
    memset(&handler_act, 0, sizeof handler_act);
    handler_act.sa_handler = on_sig;
    handler_act.sa_flags = SA_RESTART;
    sigaddset(&handler_act.sa_mask, SIGUSR2);
    CHECK_EQ(sigaction(chained_sig, &handler_act, NULL), 0);
    get_action(chained_sig, &before_chained);
    get_action(fresh_sig, &before_fresh);

    /* One registration already open for chained_sig. */
    int existing = evfd_eventfs_signalfd(chained_sig, 0);
    CHECK(existing >= 0);
    struct sigaction with_evfd;
    get_action(chained_sig, &with_evfd);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    int sfd = signalfd(-1, &mask, 0); /* glibc path, made while fds are free */
    CHECK(sfd >= 0);
    glibc_signalfd_fn real = glibc_signalfd();

    struct rlimit old, low;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low.rlim_cur = (rlim_t)count_fds() + 12;
    low.rlim_max = old.rlim_max;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);

    for (int k = 0; k <= 2; k++) {
        int filler[64];
        int n = fill_leaving(filler, 64, k);
        int fd;

        if (k < 2) {
            CHECK_ERR(evfd_eventfs_signalfd(fresh_sig, 0), EMFILE);
            check_same_action(fresh_sig, &before_fresh);
            CHECK_ERR(evfd_eventfs_signalfd(fresh_sig, 1), EMFILE);
            check_same_action(fresh_sig, &before_fresh);
            CHECK_ERR(evfd_eventfs_signalfd(chained_sig, 1), EMFILE);
            check_same_action(chained_sig, &with_evfd);
            check_free(k);
            /* The refused exclusive one did not take the signal over: the
             * program's handler still runs, the old registration counts. */
            int runs = atomic_load(&handler_runs);
            raise_here(chained_sig);
            CHECK_EQ(atomic_load(&handler_runs), runs + 1);
            CHECK_EQ(take_count(existing), 1);
        } else {
            fd = evfd_eventfs_signalfd(fresh_sig, 0);
            CHECK(fd >= 0);
            check_free(0);
            raise_here(fresh_sig);
            CHECK_EQ(take_count(fd), 1);
            close(fd);
            reclaim();
            check_same_action(fresh_sig, &before_fresh);
        }
        /* Argument errors stay EINVAL whatever the table holds. */
        CHECK_ERR(evfd_eventfs_signalfd(SIGKILL, 0), EINVAL);
        CHECK_ERR(evfd_eventfs_signalfd(SIGSEGV, 1), EINVAL);

        if (k == 0) {
            /* glibc's path: exactly glibc's answer, for each flag set. */
            int flagsets[] = {0, SFD_NONBLOCK, SFD_CLOEXEC, SFD_NONBLOCK | SFD_CLOEXEC};
            for (unsigned i = 0; i < sizeof flagsets / sizeof flagsets[0]; i++) {
                errno = 0;
                CHECK_EQ(real(-1, &mask, flagsets[i]), -1);
                int glibc_errno = errno;
                CHECK_EQ(glibc_errno, EMFILE);
                CHECK_ERR(signalfd(-1, &mask, (size_t)flagsets[i]), glibc_errno);
            }
            /* NULL mask: the kernel reads the mask first, EFAULT. */
            const sigset_t *volatile no_mask = NULL; /* hidden from nonnull */
            errno = 0;
            CHECK_EQ(real(-1, no_mask, 0), -1);
            int null_errno = errno;
            CHECK_EQ(null_errno, EFAULT);
            glibc_signalfd_fn ours = signalfd; /* evfd's, without nonnull */
            CHECK_ERR(ours(-1, no_mask, 0), null_errno);
            /* The 2007 path. */
            CHECK_ERR(signalfd(-1, &mask, sizeof mask), EMFILE);
            CHECK_ERR(evfd_signalfd(-1, &mask, sizeof mask), EMFILE);
            check_free(0);
        }
        /* Replacing a mask needs no descriptor, on either path. */
        CHECK_EQ(signalfd(sfd, &mask, 0), sfd);
        CHECK_EQ(signalfd(sfd, &mask, sizeof mask), sfd);
        check_free(k);

        while (n > 0)
            close(filler[--n]);
    }
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    close(sfd);
    close(existing);
    reclaim();
    check_same_action(chained_sig, &before_chained);
    check_same_action(fresh_sig, &before_fresh);
}

static void table_full(void) {
    int sig = SIGRTMIN + 1;
    struct sigaction before;
    get_action(sig, &before);
    int fds[32];
    for (int i = 0; i < 32; i++) {
        fds[i] = evfd_eventfs_signalfd(sig, 0);
        CHECK(fds[i] >= 0);
    }
    struct sigaction with_evfd;
    get_action(sig, &with_evfd);
    int open_fds = count_fds();
    CHECK_ERR(evfd_eventfs_signalfd(sig, 0), EMFILE);
    CHECK_ERR(evfd_eventfs_signalfd(sig, 1), EMFILE);
    CHECK_NO_LEAK(open_fds);
    check_same_action(sig, &with_evfd);
    /* Nothing changed: not exclusive, every registration counts. */
    int runs = atomic_load(&handler_runs);
    /* One at a time: ThreadSanitizer's runtime would merge two. */
    raise_here(sig);
    CHECK_EQ(atomic_load(&handler_runs), runs + 1);
    raise_here(sig);
    CHECK_EQ(atomic_load(&handler_runs), runs + 2);
    for (int i = 0; i < 32; i++)
        CHECK_EQ(take_count(fds[i]), 2);
    /* A freed slot is usable again, and the table refills to exactly 32. */
    close(fds[7]);
    fds[7] = evfd_eventfs_signalfd(sig, 1);
    CHECK(fds[7] >= 0);
    CHECK_ERR(evfd_eventfs_signalfd(sig, 0), EMFILE);
    raise_here(sig);
    CHECK_EQ(atomic_load(&handler_runs), runs + 2); /* exclusive now */
    for (int i = 0; i < 32; i++)
        CHECK_EQ(take_count(fds[i]), 1);
    for (int i = 0; i < 32; i++)
        close(fds[i]);
    reclaim();
    check_same_action(sig, &before);
    /* A full table of one signal does not limit another. */
    int other = evfd_eventfs_signalfd(SIGURG, 0);
    CHECK(other >= 0);
    close(other);
    reclaim();
}

int main(void) {
    int before = count_fds();
    near_the_limit();
    CHECK_NO_LEAK(before);
    table_full();
    CHECK_NO_LEAK(before);
    return 0;
}
