/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* overhead.c - what an evfd call costs over the raw system call it wraps.
 *
 * For each operation, an evfd block and a raw block of the same number of
 * iterations run back to back in the same process, in alternating order
 * (evfd first on even repetitions, raw first on odd ones) so that drift
 * (frequency scaling, other tenants) hits both sides alike. Each block
 * gives ns per operation; the report gives, for each side, the median and
 * spread over the repetitions, and the median of the per-repetition ratios
 * evfd/raw (paired, so a noisy repetition moves both sides together).
 *
 * The raw side is always syscall(SYS_...): evfd may export `signalfd`
 * itself, so calling libc's symbol here could land in evfd. The one
 * exception is the glibc comparison, which fetches glibc's own `signalfd`
 * from libc.so.6 with dlsym and checks with dladdr where it lives. */
#define _GNU_SOURCE
#include "bench.h"

#include <dlfcn.h>
#include <evfd.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define KERNEL_SIGSET 8

static sigset_t mask_usr1, mask_usr2;
static int fd_evfd = -1, fd_raw = -1; /* long-lived fds for in-place ops */

typedef void (*op_fn)(long n);

/* --- signalfd --------------------------------------------------------- */

static void sfd_create_evfd(long n) {
    for (long i = 0; i < n; i++) {
        int fd = evfd_signalfd(-1, &mask_usr1, sizeof mask_usr1);
        BENCH_CHECK(fd >= 0);
        close(fd);
    }
}

static void sfd_create_raw(long n) {
    for (long i = 0; i < n; i++) {
        int fd = (int)syscall(SYS_signalfd4, -1, &mask_usr1, KERNEL_SIGSET, 0);
        BENCH_CHECK(fd >= 0);
        close(fd);
    }
}

static void sfd_setmask_evfd(long n) {
    for (long i = 0; i < n; i++) {
        const sigset_t *m = (i & 1) ? &mask_usr2 : &mask_usr1;
        BENCH_CHECK(evfd_signalfd(fd_evfd, m, sizeof *m) == fd_evfd);
    }
}

static void sfd_setmask_raw(long n) {
    for (long i = 0; i < n; i++) {
        const sigset_t *m = (i & 1) ? &mask_usr2 : &mask_usr1;
        BENCH_CHECK(syscall(SYS_signalfd4, fd_raw, m, KERNEL_SIGSET, 0) == fd_raw);
    }
}

/* One signal to this thread (blocked, so it stays pending), then read. */
static void sfd_roundtrip(int fd, long n) {
    struct signalfd_siginfo si;
    pid_t pid = getpid(), tid = gettid();
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(syscall(SYS_tgkill, pid, tid, SIGUSR1) == 0);
        BENCH_CHECK(read(fd, &si, sizeof si) == (ssize_t)sizeof si);
    }
}
static void sfd_roundtrip_evfd(long n) { sfd_roundtrip(fd_evfd, n); }
static void sfd_roundtrip_raw(long n) { sfd_roundtrip(fd_raw, n); }

/* --- timerfd ---------------------------------------------------------- */

static const struct timespec one_second = {1, 0};
static const struct timespec long_ago = {0, 1}; /* absolute: already past */

static void tfd_create_evfd(long n) {
    for (long i = 0; i < n; i++) {
        int fd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &one_second);
        BENCH_CHECK(fd >= 0);
        close(fd);
    }
}

static void tfd_create_raw(long n) {
    struct itimerspec its = {one_second, one_second};
    for (long i = 0; i < n; i++) {
        int fd = (int)syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
        BENCH_CHECK(fd >= 0);
        BENCH_CHECK(syscall(SYS_timerfd_settime, fd, 0, &its, NULL) == 0);
        close(fd);
    }
}

static void tfd_rearm_evfd(long n) {
    for (long i = 0; i < n; i++)
        BENCH_CHECK(evfd_timerfd(fd_evfd, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &one_second) ==
                    fd_evfd);
}

static void tfd_rearm_raw(long n) {
    struct itimerspec its = {one_second, one_second};
    for (long i = 0; i < n; i++)
        BENCH_CHECK(syscall(SYS_timerfd_settime, fd_raw, 0, &its, NULL) == 0);
}

/* Arm to expire at once (absolute time in the past), then read the count. */
static void tfd_roundtrip_evfd(long n) {
    uint64_t exp;
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(evfd_timerfd(fd_evfd, CLOCK_MONOTONIC, EVFD_TIMER_ABS, &long_ago) ==
                    fd_evfd);
        BENCH_CHECK(read(fd_evfd, &exp, sizeof exp) == 8 && exp == 1);
    }
}

static void tfd_roundtrip_raw(long n) {
    struct itimerspec its = {{0, 0}, long_ago};
    uint64_t exp;
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(syscall(SYS_timerfd_settime, fd_raw, TFD_TIMER_ABSTIME, &its, NULL) == 0);
        BENCH_CHECK(read(fd_raw, &exp, sizeof exp) == 8 && exp == 1);
    }
}

/* The read side alone: both fds are armed the same raw way, so this shows
 * that a descriptor made by evfd is an ordinary kernel timerfd. */
static void tfd_read(int fd, long n) {
    struct itimerspec its = {{0, 0}, long_ago};
    uint64_t exp;
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(syscall(SYS_timerfd_settime, fd, TFD_TIMER_ABSTIME, &its, NULL) == 0);
        BENCH_CHECK(read(fd, &exp, sizeof exp) == 8 && exp == 1);
    }
}
static void tfd_read_evfd(long n) { tfd_read(fd_evfd, n); }
static void tfd_read_raw(long n) { tfd_read(fd_raw, n); }

/* --- eventfd ---------------------------------------------------------- */

static void efd_create_evfd(long n) {
    for (long i = 0; i < n; i++) {
        int fd = evfd_eventfd(0);
        BENCH_CHECK(fd >= 0);
        close(fd);
    }
}

static void efd_create_raw(long n) {
    for (long i = 0; i < n; i++) {
        int fd = (int)syscall(SYS_eventfd2, 0, 0);
        BENCH_CHECK(fd >= 0);
        close(fd);
    }
}

static void efd_roundtrip(int fd, long n) {
    uint64_t v = 1;
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(write(fd, &v, 8) == 8);
        BENCH_CHECK(read(fd, &v, 8) == 8 && v == 1);
    }
}
static void efd_roundtrip_evfd(long n) { efd_roundtrip(fd_evfd, n); }
static void efd_roundtrip_raw(long n) { efd_roundtrip(fd_raw, n); }

/* --- unprefixed signalfd, glibc's calling convention ------------------ */

#ifdef EVFD_HAVE_UNPREFIXED
typedef int (*evfd_signalfd_fn)(int, const sigset_t *, size_t);
typedef int (*glibc_signalfd_fn)(int, const sigset_t *, int);
static evfd_signalfd_fn unprefixed_signalfd;
static glibc_signalfd_fn glibc_signalfd;

/* `name` from the object `soname`, or NULL unless dladdr confirms the
 * definition really is in an object whose path contains `expect`. */
static void *symbol_from(const char *soname, const char *name, const char *expect) {
    void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
    if (h == NULL)
        return NULL;
    void *sym = dlsym(h, name);
    Dl_info info;
    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL ||
        strstr(info.dli_fname, expect) == NULL)
        sym = NULL;
    dlclose(h);
    return sym;
}

static void glibc_path_evfd(long n) {
    for (long i = 0; i < n; i++) {
        int fd = unprefixed_signalfd(-1, &mask_usr1, SFD_NONBLOCK | SFD_CLOEXEC);
        BENCH_CHECK(fd >= 0);
        close(fd);
    }
}

static void glibc_path_raw(long n) {
    for (long i = 0; i < n; i++) {
        int fd = glibc_signalfd(-1, &mask_usr1, SFD_NONBLOCK | SFD_CLOEXEC);
        BENCH_CHECK(fd >= 0);
        close(fd);
    }
}
#endif

/* --- the driver ------------------------------------------------------- */

struct op {
    const char *name;  /* record key */
    const char *evfd;  /* what the evfd side calls */
    const char *raw;   /* what the baseline calls */
    op_fn fn_evfd, fn_raw;
    int (*setup)(void); /* opens fd_evfd/fd_raw; 0 = ok */
};

static int setup_signalfds(void) {
    fd_evfd = evfd_signalfd(-1, &mask_usr1, sizeof mask_usr1);
    fd_raw = (int)syscall(SYS_signalfd4, -1, &mask_usr1, KERNEL_SIGSET, 0);
    return fd_evfd < 0 || fd_raw < 0;
}

static int setup_timerfds(void) {
    fd_evfd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &one_second);
    fd_raw = (int)syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
    return fd_evfd < 0 || fd_raw < 0;
}

static int setup_eventfds(void) {
    fd_evfd = evfd_eventfd(0);
    fd_raw = (int)syscall(SYS_eventfd2, 0, 0);
    return fd_evfd < 0 || fd_raw < 0;
}

/* ns per operation of a block: CPU time, and wall time in *wall. */
static double block_ns(op_fn fn, long n, double *wall) {
    uint64_t t0 = now_ns(), c0 = thread_cpu_ns();
    fn(n);
    uint64_t c1 = thread_cpu_ns(), t1 = now_ns();
    *wall = (double)(t1 - t0) / (double)n;
    return (double)(c1 - c0) / (double)n;
}

static void measure(const struct op *op, int reps, double target_ms) {
    if (op->setup != NULL && op->setup() != 0)
        BENCH_DIE("setup for %s", op->name);
    /* Warm up both sides, then size a block to about target_ms. */
    op->fn_evfd(200);
    op->fn_raw(200);
    long n = 200;
    double per;
    block_ns(op->fn_raw, n, &per);
    n = (long)(target_ms * 1e6 / (per > 1.0 ? per : 1.0));
    if (n < 100)
        n = 100;
    size_t sz = (size_t)reps * sizeof(double);
    double *ev = malloc(sz), *rw = malloc(sz), *ratio = malloc(sz), *evw = malloc(sz),
           *rww = malloc(sz), *ratiow = malloc(sz);
    BENCH_CHECK(ev && rw && ratio && evw && rww && ratiow);
    for (int r = 0; r < reps; r++) {
        if (r % 2 == 0) {
            ev[r] = block_ns(op->fn_evfd, n, &evw[r]);
            rw[r] = block_ns(op->fn_raw, n, &rww[r]);
        } else {
            rw[r] = block_ns(op->fn_raw, n, &rww[r]);
            ev[r] = block_ns(op->fn_evfd, n, &evw[r]);
        }
        ratio[r] = ev[r] / rw[r];
        ratiow[r] = evw[r] / rww[r];
    }
    struct spread se = spread_of(ev, (size_t)reps), sr = spread_of(rw, (size_t)reps),
                  sq = spread_of(ratio, (size_t)reps), swe = spread_of(evw, (size_t)reps),
                  swr = spread_of(rww, (size_t)reps), swq = spread_of(ratiow, (size_t)reps);
    printf("overhead op=%s evfd=%s raw=%s reps=%d iters=%ld "
           "evfd_min=%.1f evfd_p25=%.1f evfd_med=%.1f evfd_p75=%.1f evfd_max=%.1f "
           "raw_min=%.1f raw_p25=%.1f raw_med=%.1f raw_p75=%.1f raw_max=%.1f "
           "ratio_min=%.3f ratio_p25=%.3f ratio_med=%.3f ratio_p75=%.3f ratio_max=%.3f "
           "wall_evfd_med=%.1f wall_raw_med=%.1f wall_ratio_p25=%.3f wall_ratio_med=%.3f "
           "wall_ratio_p75=%.3f\n",
           op->name, op->evfd, op->raw, reps, n, se.min, se.p25, se.med, se.p75, se.max,
           sr.min, sr.p25, sr.med, sr.p75, sr.max, sq.min, sq.p25, sq.med, sq.p75, sq.max,
           swe.med, swr.med, swq.p25, swq.med, swq.p75);
    fflush(stdout);
    free(ev);
    free(rw);
    free(ratio);
    free(evw);
    free(rww);
    free(ratiow);
    if (fd_evfd >= 0)
        close(fd_evfd);
    if (fd_raw >= 0)
        close(fd_raw);
    fd_evfd = fd_raw = -1;
}

int main(void) {
    int quick = bench_quick();
    int reps = (int)bench_env_long("BENCH_REPS", quick ? 15 : 31);
    double target_ms = quick ? 2.0 : 20.0;
    if (reps < 15) {
        fprintf(stderr, "BENCH_REPS must be at least 15\n");
        return 2;
    }
    printf("# overhead: ns per operation, %d alternating repetitions per side\n", reps);

    sigemptyset(&mask_usr1);
    sigaddset(&mask_usr1, SIGUSR1);
    sigemptyset(&mask_usr2);
    sigaddset(&mask_usr2, SIGUSR2);
    /* Signals are read from the fds, never delivered. */
    BENCH_CHECK(sigprocmask(SIG_BLOCK, &mask_usr1, NULL) == 0);

    const struct op ops[] = {
        {"signalfd_create_close", "evfd_signalfd(-1,..)+close", "signalfd4+close",
         sfd_create_evfd, sfd_create_raw, NULL},
        {"signalfd_set_mask", "evfd_signalfd(fd,..)", "signalfd4(fd,..)", sfd_setmask_evfd,
         sfd_setmask_raw, setup_signalfds},
        {"signalfd_roundtrip", "tgkill+read(evfd_fd)", "tgkill+read(raw_fd)",
         sfd_roundtrip_evfd, sfd_roundtrip_raw, setup_signalfds},
        {"timerfd_create_close", "evfd_timerfd(-1,SEQ)+close",
         "timerfd_create+timerfd_settime+close", tfd_create_evfd, tfd_create_raw, NULL},
        {"timerfd_rearm", "evfd_timerfd(fd,SEQ)", "timerfd_settime", tfd_rearm_evfd,
         tfd_rearm_raw, setup_timerfds},
        {"timerfd_arm_expire_read", "evfd_timerfd(fd,ABS,past)+read",
         "timerfd_settime(ABS,past)+read", tfd_roundtrip_evfd, tfd_roundtrip_raw,
         setup_timerfds},
        {"timerfd_read", "settime+read(evfd_fd)", "settime+read(raw_fd)", tfd_read_evfd,
         tfd_read_raw, setup_timerfds},
        {"eventfd_create_close", "evfd_eventfd+close", "eventfd2+close", efd_create_evfd,
         efd_create_raw, NULL},
        {"eventfd_roundtrip", "write+read(evfd_fd)", "write+read(raw_fd)",
         efd_roundtrip_evfd, efd_roundtrip_raw, setup_eventfds},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        measure(&ops[i], reps, target_ms);

#ifdef EVFD_HAVE_UNPREFIXED
    void *ev = symbol_from("libevfd.so.0", "signalfd", "libevfd");
    void *gl = symbol_from("libc.so.6", "signalfd", "libc.so");
    if (ev == NULL || gl == NULL) {
        report_missing("overhead", "signalfd_glibc_path", "unprefixed-signalfd-not-found");
    } else {
        /* dlsym hands back an object pointer; copy it into a function
         * pointer of the same size (ISO C has no direct conversion). */
        memcpy(&unprefixed_signalfd, &ev, sizeof ev);
        memcpy(&glibc_signalfd, &gl, sizeof gl);
        const struct op glibc_op = {"signalfd_glibc_path",
                                    "signalfd(-1,..,NONBLOCK|CLOEXEC)@libevfd",
                                    "signalfd(-1,..,NONBLOCK|CLOEXEC)@glibc",
                                    glibc_path_evfd, glibc_path_raw, NULL};
        measure(&glibc_op, reps, target_ms);
    }
#else
    report_missing("overhead", "signalfd_glibc_path", "unprefixed-signalfd");
#endif
    return 0;
}
