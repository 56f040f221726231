/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* With RLIMIT_NOFILE reached, evfd_signalfd, evfd_timerfd and evfd_eventfd
 * fail with EMFILE (as the kernel's calls do) and leak nothing; with one
 * descriptor free again, they work.
 *
 * Then, with exactly 0, 1, 2 and 3 descriptors free: each creation fails
 * with EMFILE exactly when none is free; replacing a signalfd's mask needs
 * no descriptor and always works; re-arming a timer needs one (evfd reads
 * /proc/self/fdinfo to learn the clock) and fails cleanly with EMFILE, the
 * timer untouched, only when none is free; argument errors (EFAULT, EINVAL)
 * are reported as such whatever the table holds. After each round exactly
 * the same number of descriptors is free as before it (counted with dup(),
 * since /proc/self/fd cannot be opened in a full table). */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* Leaves exactly `free_slots` descriptors free below the limit; returns
 * how many fillers it made (in `filler`). */
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

/* Exactly `free_slots` descriptors can still be made: nothing leaked. */
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

static void at_every_free_count(void) {
    sigset_t mask, other;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigemptyset(&other);
    sigaddset(&other, SIGUSR2);
    struct timespec when = {5, 0}, period = {7, 0}, bad = {0, -1};
    int before = count_fds();
    int sfd = evfd_signalfd(-1, &mask, sizeof mask);
    int tfd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &when);
    CHECK(sfd >= 0 && tfd >= 0);
    struct rlimit old, low;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low.rlim_cur = (rlim_t)count_fds() + 10;
    low.rlim_max = old.rlim_max;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);

    for (int k = 0; k <= 3; k++) {
        int filler[64];
        int n = fill_leaving(filler, 64, k);
        int fd;

        CHECK_ERR(evfd_signalfd(-1, NULL, sizeof mask), EFAULT);
        CHECK_ERR(evfd_signalfd(-1, &mask, 4), EINVAL);
        CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &bad), EINVAL);
        CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, 7, &when), EINVAL);
        CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, NULL), EFAULT);
        check_free(k);

        if (k == 0) {
            CHECK_ERR(evfd_signalfd(-1, &mask, sizeof mask), EMFILE);
            CHECK_ERR(evfd_timerfd(-1, CLOCK_BOOTTIME, EVFD_TIMER_SEQ, &when), EMFILE);
            CHECK_ERR(evfd_eventfd(3), EMFILE);
            CHECK_ERR(evfd_timerfd(tfd, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period), EMFILE);
        } else {
            CHECK((fd = evfd_signalfd(-1, &mask, sizeof mask)) >= 0);
            close(fd);
            CHECK((fd = evfd_timerfd(-1, CLOCK_BOOTTIME, EVFD_TIMER_SEQ, &when)) >= 0);
            close(fd);
            CHECK((fd = evfd_eventfd(3)) >= 0);
            close(fd);
            CHECK_EQ(evfd_timerfd(tfd, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period), tfd);
        }
        /* Replacing a mask needs no new descriptor, at any count. */
        CHECK_EQ(evfd_signalfd(sfd, k % 2 ? &other : &mask, sizeof mask), sfd);
        check_free(k);

        while (n > 0)
            close(filler[--n]);
        CHECK_EQ(fdinfo_value(sfd, "sigmask:", 16), 1ull << ((k % 2 ? SIGUSR2 : SIGUSR1) - 1));
        struct itimerspec cur;
        CHECK_EQ(timerfd_gettime(tfd, &cur), 0);
        CHECK_EQ(cur.it_interval.tv_sec, k == 0 ? 0 : 7);   /* k == 0 left it alone */
    }
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    close(sfd);
    close(tfd);
    CHECK_NO_LEAK(before);
}

int main(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    struct timespec when = {5, 0};
    struct rlimit old;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);

    /* Fill the table up to a low limit: the next descriptor would be `limit`. */
    int before = count_fds();
    struct rlimit low = {(rlim_t)before + 8, old.rlim_max};
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    int filler[64], n = 0;
    for (;;) {
        int fd = dup(0);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            break;
        }
        CHECK(n < 64);
        filler[n++] = fd;
    }
    /* count_fds() needs a descriptor itself, so count what we made. */

    CHECK_ERR(evfd_signalfd(-1, &mask, sizeof mask), EMFILE);
    CHECK_ERR(syscall(SYS_signalfd4, -1, &mask, 8, 0), EMFILE);
    CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &when), EMFILE);
    CHECK_ERR(timerfd_create(CLOCK_MONOTONIC, 0), EMFILE);
    CHECK_ERR(evfd_eventfd(0), EMFILE);
    CHECK_ERR(syscall(SYS_eventfd2, 0, 0), EMFILE);

    /* Re-arming an existing timer needs no new descriptor in the caller's
     * table... except the /proc/self/fdinfo one evfd opens to learn its
     * clock: that is EMFILE too, and the timer is left as it was. */
    close(filler[--n]);
    CHECK_EQ(count_fds(), before + n);          /* the failed calls left nothing */
    int tfd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &when);
    CHECK(tfd >= 0);
    CHECK_ERR(evfd_timerfd(tfd, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &when), EMFILE);
    struct itimerspec cur;
    CHECK_EQ(timerfd_gettime(tfd, &cur), 0);
    CHECK_EQ(cur.it_interval.tv_sec, 0);
    close(tfd);

    int fd = evfd_signalfd(-1, &mask, sizeof mask);
    CHECK(fd >= 0);
    close(fd);
    fd = evfd_eventfd(0);
    CHECK(fd >= 0);
    close(fd);

    while (n > 0)
        close(filler[--n]);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK_NO_LEAK(before);
    at_every_free_count();
    return 0;
}
