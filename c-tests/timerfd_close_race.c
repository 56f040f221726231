/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Regression: evfd_timerfd on a descriptor that another thread closes
 * during the call fails with EBADF (the documented errno for a descriptor
 * that is not open), never ENOENT. evfd learns a timer's clock from
 * /proc/self/fdinfo/<fd>; when the fd is closed between its type check and
 * that read, the fdinfo file is gone (ENOENT), which used to leak out.
 * Found by threads_concurrent. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define TARGET 600
#define ROUNDS 200000

static atomic_int done;

static void *closer(void *arg) {
    int tfd = *(int *)arg;
    while (!atomic_load(&done)) {
        CHECK_EQ(dup2(tfd, TARGET), TARGET);
        close(TARGET);
    }
    return NULL;
}

int main(void) {
    struct timespec when = {1, 0};
    int before = count_fds();
    int tfd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &when);
    CHECK(tfd >= 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, closer, &tfd), 0);
    long ok = 0, badf = 0;
    for (int i = 0; i < ROUNDS; i++) {
        errno = 0;
        int r = evfd_timerfd(TARGET, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &when);
        if (r == TARGET) {
            ok++;
            continue;
        }
        CHECK_EQ(r, -1);
        if (errno != EBADF) {
            fprintf(stderr, "round %d: errno %d (%s), expected EBADF\n", i, errno,
                    strerror(errno));
            return 1;
        }
        badf++;
    }
    atomic_store(&done, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    printf("%ld re-armed, %ld EBADF\n", ok, badf);
    close(tfd);
    close(TARGET);
    CHECK_NO_LEAK(before);
    return 0;
}
