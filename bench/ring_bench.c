/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ring_bench.c - the event ring against the classic epoll_wait + read loop,
 * in the same run, on the same machine.
 *
 *   make bench        (writes bench/RESULTS.md and bench/ring_bench.svg)
 *
 * Two workloads, each for 1, 64, 1024 and 65536 registered sources:
 *
 *  stream  A producer thread sends MESSAGES messages one at a time.
 *          ring:  evfd_ring_post(); the consumer takes them with
 *                 evfd_ring_wait(max 256) (peek of pending ones is free).
 *          epoll: write(eventfd[i % N], 1); the consumer does
 *                 epoll_wait(256) and read() on each ready eventfd, and
 *                 counts the values read.
 *          The N sources are registered eventfds in both (idle in the
 *          ring's case, since posts need no fd). A third series,
 *          ring-futex-sources, is the ring's stream with N idle futex
 *          waits as its registered sources: no fd each, so it runs at
 *          65,536 even where RLIMIT_NOFILE stops the eventfd series.
 *  burst   All N eventfds become ready at once (the main thread writes each
 *          one), then the consumer takes N events; repeated. events/s is
 *          timed from the first write (the same N writes in both methods);
 *          system calls are counted after the writes.
 *          ring:  the eventfds added with evfd_ring_add_fd (the ring reads
 *                 each count for you: one preadv2 per event).
 *          epoll: epoll_wait(256) + read() per ready fd.
 *
 * Consumer-side system calls are counted, not estimated: a perf counter on
 * the raw_syscalls:sys_enter tracepoint, opened for the consumer thread
 * only (perf_event_open, pid 0), enabled around the consumer loop.
 * An enabled tracepoint makes every system call slower (about a tenth of
 * epoll+read's time in the burst went to perf_trace_sys_enter), which
 * would charge the counting to the side that makes the calls. So the
 * counting and the timing are separate passes: stream runs once counted
 * and once timed; burst alternates counted and timed rounds. "events" is
 * the timed pass's count; syscalls/event is over the counted pass.
 * Prints one line per (workload, sources, method) as tab-separated values.
 */
#define _GNU_SOURCE
#include <evfd.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MESSAGES 1000000L
#define BURST_EVENTS 400000L

static void die(const char *what) {
    fprintf(stderr, "ring_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A counter of this thread's system calls. */
static int syscall_counter(void) {
    FILE *f = fopen("/sys/kernel/tracing/events/raw_syscalls/sys_enter/id", "r");
    if (!f)
        f = fopen("/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id", "r");
    if (!f)
        die("tracepoint id of raw_syscalls:sys_enter (is tracefs mounted?)");
    long long id;
    if (fscanf(f, "%lld", &id) != 1)
        die("read tracepoint id");
    fclose(f);
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_TRACEPOINT;
    a.size = sizeof a;
    a.config = (unsigned long long)id;
    a.disabled = 1;
    a.sample_period = 0;
    int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    if (fd < 0)
        die("perf_event_open (needs perf_event_paranoid <= 1 or CAP_PERFMON)");
    return fd;
}

static void counter_start(int fd) {
    ioctl(fd, PERF_EVENT_IOC_RESET, 0);
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
}

static long long counter_stop(int fd) {
    ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
    long long v;
    if (read(fd, &v, sizeof v) != sizeof v)
        die("read perf counter");
    return v - 1; /* the DISABLE ioctl itself */
}

struct result {
    long long syscalls;
    long counted_events; /* events of the counted pass */
    long events;         /* events of the timed pass */
    double seconds;      /* of the timed pass */
};

static void report(const char *workload, int sources, const char *method, struct result r) {
    printf("%s\t%d\t%s\t%ld\t%lld\t%.4f\t%.0f\n", workload, sources, method, r.events, r.syscalls,
           (double)r.syscalls / (double)r.counted_events, (double)r.events / r.seconds);
    fflush(stdout);
}

/* ---- stream ---- */

struct producer_arg {
    struct evfd_ring *ring;
    int *fds;
    int n;
};

static void *post_producer(void *p) {
    struct producer_arg *a = p;
    for (long i = 0; i < MESSAGES; i++)
        while (evfd_ring_post(a->ring, 1, (uint64_t)i) != 0)
            die("evfd_ring_post");
    return NULL;
}

static void *write_producer(void *p) {
    struct producer_arg *a = p;
    uint64_t one = 1;
    for (long i = 0; i < MESSAGES; i++)
        if (write(a->fds[i % a->n], &one, 8) != 8)
            die("write eventfd");
    return NULL;
}

static int *make_eventfds(int n) {
    int *fds = malloc(sizeof *fds * (size_t)n);
    for (int i = 0; i < n; i++)
        if ((fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
            die("eventfd");
    return fds;
}

static void close_all(int *fds, int n) {
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
}

/* The ring's side of the stream, whatever its idle registered sources
 * are: a producer thread posts MESSAGES messages, the consumer waits for
 * them. Only posts may arrive (the sources stay idle). */
static struct result consume_posts(struct evfd_ring *ring, int counter, int counted) {
    static struct evfd_event ev[256];
    struct producer_arg a = {ring, NULL, 0};
    pthread_t t;
    double start = now();
    if (counted)
        counter_start(counter);
    if (pthread_create(&t, NULL, post_producer, &a) != 0)
        die("pthread_create");
    long got = 0;
    while (got < MESSAGES) {
        int k = evfd_ring_wait(ring, ev, 256, NULL);
        if (k < 0)
            die("evfd_ring_wait");
        for (int i = 0; i < k; i++)
            if (ev[i].kind != EVFD_KIND_USER)
                die("an idle source fired in the stream");
        got += k;
    }
    double seconds = now() - start;
    struct result r = {counted ? counter_stop(counter) : 0, got, got, seconds};
    pthread_join(t, NULL);
    return r;
}

static struct evfd_ring *new_ring(void) {
    struct evfd_ring *ring = evfd_ring_new(4096, 0);
    if (!ring)
        die("evfd_ring_new");
    return ring;
}

/* Stream with N idle registered eventfds. */
static struct result stream_ring(int n, int counter, int counted) {
    struct evfd_ring *ring = new_ring();
    int *fds = make_eventfds(n);
    for (int i = 0; i < n; i++)
        if (evfd_ring_add_fd(ring, fds[i], POLLIN, 1000 + (uint64_t)i) != 0)
            die("evfd_ring_add_fd");
    struct result r = consume_posts(ring, counter, counted);
    evfd_ring_free(ring);
    close_all(fds, n);
    return r;
}

/* The ring's stream again, but the N idle registered sources are futex
 * waits (one 32-bit word each, never woken) instead of eventfds: they take
 * no descriptor, so this series also runs where RLIMIT_NOFILE is too low for
 * N eventfds (65,536 here), and shows whether the ring's cost per event
 * stays flat as registered sources grow. No epoll counterpart exists:
 * epoll cannot wait on a futex. */
static struct result stream_ring_futex(int n, int counter, int counted) {
    struct evfd_ring *ring = new_ring();
    uint32_t *words = calloc((size_t)n, sizeof *words);
    if (!words)
        die("calloc");
    for (int i = 0; i < n; i++)
        if (evfd_ring_add_futex(ring, &words[i], 0, 1000 + (uint64_t)i) != 0)
            die("evfd_ring_add_futex");
    struct result r = consume_posts(ring, counter, counted);
    evfd_ring_free(ring); /* removes the waits before the words go */
    free(words);
    return r;
}

static struct result stream_epoll(int n, int counter, int counted) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int *fds = make_eventfds(n);
    for (int i = 0; i < n; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) != 0)
            die("epoll_ctl");
    }
    static struct epoll_event evs[256];
    struct producer_arg a = {NULL, fds, n};
    pthread_t t;
    double start = now();
    if (counted)
        counter_start(counter);
    if (pthread_create(&t, NULL, write_producer, &a) != 0)
        die("pthread_create");
    long got = 0;
    while (got < MESSAGES) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < k; i++) {
            uint64_t v;
            if (read(fds[evs[i].data.u32], &v, 8) == 8)
                got += (long)v;
        }
    }
    double seconds = now() - start;
    struct result r = {counted ? counter_stop(counter) : 0, got, got, seconds};
    pthread_join(t, NULL);
    close(ep);
    close_all(fds, n);
    return r;
}

/* A counted pass for the system calls, then a timed pass. */
static struct result stream(struct result (*run)(int, int, int), int n, int counter) {
    struct result c = run(n, counter, 1);
    struct result t = run(n, counter, 0);
    t.syscalls = c.syscalls;
    t.counted_events = c.counted_events;
    return t;
}

/* ---- burst ---- */

static void make_ready(int *fds, int n) {
    uint64_t one = 1;
    for (int i = 0; i < n; i++)
        if (write(fds[i], &one, 8) != 8)
            die("write eventfd");
}

/* One consumer's way of taking the n events of a burst. */
struct burst_consumer {
    long (*take)(void *ctx, int *fds, int n); /* returns the events taken */
    void *ctx;
};

/* The rounds of a burst, the same for both methods: make all n eventfds
 * ready, then let the consumer take n events. Twice the rounds: every
 * other one is counted, not timed. Timed from the writes on: the ring's
 * kernel-side reads run (as task work of this thread) while the writes
 * happen. Counted from after them: the writes are the producer's system
 * calls. */
static struct result burst_rounds(struct burst_consumer c, int *fds, int n, int counter) {
    long rounds = 2 * (BURST_EVENTS / n > 0 ? BURST_EVENTS / n : 1);
    struct result r = {0, 0, 0, 0};
    for (long round = 0; round < rounds; round++) {
        int counted = round % 2 == 0;
        double start = now();
        make_ready(fds, n);
        if (counted)
            counter_start(counter);
        long got = c.take(c.ctx, fds, n);
        double seconds = now() - start;
        if (counted) {
            r.syscalls += counter_stop(counter);
            r.counted_events += got;
        } else {
            r.seconds += seconds;
            r.events += got;
        }
    }
    return r;
}

static long take_ring(void *ctx, int *fds, int n) {
    (void)fds;
    static struct evfd_event ev[256];
    long got = 0;
    while (got < n) {
        int k = evfd_ring_wait(ctx, ev, 256, NULL);
        if (k < 0)
            die("evfd_ring_wait");
        got += k;
    }
    return got;
}

static long take_epoll(void *ctx, int *fds, int n) {
    static struct epoll_event evs[256];
    int ep = *(int *)ctx;
    long got = 0;
    while (got < n) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < k; i++) {
            uint64_t v;
            if (read(fds[evs[i].data.u32], &v, 8) == 8)
                got++;
        }
    }
    return got;
}

static struct result burst_ring(int n, int counter) {
    struct evfd_ring *ring = new_ring();
    int *fds = make_eventfds(n);
    for (int i = 0; i < n; i++)
        if (evfd_ring_add_fd(ring, fds[i], POLLIN, (uint64_t)i) != 0)
            die("evfd_ring_add_fd");
    struct result r = burst_rounds((struct burst_consumer){take_ring, ring}, fds, n, counter);
    evfd_ring_free(ring);
    close_all(fds, n);
    return r;
}

static struct result burst_epoll(int n, int counter) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int *fds = make_eventfds(n);
    for (int i = 0; i < n; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) != 0)
            die("epoll_ctl");
    }
    struct result r = burst_rounds((struct burst_consumer){take_epoll, &ep}, fds, n, counter);
    close(ep);
    close_all(fds, n);
    return r;
}

int main(int argc, char **argv) {
    int sizes[] = {1, 64, 1024, 65536};
    struct rlimit rl = {200000, 200000};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int max_sources = argc > 1 ? atoi(argv[1]) : 65536;
    int counter = syscall_counter();
    printf("workload\tsources\tmethod\tevents\tsyscalls\tsyscalls_per_event\tevents_per_s\n");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        if (n > max_sources)
            continue;
        /* Needs no descriptor per source: runs at every size. */
        report("stream", n, "ring-futex-sources", stream(stream_ring_futex, n, counter));
        if ((rlim_t)n + 64 > rl.rlim_cur) {
            fprintf(stderr,
                    "ring_bench: skipping the eventfd series at %d sources (RLIMIT_NOFILE %llu)\n",
                    n, (unsigned long long)rl.rlim_cur);
            continue;
        }
        report("stream", n, "ring", stream(stream_ring, n, counter));
        report("stream", n, "epoll+read", stream(stream_epoll, n, counter));
        report("burst", n, "ring", burst_ring(n, counter));
        report("burst", n, "epoll+read", burst_epoll(n, counter));
    }
    return 0;
}
