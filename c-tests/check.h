/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* check.h - assertions and descriptor accounting shared by the C tests.
 * Every test exits 0 on success, 1 on a failed check, 77 to skip. */
#ifndef EVFD_CHECK_H
#define EVFD_CHECK_H

#include <dirent.h>
#include <poll.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            int e_ = errno;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s (errno %d: %s)\n", __FILE__,     \
                    __LINE__, #cond, e_, strerror(e_));                               \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* `call` must fail with -1 and errno == err. */
#define CHECK_ERR(call, err)                                                          \
    do {                                                                              \
        errno = 0;                                                                    \
        long r_ = (long)(call);                                                       \
        int e_ = errno;                                                               \
        if (r_ != -1 || e_ != (err)) {                                                \
            fprintf(stderr, "%s:%d: %s returned %ld errno %d (%s), expected -1 %s\n", \
                    __FILE__, __LINE__, #call, r_, e_, strerror(e_), #err);           \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define CHECK_EQ(a, b)                                                                \
    do {                                                                              \
        long long a_ = (long long)(a), b_ = (long long)(b);                           \
        if (a_ != b_) {                                                               \
            fprintf(stderr, "%s:%d: %s == %lld, %s == %lld\n", __FILE__, __LINE__,    \
                    #a, a_, #b, b_);                                                  \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define SKIP(why)                                                                     \
    do {                                                                              \
        fprintf(stderr, "skip: %s\n", why);                                           \
        exit(77);                                                                     \
    } while (0)

/* Open descriptors of this process, not counting the one used to count. */
static inline int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    if (!d) {
        perror("opendir /proc/self/fd");
        exit(1);
    }
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

#define CHECK_NO_LEAK(before) CHECK_EQ(count_fds(), (before))

/* The first value of line `key` in /proc/self/fdinfo/<fd>, e.g. "sigmask:"
 * (hex) or "clockid:" (decimal); `base` as for strtoull. */
static inline unsigned long long fdinfo_value(int fd, const char *key, int base) {
    char path[64], line[256];
    unsigned long long v = 0;
    int found = 0;
    FILE *f;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            v = strtoull(line + strlen(key), NULL, base);
            found = 1;
            break;
        }
    }
    fclose(f);
    if (!found) {
        fprintf(stderr, "no %s in %s\n", key, path);
        exit(1);
    }
    return v;
}

/* Whether `fd` polls readable within `ms` milliseconds (0: now). */
static inline int poll_in(int fd, int ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, ms);
    CHECK(n >= 0);
    return n == 1 && (p.revents & POLLIN) != 0;
}

#endif
