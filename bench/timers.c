/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* timers.c - how precisely evfd's periodic timers fire, and what many
 * concurrent timers cost.
 *
 *   timers [-d seconds] [-s segments]   (per side; default 60 s in 10
 *                                       segments; quick: 3 s in 2)
 *
 * Part 1, precision: for SEQ periods of 1, 10 and 100 ms, evfd timers
 * (evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, period)) and raw
 * kernel timers (timerfd_create + timerfd_settime with the same interval),
 * each read by its own thread. The duration is cut into segments that
 * alternate evfd, raw, raw, evfd, ... (three timers of one side run at a
 * time, each created afresh): an evfd timer and a raw one never run side
 * by side, where the one woken second would always look later, and drift
 * of the shared machine falls on both alike. After every blocking read the lateness of the newest
 * expiration covered is taken: now - (first expiry + (count-1) * period),
 * where the first expiry comes from timerfd_gettime right after arming.
 * Also reported: total expirations against the number due by the last
 * read, and how many reads saw more than one expiration (overruns).
 *
 * Part 2, many timers: N one-shot timers (1 to 100,000) all due at the
 * same absolute time, consumed by one thread; per timer: time to create
 * and arm, descriptors, RSS and kernel slab growth; per expiration: the
 * consumer's CPU time (epoll_wait + read for fds, evfd_ring_wait for the
 * ring's fd-less timers if the ring is built). */
#define _GNU_SOURCE
#include "bench.h"

#include <evfd.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* ---------------------------------------------------------------- part 1 */

struct precision {
    int evfd;         /* 1: evfd_timerfd, 0: raw timerfd */
    long period_ns;
    double seconds;
    /* results */
    int64_t *late;    /* one per read */
    size_t reads, cap;
    uint64_t expirations, due, overruns;
};

static void *precision_thread(void *arg) {
    struct precision *p = arg;
    struct timespec per = {p->period_ns / 1000000000L, p->period_ns % 1000000000L};
    int fd;
    if (p->evfd) {
        fd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &per);
    } else {
        fd = (int)syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
        struct itimerspec its = {per, per};
        BENCH_CHECK(fd >= 0 && syscall(SYS_timerfd_settime, fd, 0, &its, NULL) == 0);
    }
    BENCH_CHECK(fd >= 0);
    uint64_t t = now_ns();
    struct itimerspec cur;
    BENCH_CHECK(syscall(SYS_timerfd_gettime, fd, &cur) == 0);
    uint64_t first = t + (uint64_t)cur.it_value.tv_sec * 1000000000u + (uint64_t)cur.it_value.tv_nsec;
    uint64_t end = t + (uint64_t)(p->seconds * 1e9);
    uint64_t expirations = 0;
    uint64_t last = t;
    while (last < end) {
        uint64_t exp;
        BENCH_CHECK(read(fd, &exp, 8) == 8 && exp >= 1);
        last = now_ns();
        expirations += exp;
        if (exp > 1)
            p->overruns++;
        if (p->reads == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 4096;
            p->late = realloc(p->late, p->cap * sizeof *p->late);
            BENCH_CHECK(p->late != NULL);
        }
        uint64_t due_at = first + (expirations - 1) * (uint64_t)p->period_ns;
        p->late[p->reads++] = (int64_t)(last - due_at);
    }
    p->expirations += expirations;
    p->due += last >= first ? (last - first) / (uint64_t)p->period_ns + 1 : 0;
    close(fd);
    return NULL;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void run_precision(double seconds, int segments) {
    static const long periods_ms[] = {1, 10, 100};
    struct precision p[6];
    pthread_t th[6];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 6; i++) {
        p[i].evfd = i % 2 == 0;
        p[i].period_ns = periods_ms[i / 2] * 1000000L;
        p[i].seconds = seconds / segments;
    }
    for (int seg = 0; seg < 2 * segments; seg++) {
        int evfd_turn = (seg + seg / 2) % 2 == 0; /* evfd, raw, raw, evfd, ... */
        for (int i = 0; i < 6; i++)
            if (p[i].evfd == evfd_turn)
                BENCH_CHECK(pthread_create(&th[i], NULL, precision_thread, &p[i]) == 0);
        for (int i = 0; i < 6; i++)
            if (p[i].evfd == evfd_turn)
                BENCH_CHECK(pthread_join(th[i], NULL) == 0);
    }
    for (int i = 0; i < 6; i++) {
        const char *side = p[i].evfd ? "evfd" : "raw";
        long ms = p[i].period_ns / 1000000L;
        size_t n = p[i].reads;
        qsort(p[i].late, n, sizeof *p[i].late, cmp_i64);
#define LQ(q) ((long long)p[i].late[(size_t)((q) * (double)(n - 1))])
        printf("timer_precision side=%s period_ms=%ld seconds=%.0f segments=%d reads=%zu expirations=%llu "
               "due=%llu overruns=%llu late_min_ns=%lld late_p50_ns=%lld late_p90_ns=%lld "
               "late_p99_ns=%lld late_p999_ns=%lld late_max_ns=%lld\n",
               side, ms, seconds, segments, n, (unsigned long long)p[i].expirations,
               (unsigned long long)p[i].due, (unsigned long long)p[i].overruns, LQ(0.0),
               LQ(0.5), LQ(0.9), LQ(0.99), LQ(0.999), LQ(1.0));
        for (int k = 0; k <= 100; k++)
            printf("timercdf side=%s period_ms=%ld q=%.2f ns=%lld\n", side, ms, k / 100.0,
                   LQ(k / 100.0));
#undef LQ
        free(p[i].late);
    }
    fflush(stdout);
}

/* ---------------------------------------------------------------- part 2 */

enum many_kind { K_RAW, K_EVFD, K_RING };
static const char *const many_name[] = {"raw_timerfd", "evfd_timerfd", "ring_timer"};

struct many_result {
    double create_ns, cpu_per_exp_ns, drain_ms;
    long fds, rss_kb, slab_kb;
    int late_start; /* the timers were due before the consumer started */
};

static int *fds_buf;

static struct many_result many_fd_timers(enum many_kind k, long n) {
    struct many_result res = {0};
    long fds0 = count_fds(), rss0 = rss_kb(), slab0 = slab_kb();
    uint64_t t0 = now_ns();
    uint64_t deadline = t0 + 100000000u + (uint64_t)n * 25000u;
    struct timespec when = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    struct itimerspec its = {{0, 0}, when};
    for (long i = 0; i < n; i++) {
        int fd;
        if (k == K_EVFD) {
            fd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_ABS, &when);
        } else {
            fd = (int)syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
            if (fd >= 0 && syscall(SYS_timerfd_settime, fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
                BENCH_DIE("timerfd_settime");
        }
        if (fd < 0)
            BENCH_DIE("creating timer %ld of %ld", i, n);
        fds_buf[i] = fd;
    }
    res.create_ns = (double)(now_ns() - t0) / (double)n;
    res.fds = count_fds() - fds0;
    res.rss_kb = rss_kb() - rss0;
    res.slab_kb = slab_kb() - slab0;

    int ep = epoll_create1(EPOLL_CLOEXEC);
    BENCH_CHECK(ep >= 0);
    for (long i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds_buf[i]};
        BENCH_CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fds_buf[i], &ev) == 0);
    }
    res.late_start = now_ns() > deadline;
    struct epoll_event evs[1024];
    long got = 0;
    uint64_t cpu0 = thread_cpu_ns();
    while (got < n) {
        int r = epoll_wait(ep, evs, 1024, -1);
        if (r < 0 && errno == EINTR)
            continue;
        BENCH_CHECK(r > 0);
        for (int j = 0; j < r; j++) {
            uint64_t exp;
            BENCH_CHECK(read(evs[j].data.fd, &exp, 8) == 8 && exp == 1);
            got++;
        }
    }
    res.cpu_per_exp_ns = (double)(thread_cpu_ns() - cpu0) / (double)n;
    res.drain_ms = (double)(now_ns() - deadline) / 1e6;
    close(ep);
    for (long i = 0; i < n; i++)
        close(fds_buf[i]);
    return res;
}

#ifdef EVFD_HAVE_RING
static struct many_result many_ring_timers(long n) {
    struct many_result res = {0};
    long fds0 = count_fds(), rss0 = rss_kb(), slab0 = slab_kb();
    unsigned entries = n < 4096 ? 4096 : (unsigned)(n > 65536 ? 65536 : n);
    struct evfd_ring *ring = evfd_ring_new(entries, 0);
    if (ring == NULL)
        ring = evfd_ring_new(0, 0);
    BENCH_CHECK(ring != NULL);
    uint64_t t0 = now_ns();
    uint64_t deadline = t0 + 100000000u + (uint64_t)n * 25000u;
    struct timespec when = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    for (long i = 0; i < n; i++)
        if (evfd_ring_add_timer(ring, CLOCK_MONOTONIC, EVFD_TIMER_ABS, &when,
                                (uint64_t)i + 1) != 0)
            BENCH_DIE("evfd_ring_add_timer %ld of %ld", i, n);
    res.create_ns = (double)(now_ns() - t0) / (double)n;
    res.fds = count_fds() - fds0;
    res.rss_kb = rss_kb() - rss0;
    res.slab_kb = slab_kb() - slab0;
    res.late_start = now_ns() > deadline;
    struct evfd_event evs[256];
    long got = 0, errors = 0;
    uint64_t cpu0 = thread_cpu_ns();
    while (got < n) {
        int r = evfd_ring_wait(ring, evs, 256, NULL);
        if (r < 0 && errno == EINTR)
            continue;
        BENCH_CHECK(r > 0);
        for (int j = 0; j < r; j++) {
            if (evs[j].error != 0)
                errors++;
            else if (evs[j].kind == EVFD_KIND_TIMER)
                got++;
        }
        if (errors > 0)
            BENCH_DIE("ring reported %ld failed events", errors);
    }
    res.cpu_per_exp_ns = (double)(thread_cpu_ns() - cpu0) / (double)n;
    res.drain_ms = (double)(now_ns() - deadline) / 1e6;
    evfd_ring_free(ring);
    return res;
}
#endif

static int cmp_many(const void *a, const void *b) {
    double x = ((const struct many_result *)a)->cpu_per_exp_ns;
    double y = ((const struct many_result *)b)->cpu_per_exp_ns;
    return (x > y) - (x < y);
}

static void run_many(int quick) {
    long limit = raise_nofile(110000);
    long max_n = quick ? 10000 : 100000;
    fds_buf = malloc((size_t)(max_n < limit ? limit : max_n) * sizeof *fds_buf);
    BENCH_CHECK(fds_buf != NULL);
    for (int k = K_RAW; k <= K_RING; k++) {
#ifndef EVFD_HAVE_RING
        if (k == K_RING) {
            report_missing("timer_many", many_name[k], "ring");
            continue;
        }
#endif
        long room = k == K_RING ? max_n : limit - 64;
        if (room < max_n)
            printf("limit table=timer_many kind=%s wanted=%ld nofile=%ld\n", many_name[k],
                   max_n, limit);
        for (long n = next_count(0, max_n, room); n > 0; n = next_count(n, max_n, room)) {
            int reps = n <= 1000 ? (quick ? 3 : 9) : (quick ? 1 : 3);
            struct many_result r[9];
            for (int i = 0; i < reps; i++) {
#ifdef EVFD_HAVE_RING
                r[i] = k == K_RING ? many_ring_timers(n) : many_fd_timers((enum many_kind)k, n);
#else
                r[i] = many_fd_timers((enum many_kind)k, n);
#endif
            }
            /* The median repetition by consumer cost, and the range. */
            qsort(r, (size_t)reps, sizeof r[0], cmp_many);
            struct many_result m = r[reps / 2];
            printf("timer_many kind=%s n=%ld reps=%d create_ns=%.0f fds_per_timer=%.3f "
                   "rss_kb=%ld slab_kb=%ld cpu_per_exp_ns=%.0f cpu_per_exp_min=%.0f "
                   "cpu_per_exp_max=%.0f drain_ms=%.2f late_start=%d\n",
                   many_name[k], n, reps, m.create_ns, (double)m.fds / (double)n, m.rss_kb,
                   m.slab_kb, m.cpu_per_exp_ns, r[0].cpu_per_exp_ns,
                   r[reps - 1].cpu_per_exp_ns, m.drain_ms, m.late_start);
            fflush(stdout);
        }
    }
    free(fds_buf);
}

int main(int argc, char **argv) {
    int quick = bench_quick();
    double seconds = quick ? 3 : 60;
    int segments = quick ? 2 : 10;
    int opt;
    while ((opt = getopt(argc, argv, "d:s:")) != -1) {
        if (opt == 'd') {
            seconds = atof(optarg);
        } else if (opt == 's') {
            segments = atoi(optarg);
        } else {
            fprintf(stderr, "usage: %s [-d seconds per side] [-s segments per side]\n", argv[0]);
            return 2;
        }
    }
    if (segments < 1 || seconds / segments < 0.5) {
        fprintf(stderr, "need segments >= 1 of at least 0.5 s each\n");
        return 2;
    }
    printf("# timers: precision over %.0f s per side, in %d alternating segments\n", seconds,
           segments);
    run_precision(seconds, segments);
    run_many(quick);
    return 0;
}
