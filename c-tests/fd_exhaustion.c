/* With RLIMIT_NOFILE reached, evfd_signalfd, evfd_timerfd and evfd_eventfd
 * fail with EMFILE (as the kernel's calls do) and leak nothing; with one
 * descriptor free again, they work. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

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
    return 0;
}
