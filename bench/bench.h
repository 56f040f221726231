/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* bench.h - clocks, statistics, result records and feature switches shared
 * by the evfd benchmarks in bench/.
 *
 * Results are written to stdout as one record per line:
 *     <table> key=value key=value ...
 * (no spaces inside a value); bench/report.py turns them into RESULTS.md and
 * the SVG plots. Lines starting with '#' are comments for a human reader.
 *
 * Feature switches, set by bench/features.sh from what the built library
 * declares and exports (so merged features are measured with no edits):
 *   EVFD_HAVE_EVENTFS     evfd_eventfs_signalfd() is declared in <evfd.h>
 *   EVFD_HAVE_RING        the evfd_ring_* API is declared in <evfd.h>
 *   EVFD_HAVE_UNPREFIXED  libevfd.so exports an unprefixed `signalfd`
 * A benchmark that needs a missing feature prints a `missing` record naming
 * it, so the report can say the row was not measured and why. */
#ifndef EVFD_BENCH_H
#define EVFD_BENCH_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_DIE(...)                                                            \
    do {                                                                          \
        int e_ = errno;                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                           \
        fprintf(stderr, __VA_ARGS__);                                             \
        fprintf(stderr, " (errno %d: %s)\n", e_, strerror(e_));                   \
        exit(1);                                                                  \
    } while (0)

#define BENCH_CHECK(cond)                                                         \
    do {                                                                          \
        if (!(cond))                                                              \
            BENCH_DIE("check failed: %s", #cond);                                 \
    } while (0)

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* BENCH_QUICK=1 in the environment: a short smoke run. */
static inline int bench_quick(void) {
    const char *q = getenv("BENCH_QUICK");
    return q != NULL && q[0] != '\0' && strcmp(q, "0") != 0;
}

/* A positive integer from the environment, or `dflt`. */
static inline long bench_env_long(const char *name, long dflt) {
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n <= 0) {
        fprintf(stderr, "%s=%s: expected a positive integer\n", name, v);
        exit(2);
    }
    return n;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Quantile q (0..1) of sorted doubles, by linear interpolation. */
static inline double quantile_d(const double *sorted, size_t n, double q) {
    if (n == 0)
        return 0.0;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return sorted[n - 1];
    double frac = pos - (double)i;
    return sorted[i] + (sorted[i + 1] - sorted[i]) * frac;
}

/* Quantile q of sorted integers (nearest rank: a value that occurred). */
static inline uint64_t quantile_u64(const uint64_t *sorted, size_t n, double q) {
    if (n == 0)
        return 0;
    size_t rank = (size_t)(q * (double)n);
    if (rank >= n)
        rank = n - 1;
    return sorted[rank];
}

/* Median, quartiles and extremes of a small sample (sorted in place). */
struct spread {
    double min, p25, med, p75, max;
};

static inline struct spread spread_of(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    struct spread s = {v[0], quantile_d(v, n, 0.25), quantile_d(v, n, 0.5),
                       quantile_d(v, n, 0.75), v[n - 1]};
    return s;
}

/* Raises RLIMIT_NOFILE: to `want` if allowed (root may raise the hard
 * limit up to fs.nr_open), else to the hard limit. Returns the soft limit
 * now in force and reports what happened. */
static inline long raise_nofile(long want) {
    struct rlimit rl;
    BENCH_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    long hard_before = (long)rl.rlim_max;
    struct rlimit up = {(rlim_t)want, (rlim_t)want};
    if ((long)rl.rlim_max < want && setrlimit(RLIMIT_NOFILE, &up) == 0) {
        printf("nofile hard_before=%ld soft=%ld raised_hard=1\n", hard_before, want);
        return want;
    }
    rl.rlim_cur = rl.rlim_max;
    BENCH_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    printf("nofile hard_before=%ld soft=%ld raised_hard=0\n", hard_before,
           (long)rl.rlim_cur);
    return (long)rl.rlim_cur;
}

/* A "kB" line of /proc/self/status or /proc/meminfo, or -1. */
static inline long proc_kb(const char *file, const char *key) {
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return -1;
    char line[256];
    size_t klen = strlen(key);
    long v = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0) {
            v = strtol(line + klen, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static inline long rss_kb(void) { return proc_kb("/proc/self/status", "VmRSS:"); }
static inline long slab_kb(void) { return proc_kb("/proc/meminfo", "Slab:"); }

/* Open descriptors of this process. */
static inline long count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    BENCH_CHECK(d != NULL);
    long n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", "..", and the directory's own fd */
}

/* The source counts a scale series visits: 1, 10, ... up to `max`, then,
 * if the descriptor limit stops the series below `max`, one last point
 * just under the limit. Returns 0 after the last one. */
static inline long next_count(long n, long max, long fd_room) {
    long next = n == 0 ? 1 : n * 10;
    long cap = max < fd_room ? max : fd_room;
    if (next <= cap)
        return next;
    long last = cap >= 1000 ? cap / 1000 * 1000 : cap;
    return last > n ? last : 0;
}

/* Records that `what` could not be measured because `feature` is not in
 * this build of libevfd. */
static inline void report_missing(const char *table, const char *what,
                                  const char *feature) {
    printf("missing table=%s what=%s feature=%s\n", table, what, feature);
}

#endif
