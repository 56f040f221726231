/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* latency.c - signal-to-wakeup latency: from the sender's kill() to the
 * receiving loop having consumed the event.
 *
 *   latency [-n signals] [-r rounds]     (defaults: 100000 and 10; quick: 4000, 4)
 *
 * One signal is in flight at a time (ping-pong): the sender waits for an
 * acknowledgement on an eventfd, stores CLOCK_MONOTONIC in shared memory
 * (MAP_SHARED, so it works across fork), then sends SIGUSR1 with kill().
 * The receiver waits the way an event loop would (poll, then read), takes
 * the time, and acknowledges. The sender is another thread of the receiving
 * process, or another process.
 *
 * Receivers compared:
 *   signalfd       evfd_signalfd, the signal blocked in every thread
 *   selfpipe       the classic baseline (libevent, libuv): a handler writes
 *                  a byte to a pipe, the loop polls the read end
 *   eventfs_excl   evfd_eventfs_signalfd(SIGUSR1, 1)    (if built)
 *   eventfs_chain  evfd_eventfs_signalfd(SIGUSR1, 0), a no-op handler
 *                  installed before it, which evfd calls on (if built)
 *   ring           evfd_ring_add_signal + evfd_ring_wait  (if built)
 *
 * Every (receiver, round) runs in a fresh process, so no receiver inherits
 * another's signal state, and rounds rotate the receivers so that drift on
 * the shared machine spreads over all of them. Samples of all rounds are
 * pooled for the percentiles; the spread of the per-round medians is also
 * reported. */
#define _GNU_SOURCE
#include "bench.h"

#include <evfd.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum variant { V_SIGNALFD, V_SELFPIPE, V_EVENTFS_EXCL, V_EVENTFS_CHAIN, V_RING, V_COUNT };
static const char *const variant_name[V_COUNT] = {"signalfd", "selfpipe", "eventfs_excl",
                                                  "eventfs_chain", "ring"};
static const char *const variant_feature[V_COUNT] = {NULL, NULL, "eventfs", "eventfs", "ring"};

static int variant_built(enum variant v) {
    switch (v) {
    case V_EVENTFS_EXCL:
    case V_EVENTFS_CHAIN:
#ifdef EVFD_HAVE_EVENTFS
        return 1;
#else
        return 0;
#endif
    case V_RING:
#ifdef EVFD_HAVE_RING
        return 1;
#else
        return 0;
#endif
    default:
        return 1;
    }
}

enum mode { M_THREAD, M_PROCESS };
static const char *const mode_name[] = {"thread", "process"};

/* Shared between sender and receiver (MAP_SHARED anonymous memory). */
struct shared {
    _Atomic uint64_t t_send;
};

struct run {
    enum variant v;
    enum mode m;
    long n;
    struct shared *sh;
    uint64_t *samples;
    int ack;         /* eventfd: receiver -> sender, "send the next one" */
    pid_t target;    /* the receiving process */
    int fd;          /* what the receiver polls */
    int pipe_w;      /* selfpipe: the handler's end */
#ifdef EVFD_HAVE_RING
    struct evfd_ring *ring;
#endif
};

static int selfpipe_w = -1;

static void selfpipe_handler(int sig) {
    (void)sig;
    int saved = errno;
    char b = 1;
    ssize_t r = write(selfpipe_w, &b, 1); /* full pipe: a wakeup is pending anyway */
    (void)r;
    errno = saved;
}

static void noop_handler(int sig) { (void)sig; }

static void ack_wait(int ack) {
    uint64_t v;
    while (read(ack, &v, 8) != 8)
        BENCH_CHECK(errno == EINTR);
}

static void ack_post(int ack) {
    uint64_t one = 1;
    BENCH_CHECK(write(ack, &one, 8) == 8);
}

static void sender_loop(struct run *r) {
    for (long i = 0; i < r->n; i++) {
        ack_wait(r->ack);
        atomic_store_explicit(&r->sh->t_send, now_ns(), memory_order_release);
        BENCH_CHECK(kill(r->target, SIGUSR1) == 0);
    }
}

static void *sender_thread(void *arg) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* handlers run in the receiver */
    sender_loop(arg);
    return NULL;
}

/* Waits until `fd` polls readable, retrying when a handler interrupts. */
static void poll_in(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    for (;;) {
        int n = poll(&p, 1, -1);
        if (n == 1)
            return;
        BENCH_CHECK(n == -1 && errno == EINTR);
    }
}

static void consume(struct run *r) {
    switch (r->v) {
    case V_SIGNALFD: {
        struct signalfd_siginfo si;
        poll_in(r->fd);
        BENCH_CHECK(read(r->fd, &si, sizeof si) == (ssize_t)sizeof si);
        BENCH_CHECK(si.ssi_signo == SIGUSR1);
        break;
    }
    case V_SELFPIPE: {
        char buf[64];
        poll_in(r->fd);
        BENCH_CHECK(read(r->fd, buf, sizeof buf) >= 1);
        break;
    }
    case V_EVENTFS_EXCL:
    case V_EVENTFS_CHAIN: {
        uint64_t count;
        poll_in(r->fd);
        BENCH_CHECK(read(r->fd, &count, 8) == 8 && count >= 1);
        break;
    }
    case V_RING: {
#ifdef EVFD_HAVE_RING
        struct evfd_event ev;
        int got;
        while ((got = evfd_ring_wait(r->ring, &ev, 1, NULL)) == -1 && errno == EINTR)
            ;
        BENCH_CHECK(got == 1 && ev.kind == EVFD_KIND_SIGNAL && ev.signo == SIGUSR1);
#endif
        break;
    }
    default:
        abort();
    }
}

/* Makes the receiving side ready for `r->v` in this (fresh) process. */
static void setup_receiver(struct run *r) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    r->fd = -1;
    switch (r->v) {
    case V_SIGNALFD:
        BENCH_CHECK(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);
        r->fd = evfd_signalfd(-1, &usr1, sizeof usr1);
        BENCH_CHECK(r->fd >= 0);
        break;
    case V_SELFPIPE: {
        int p[2];
        BENCH_CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
        r->fd = p[0];
        selfpipe_w = r->pipe_w = p[1];
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = selfpipe_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        BENCH_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
        break;
    }
    case V_EVENTFS_CHAIN: {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = noop_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        BENCH_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    }
        /* fall through */
    case V_EVENTFS_EXCL:
#ifdef EVFD_HAVE_EVENTFS
        r->fd = evfd_eventfs_signalfd(SIGUSR1, r->v == V_EVENTFS_EXCL ? 1 : 0);
        BENCH_CHECK(r->fd >= 0);
#endif
        break;
    case V_RING:
#ifdef EVFD_HAVE_RING
        BENCH_CHECK(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);
        r->ring = evfd_ring_new(0, 0);
        BENCH_CHECK(r->ring != NULL);
        BENCH_CHECK(evfd_ring_add_signal(r->ring, SIGUSR1, 1) == 0);
#endif
        break;
    default:
        abort();
    }
}

/* One round of one receiver, in a fresh process: fills r->samples. */
static void run_round(struct run *r) {
    r->ack = (int)syscall(SYS_eventfd2, 0, 0);
    BENCH_CHECK(r->ack >= 0);
    r->target = getpid();
    pid_t sender = -1;
    if (r->m == M_PROCESS) {
        /* Fork before any setup, so the sender inherits no receiver state. */
        sender = fork();
        BENCH_CHECK(sender >= 0);
        if (sender == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            sigset_t usr1;
            sigemptyset(&usr1);
            sigaddset(&usr1, SIGUSR1);
            sigprocmask(SIG_BLOCK, &usr1, NULL);
            sender_loop(r);
            _exit(0);
        }
    }
    setup_receiver(r);
    pthread_t th;
    if (r->m == M_THREAD)
        BENCH_CHECK(pthread_create(&th, NULL, sender_thread, r) == 0);
    for (long i = 0; i < r->n; i++) {
        ack_post(r->ack);
        consume(r);
        uint64_t t1 = now_ns();
        r->samples[i] = t1 - atomic_load_explicit(&r->sh->t_send, memory_order_acquire);
    }
    if (r->m == M_THREAD) {
        BENCH_CHECK(pthread_join(th, NULL) == 0);
    } else {
        int st;
        BENCH_CHECK(waitpid(sender, &st, 0) == sender && WIFEXITED(st) &&
                    WEXITSTATUS(st) == 0);
    }
}

static void *shared_alloc(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    BENCH_CHECK(p != MAP_FAILED);
    return p;
}

static void report(enum variant v, enum mode m, uint64_t *all, size_t n, double *round_p50,
                   int rounds) {
    qsort(all, n, sizeof *all, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)all[i];
    struct spread rp = spread_of(round_p50, (size_t)rounds);
    printf("latency variant=%s mode=%s n=%zu rounds=%d p50_ns=%llu p90_ns=%llu p99_ns=%llu "
           "p999_ns=%llu max_ns=%llu mean_ns=%.0f min_ns=%llu round_p50_min=%.0f "
           "round_p50_med=%.0f round_p50_max=%.0f\n",
           variant_name[v], mode_name[m], n, rounds,
           (unsigned long long)quantile_u64(all, n, 0.5),
           (unsigned long long)quantile_u64(all, n, 0.9),
           (unsigned long long)quantile_u64(all, n, 0.99),
           (unsigned long long)quantile_u64(all, n, 0.999), (unsigned long long)all[n - 1],
           sum / (double)n, (unsigned long long)all[0], rp.min, rp.med, rp.max);
    /* The distribution for the plot: quantiles dense in the tail. */
    static const double tail[] = {0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999};
    printf("latcdf variant=%s mode=%s q=0 ns=%llu\n", variant_name[v], mode_name[m],
           (unsigned long long)all[0]);
    for (int i = 1; i < 95; i++)
        printf("latcdf variant=%s mode=%s q=%.4f ns=%llu\n", variant_name[v], mode_name[m],
               i / 100.0, (unsigned long long)quantile_u64(all, n, i / 100.0));
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        printf("latcdf variant=%s mode=%s q=%.4f ns=%llu\n", variant_name[v], mode_name[m],
               tail[i], (unsigned long long)quantile_u64(all, n, tail[i]));
    printf("latcdf variant=%s mode=%s q=1 ns=%llu\n", variant_name[v], mode_name[m],
           (unsigned long long)all[n - 1]);
    fflush(stdout);
}

int main(int argc, char **argv) {
    int quick = bench_quick();
    long total = quick ? 4000 : 100000;
    int rounds = quick ? 4 : 10;
    int opt;
    while ((opt = getopt(argc, argv, "n:r:")) != -1) {
        switch (opt) {
        case 'n':
            total = atol(optarg);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s [-n signals] [-r rounds]\n", argv[0]);
            return 2;
        }
    }
    if (total < 1 || rounds < 1 || total < rounds) {
        fprintf(stderr, "need signals >= rounds >= 1\n");
        return 2;
    }
    long per_round = total / rounds;
    printf("# latency: %ld signals per receiver and sender kind, %d rounds of %ld\n",
           per_round * rounds, rounds, per_round);

    struct shared *sh = shared_alloc(sizeof *sh);
    uint64_t *round_buf = shared_alloc((size_t)per_round * sizeof(uint64_t));

    for (int v = 0; v < V_COUNT; v++)
        if (!variant_built((enum variant)v))
            report_missing("latency", variant_name[v], variant_feature[v]);

    for (int m = 0; m < 2; m++) {
        uint64_t *all[V_COUNT] = {0};
        double *round_p50[V_COUNT] = {0};
        int failed[V_COUNT] = {0};
        for (int v = 0; v < V_COUNT; v++) {
            all[v] = malloc((size_t)(per_round * rounds) * sizeof(uint64_t));
            round_p50[v] = calloc((size_t)rounds, sizeof(double));
            BENCH_CHECK(all[v] != NULL && round_p50[v] != NULL);
        }
        for (int round = 0; round < rounds; round++) {
            for (int k = 0; k < V_COUNT; k++) {
                enum variant v = (enum variant)((k + round) % V_COUNT);
                if (!variant_built(v) || failed[v])
                    continue;
                struct run r = {.v = v, .m = (enum mode)m, .n = per_round, .sh = sh,
                                .samples = round_buf};
                fflush(stdout); /* or the child would print it again */
                pid_t child = fork();
                BENCH_CHECK(child >= 0);
                if (child == 0) {
                    alarm((unsigned)(per_round / 1000 + 120)); /* never hang the run */
                    run_round(&r);
                    _exit(0);
                }
                int st;
                BENCH_CHECK(waitpid(child, &st, 0) == child);
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                    printf("failed table=latency variant=%s mode=%s status=%d\n",
                           variant_name[v], mode_name[m], st);
                    failed[v] = 1;
                    continue;
                }
                memcpy(all[v] + (size_t)round * (size_t)per_round, round_buf,
                       (size_t)per_round * sizeof(uint64_t));
                qsort(round_buf, (size_t)per_round, sizeof(uint64_t), cmp_u64);
                round_p50[v][round] = (double)quantile_u64(round_buf, (size_t)per_round, 0.5);
            }
        }
        for (int v = 0; v < V_COUNT; v++) {
            if (variant_built((enum variant)v) && !failed[v])
                report((enum variant)v, (enum mode)m, all[v], (size_t)(per_round * rounds),
                       round_p50[v], rounds);
            free(all[v]);
            free(round_p50[v]);
        }
    }
    return 0;
}
