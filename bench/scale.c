/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* scale.c - what a source costs as their number grows from 1 to 100,000.
 *
 * For each kind of source, N sources are created, of which one is active
 * and N-1 idle, and all N are registered in one epoll set:
 *   signalfd  evfd_signalfd: the active one for SIGUSR1, the idle ones
 *             for the idle signals (all blocked); an event is
 *             kill(getpid(), SIGUSR1), epoll_wait, read the siginfo
 *   eventfd   evfd_eventfd: an event is a write to the next fd in turn
 *             (round robin over all N), epoll_wait, read
 *   eventfs   evfd_eventfs_signalfd(sig, 1), if built: the active one for
 *             SIGUSR1, the idle ones for the idle signals; kill,
 *             epoll_wait, read
 * The idle signals are SIGUSR2 and SIGRTMIN..SIGRTMAX, taken in turn, so a
 * per-signal limit of an implementation does not cap the series early.
 * Reported per N: descriptors per source, RSS and kernel slab growth per
 * source (/proc/self/status VmRSS, /proc/meminfo Slab; the slab figure is
 * machine-wide, so other processes add noise to it), creation time per
 * source, and the wall and CPU time per event (median and range over
 * repeated blocks). RLIMIT_NOFILE is raised as far as allowed; if that is
 * below 100,000 the series stops just under the limit (reported). */
#define _GNU_SOURCE
#include "bench.h"

#include <evfd.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum kind { K_SIGNALFD, K_EVENTFD, K_EVENTFS, K_COUNT };
static const char *const kind_name[K_COUNT] = {"signalfd", "eventfd", "eventfs"};

static sigset_t mask_usr1, mask_all;
static int idle_sig[64], idle_count;
static sigset_t idle_mask[64];
static int *src;

/* Source i of kind k (0 is the active one); -1 with errno on failure. */
static int make_source(enum kind k, long i) {
    switch (k) {
    case K_SIGNALFD: {
        const sigset_t *m = i == 0 ? &mask_usr1 : &idle_mask[(i - 1) % idle_count];
        return evfd_signalfd(-1, m, sizeof *m);
    }
    case K_EVENTFD:
        return evfd_eventfd(0);
    case K_EVENTFS:
#ifdef EVFD_HAVE_EVENTFS
        return evfd_eventfs_signalfd(i == 0 ? SIGUSR1 : idle_sig[(i - 1) % idle_count], 1);
#else
        errno = ENOSYS;
        return -1;
#endif
    default:
        abort();
    }
}

/* One event through source kind k; `turn` picks the eventfd. */
static void one_event(enum kind k, int ep, long n, long turn) {
    int fd;
    if (k == K_EVENTFD) {
        fd = src[turn % n];
        uint64_t one = 1;
        BENCH_CHECK(write(fd, &one, 8) == 8);
    } else {
        fd = src[0];
        BENCH_CHECK(kill(getpid(), SIGUSR1) == 0);
    }
    struct epoll_event evs[64];
    int r;
    while ((r = epoll_wait(ep, evs, 64, -1)) < 0 && errno == EINTR)
        ;
    BENCH_CHECK(r == 1 && evs[0].data.fd == fd);
    if (k == K_SIGNALFD) {
        struct signalfd_siginfo si;
        BENCH_CHECK(read(fd, &si, sizeof si) == (ssize_t)sizeof si);
    } else {
        uint64_t v;
        BENCH_CHECK(read(fd, &v, 8) == 8 && v >= 1);
    }
}

/* Returns 0, or -1 if fewer than n sources could be made (then reported).
 * A `silent` run only warms up (first-touch page faults, lazy binding), so
 * that they are not charged to the first reported N. */
static int measure(enum kind k, long n, int quick, int silent) {
    long fds0 = count_fds(), rss0 = rss_kb(), slab0 = slab_kb();
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        src[i] = make_source(k, i);
        if (src[i] < 0) {
            int e = errno;
            const char *name = strerrorname_np(e);
            printf("limit table=scale kind=%s wanted=%ld made=%ld errno=%s\n", kind_name[k], n,
                   i, name != NULL ? name : "unknown");
            for (long j = 0; j < i; j++)
                close(src[j]);
            return -1;
        }
    }
    double create_ns = (double)(now_ns() - t0) / (double)n;
    long fds = count_fds() - fds0, rss = rss_kb() - rss0, slab = slab_kb() - slab0;

    int ep = epoll_create1(EPOLL_CLOEXEC);
    BENCH_CHECK(ep >= 0);
    for (long i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = src[i]};
        BENCH_CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, src[i], &ev) == 0);
    }
    int blocks = quick ? 3 : 9;
    double block_ms = quick ? 10.0 : 60.0;
    double wall[9], cpu[9];
    long turn = 0, events = 0;
    one_event(k, ep, n, turn++); /* warm */
    for (int b = 0; b < blocks; b++) {
        uint64_t w0 = now_ns(), c0 = thread_cpu_ns();
        long m = 0;
        do {
            for (int j = 0; j < 10; j++)
                one_event(k, ep, n, turn++);
            m += 10;
        } while ((double)(now_ns() - w0) < block_ms * 1e6 && m < 20000);
        wall[b] = (double)(now_ns() - w0) / (double)m;
        cpu[b] = (double)(thread_cpu_ns() - c0) / (double)m;
        events += m;
    }
    struct spread sw = spread_of(wall, (size_t)blocks), sc = spread_of(cpu, (size_t)blocks);
    if (!silent)
        printf("scale kind=%s n=%ld fds_per_source=%.3f rss_kb=%ld slab_kb=%ld "
               "rss_b_per_source=%.0f slab_b_per_source=%.0f create_ns=%.0f events=%ld blocks=%d "
               "event_wall_med=%.0f event_wall_min=%.0f event_wall_max=%.0f "
               "event_cpu_med=%.0f event_cpu_min=%.0f event_cpu_max=%.0f\n",
               kind_name[k], n, (double)fds / (double)n, rss, slab, rss * 1024.0 / (double)n,
               slab * 1024.0 / (double)n, create_ns, events, blocks, sw.med, sw.min, sw.max,
               sc.med, sc.min, sc.max);
    fflush(stdout);
    close(ep);
    for (long i = 0; i < n; i++)
        close(src[i]);
    return 0;
}

int main(void) {
    int quick = bench_quick();
    long max_n = quick ? 10000 : 100000;
    printf("# scale: one active source among N, all in one epoll set\n");
    long limit = raise_nofile(110000);
    long room = limit - 64;
    if (room < max_n)
        printf("limit table=scale kind=all wanted=%ld nofile=%ld\n", max_n, limit);
    src = malloc((size_t)(room > max_n ? room : max_n) * sizeof *src);
    BENCH_CHECK(src != NULL);

    sigemptyset(&mask_usr1);
    sigaddset(&mask_usr1, SIGUSR1);
    mask_all = mask_usr1;
    idle_sig[idle_count++] = SIGUSR2;
    for (int sig = SIGRTMIN; sig <= SIGRTMAX && idle_count < 64; sig++)
        idle_sig[idle_count++] = sig;
    for (int j = 0; j < idle_count; j++) {
        sigemptyset(&idle_mask[j]);
        sigaddset(&idle_mask[j], idle_sig[j]);
        sigaddset(&mask_all, idle_sig[j]);
    }

    for (int k = 0; k < K_COUNT; k++) {
#ifndef EVFD_HAVE_EVENTFS
        if (k == K_EVENTFS) {
            report_missing("scale", kind_name[k], "eventfs");
            continue;
        }
#endif
        /* signalfd reads blocked signals; eventfs counts delivered ones. */
        BENCH_CHECK(sigprocmask(k == K_SIGNALFD ? SIG_BLOCK : SIG_UNBLOCK, &mask_all, NULL) == 0);
        if (measure((enum kind)k, 10, 1, 1) != 0)
            continue;
        for (long n = next_count(0, max_n, room); n > 0; n = next_count(n, max_n, room))
            if (measure((enum kind)k, n, quick, 0) != 0)
                break;
    }
    free(src);
    return 0;
}
