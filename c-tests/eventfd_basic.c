/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_eventfd(count): a kernel eventfd with that initial value and no
 * flags, agreeing with eventfd2(count, 0) in every observable way. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

static void check_counter(int fd, unsigned initial) {
    uint64_t v = 0;
    CHECK_EQ(fcntl(fd, F_GETFD), 0);                 /* no close-on-exec */
    CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);    /* blocking */
    CHECK_EQ(fdinfo_value(fd, "eventfd-count:", 16), initial);
    if (initial) {
        CHECK_EQ(read(fd, &v, sizeof v), 8);
        CHECK_EQ(v, initial);
    }
    v = 5;
    CHECK_EQ(write(fd, &v, sizeof v), 8);
    v = 7;
    CHECK_EQ(write(fd, &v, sizeof v), 8);
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    CHECK_EQ(v, 12);
    /* Zero now: a non-blocking read says EAGAIN, poll says not readable. */
    CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    CHECK_ERR(read(fd, &v, sizeof v), EAGAIN);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 0), 0);
    CHECK_ERR(read(fd, &v, 4), EINVAL);              /* short read */
    v = UINT64_MAX;
    CHECK_ERR(write(fd, &v, sizeof v), EINVAL);      /* kernel's rule */
}

int main(void) {
    int before = count_fds();
    unsigned counts[] = {0, 1, 3, 0xfffffffeu, 0xffffffffu};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        int fd = evfd_eventfd(counts[i]);
        CHECK(fd >= 0);
        check_counter(fd, counts[i]);
        int kfd = (int)syscall(SYS_eventfd2, counts[i], 0);
        CHECK(kfd >= 0);
        check_counter(kfd, counts[i]);             /* the kernel agrees */
        CHECK_EQ(fdinfo_value(fd, "eventfd-count:", 16), fdinfo_value(kfd, "eventfd-count:", 16));
        close(fd);
        close(kfd);
    }
    /* errno is left alone on success. */
    errno = 4242;
    int fd = evfd_eventfd(1);
    CHECK(fd >= 0);
    CHECK_EQ(errno, 4242);
    close(fd);
    CHECK_NO_LEAK(before);
    return 0;
}
