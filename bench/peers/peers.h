/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* peers.h - the harness shared by the peer benchmarks in bench/peers/: the
 * workloads of DESIGN §6 run by evfd's ring and by each peer event loop.
 *
 * Each bench/peers/<impl>.c is one program that links one library and runs
 * one measurement per process (so no loop inherits another's signal
 * handlers, heap or descriptors):
 *
 *   <impl> msgs split|same <messages>   cross-thread messages
 *   <impl> fds <N> <rounds>             N ready eventfds per round
 *   <impl> timers <N>                   create N one-shot timers, then expire them
 *   <impl> move <N> <moves>             re-arm <moves> of N pending timers
 *   <impl> signal split|same <count>    signal latency, one in flight
 *
 * and prints one record per measurement on stdout:
 *
 *   peers impl=<impl> workload=<w> n=<size> events=<k> cpu_ns=<c> wall_ns=<t> [k=v...]
 *
 * cpu_ns is the process's CPU time (CLOCK_PROCESS_CPUTIME_ID: every thread,
 * user and system, the producer thread included) over the measured part;
 * wall_ns is CLOCK_MONOTONIC over the same part. A measurement that cannot
 * run prints `status=skip errno=<e> reason=<text>` instead of numbers.
 * bench/peers/run.py runs the processes (implementations interleaved, reps
 * repeated) and bench/peers/report.py turns the records into the report.
 *
 * The workloads, identical for every implementation:
 *
 *  msgs    A producer thread sends <messages> distinct messages (16 bytes:
 *          a tag and a sequence number) to the loop thread, which checks
 *          that every one arrives once and in order. `split` pins producer
 *          and consumer to two different CPUs, `same` both to one CPU.
 *          The meter starts before the producer is released (a barrier)
 *          and stops when the consumer has the last message.
 *  fds     N eventfds are registered, level-triggered, for reading. Each
 *          round writes 1 to every one of them, then runs the loop until
 *          it has handled N readinesses, reading each eventfd (evfd's ring
 *          reads them itself). The writes are part of the cost. One round
 *          is run before the meter starts (so lazily armed kernel state is
 *          set up for every implementation).
 *  timers  N one-shot timers on the monotonic clock, timer i due
 *          TIMER_BASE + spread(i) from now (spread(i) a fixed hash of i
 *          over TIMER_SPREAD: distinct deadlines, so no peer's special case
 *          for identical timeouts applies). `timer_create` meters the N
 *          creations; the program then sleeps until every deadline has
 *          passed and `timer_expire` meters the loop until all N have fired.
 *          So the expiry's wall time is processing, not waiting.
 *  move    N one-shot timers due 10 s + spread(i) (spread over 10 s);
 *          <moves> of them (every N/<moves>-th) are re-armed to a later
 *          deadline (40 s + spread). Only the re-arms are metered.
 *  signal  A sender thread sends SIGUSR1 to the process with kill(), one at
 *          a time: it takes the time, sends, and waits (a semaphore) until
 *          the loop's callback has taken its time and posted. Latency is
 *          send to callback; p50 and p99 over the signals after the first
 *          SIGNAL_WARMUP. Signal-handler loops (libev, libevent, libuv)
 *          get SIGUSR1 blocked in the sender only, so the loop thread takes
 *          the handler; signalfd-style receivers (evfd, liburing, epoll)
 *          get it blocked in every thread, as signalfd requires.
 *          `split` pins the loop thread and the sender to two CPUs,
 *          `same` both to one (records signal_split, signal_same).
 *
 * Kernel work that runs in interrupt context while the process sleeps
 * (hrtimer expiries of per-timer kernel objects: timerfds, io_uring
 * timeouts) is not charged to the process by the kernel, so CPU per timer
 * of those implementations is a lower bound; their wall time is not. */
#ifndef EVFD_PEERS_H
#define EVFD_PEERS_H

#include "../bench.h"

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#define TIMER_BASE_NS 2000000ull     /* 2 ms */
#define TIMER_SPREAD_NS 10000000ull  /* deadlines over 10 ms */
#define MOVE_BASE_NS 10000000000ull  /* 10 s */
#define MOVE_TO_NS 40000000000ull    /* 40 s */
#define MOVE_SPREAD_NS 10000000000ull
#define SIGNAL_WARMUP 20

/* ------------------------------------------------------------ identity */

static char peer_impl[64]; /* set by the program (evfd: from its backend) */

static inline void peer_set_impl(const char *name) {
    snprintf(peer_impl, sizeof peer_impl, "%s", name);
}

/* ----------------------------------------------------------- measuring */

static inline uint64_t process_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct meter {
    uint64_t wall0, cpu0, wall, cpu;
    long faults0, faults;
};

/* Page faults of the process so far (first touches of fresh memory: in a
 * fresh process these are a large part of a short workload's cost). */
static inline long minor_faults(void) {
    struct rusage ru;
    BENCH_CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
    return ru.ru_minflt;
}

static inline void meter_start(struct meter *m) {
    m->faults0 = minor_faults();
    m->cpu0 = process_cpu_ns();
    m->wall0 = now_ns();
}

static inline void meter_stop(struct meter *m) {
    m->wall = now_ns() - m->wall0;
    m->cpu = process_cpu_ns() - m->cpu0;
    m->faults = minor_faults() - m->faults0;
}

/* One record; `extra` is "" or " k=v ...". */
static inline void peer_record(const char *workload, long n, long events, const struct meter *m,
                               const char *extra) {
    printf("peers impl=%s workload=%s n=%ld events=%ld cpu_ns=%llu wall_ns=%llu faults=%ld%s\n",
           peer_impl, workload, n, events, (unsigned long long)m->cpu,
           (unsigned long long)m->wall, m->faults, extra);
    fflush(stdout);
}

/* A measurement that could not run: `reason` has no spaces. */
static inline void peer_skip(const char *workload, long n, int err, const char *reason) {
    printf("peers impl=%s workload=%s n=%ld status=skip errno=%d reason=%s\n", peer_impl,
           workload, n, err, reason);
    fflush(stdout);
}

/* Deadline spread: a fixed hash of i (splitmix64), so every implementation
 * gets the same deadlines in the same order. */
static inline uint64_t spread_ns(uint64_t i, uint64_t range) {
    uint64_t z = i + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) % range;
}

static inline struct timespec ts_of(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    return ts;
}

static inline uint64_t timer_ns(long i) {
    return TIMER_BASE_NS + spread_ns((uint64_t)i, TIMER_SPREAD_NS);
}
static inline uint64_t move_from_ns(long i) {
    return MOVE_BASE_NS + spread_ns((uint64_t)i, MOVE_SPREAD_NS);
}
static inline uint64_t move_to_ns(long k) {
    return MOVE_TO_NS + spread_ns((uint64_t)k + 0x5eed, MOVE_SPREAD_NS);
}

/* The index of the k-th of `moves` timers moved among n. */
static inline long moved_index(long k, long n, long moves) {
    return k * (n / moves);
}

/* Sleeps until every timer created by `created_at` (CLOCK_MONOTONIC ns)
 * with a relative deadline of at most TIMER_BASE + TIMER_SPREAD is due,
 * plus a millisecond. */
static inline void sleep_until_timers_due(uint64_t created_at) {
    uint64_t until = created_at + TIMER_BASE_NS + TIMER_SPREAD_NS + 1000000u;
    struct timespec ts = ts_of(until);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* ------------------------------------------------------- the eventfds */

/* The fds workload's shared parts; each program registers the eventfds
 * and takes a round of readiness its own way. */

/* `n` non-blocking eventfds (never freed: the process ends after). */
static inline int *new_eventfds(long n) {
    int *fds = malloc((size_t)n * sizeof *fds);
    BENCH_CHECK(fds != NULL);
    for (long i = 0; i < n; i++) {
        fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        BENCH_CHECK(fds[i] >= 0);
    }
    return fds;
}

/* A round's start: every eventfd gets a count of 1. */
static inline void signal_eventfds(const int *fds, long n) {
    uint64_t one = 1;
    for (long i = 0; i < n; i++)
        BENCH_CHECK(write(fds[i], &one, sizeof one) == sizeof one);
}

/* One round before the meter (see fds at the top), then `rounds` measured
 * ones, recorded. `round` signals the eventfds and handles all of them. */
static inline void measure_fd_rounds(const int *fds, long n, long rounds,
                                     void (*round)(const int *fds, long n)) {
    round(fds, n);
    struct meter m;
    meter_start(&m);
    for (long r = 0; r < rounds; r++)
        round(fds, n);
    meter_stop(&m);
    peer_record("fds", n, n * rounds, &m, "");
}

/* --------------------------------------------------------------- CPUs */

static int cpu_first = -1, cpu_second = -1;

static inline void find_cpus(void) {
    cpu_set_t set;
    BENCH_CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set))
            continue;
        if (cpu_first < 0)
            cpu_first = c;
        else if (cpu_second < 0)
            cpu_second = c;
    }
}

static inline void pin_self(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (e != 0) {
        errno = e;
        BENCH_DIE("pthread_setaffinity_np(cpu %d)", cpu);
    }
}

/* ------------------------------------------------------- the messages */

struct msg {
    uint64_t tag, seq;
};

#define MSG_TAG 0x6d736773u

/* The queue every peer uses to pass distinct messages (their wake-up
 * primitives coalesce or carry no payload): a mutex-protected array that
 * the producer appends to and the consumer takes whole by swapping in its
 * own emptied array, so one lock round trip moves a whole batch. push()
 * says whether the queue was empty: the consumer takes everything at once,
 * so the loop needs waking only then (libuv's and libev's async sends
 * coalesce repeated calls themselves; skipping them is equally correct and
 * cheaper, and libevent, eventfd and MSG_RING do not coalesce). */
struct msgq {
    pthread_mutex_t mu;
    struct msg *items;
    size_t len, cap;
    struct msg *spare; /* the consumer's array, handed back on the next take */
    size_t spare_cap;
};

static inline void msgq_init(struct msgq *q) {
    pthread_mutex_init(&q->mu, NULL);
    q->cap = q->spare_cap = 4096;
    q->items = malloc(q->cap * sizeof *q->items);
    q->spare = malloc(q->spare_cap * sizeof *q->spare);
    BENCH_CHECK(q->items != NULL && q->spare != NULL);
    q->len = 0;
}

/* Appends m; returns 1 if the queue was empty (wake the consumer). */
static inline int msgq_push(struct msgq *q, struct msg m) {
    pthread_mutex_lock(&q->mu);
    if (q->len == q->cap) {
        q->cap *= 2;
        q->items = realloc(q->items, q->cap * sizeof *q->items);
        BENCH_CHECK(q->items != NULL);
    }
    q->items[q->len++] = m;
    int was_empty = q->len == 1;
    pthread_mutex_unlock(&q->mu);
    return was_empty;
}

/* Takes every queued message: *out is valid until the next take. */
static inline size_t msgq_take(struct msgq *q, struct msg **out) {
    pthread_mutex_lock(&q->mu);
    struct msg *full = q->items;
    size_t len = q->len, cap = q->cap;
    q->items = q->spare;
    q->cap = q->spare_cap;
    q->len = 0;
    q->spare = full;
    q->spare_cap = cap;
    pthread_mutex_unlock(&q->mu);
    *out = full;
    return len;
}

/* The consumer's check: every message once, in order. Returns the count
 * received so far. */
struct msg_check {
    uint64_t next;
};

static inline uint64_t msg_check(struct msg_check *c, uint64_t tag, uint64_t seq) {
    if (tag != MSG_TAG || seq != c->next) {
        fprintf(stderr, "%s: message %llu (tag %llx) arrived when %llu was due\n", peer_impl,
                (unsigned long long)seq, (unsigned long long)tag, (unsigned long long)c->next);
        exit(1);
    }
    return ++c->next;
}

/* The producer thread: pinned, released by a barrier, calls send(ctx, m)
 * for each message. */
struct producer {
    pthread_t th;
    pthread_barrier_t go;
    void (*send)(void *ctx, struct msg m);
    void *ctx;
    long n;
    int cpu;
};

static void *producer_main(void *arg) {
    struct producer *p = arg;
    pin_self(p->cpu);
    pthread_barrier_wait(&p->go);
    for (long i = 0; i < p->n; i++) {
        struct msg m = {MSG_TAG, (uint64_t)i};
        p->send(p->ctx, m);
    }
    return NULL;
}

/* Pins the calling (consumer) thread and starts the producer, parked at
 * the barrier. Returns 0, or -1 if `split` needs a second CPU and there is
 * none (a skip record is printed). */
static inline int producer_start(struct producer *p, int split, long n,
                                 void (*send)(void *, struct msg), void *ctx) {
    find_cpus();
    if (split && cpu_second < 0) {
        peer_skip("msgs_split", n, 0, "one_cpu_only");
        return -1;
    }
    pin_self(cpu_first);
    p->send = send;
    p->ctx = ctx;
    p->n = n;
    p->cpu = split ? cpu_second : cpu_first;
    pthread_barrier_init(&p->go, NULL, 2);
    BENCH_CHECK(pthread_create(&p->th, NULL, producer_main, p) == 0);
    return 0;
}

/* Releases the producer: call right after meter_start. */
static inline void producer_go(struct producer *p) { pthread_barrier_wait(&p->go); }

static inline void producer_join(struct producer *p) { pthread_join(p->th, NULL); }

/* ------------------------------------------------------------ signals */

struct sigbench {
    /* The receiver (the loop's thread) and the sender on two CPUs, or both
     * on one: unpinned, the scheduler put them on one CPU in some runs and
     * on two in others, and the latency (a context switch, ~4 µs here,
     * against a halted vCPU's wake-up, ~20 µs) followed the placement, not
     * the library (bench/EXPERIMENTS.md). */
    int split;
    int sender_cpu;
    pthread_t th;
    pthread_barrier_t go;
    sem_t ack;
    _Atomic uint64_t sent_at;
    long count, received;
    uint64_t *lat;
    struct meter m;
};

static struct sigbench sigb;

static void *sig_sender(void *arg) {
    (void)arg;
    pin_self(sigb.sender_cpu);
    pthread_barrier_wait(&sigb.go);
    for (long i = 0; i < sigb.count; i++) {
        while (sem_wait(&sigb.ack) != 0) {
        }
        atomic_store(&sigb.sent_at, now_ns());
        BENCH_CHECK(kill(getpid(), SIGUSR1) == 0);
    }
    return NULL;
}

/* Pins the calling thread, blocks SIGUSR1 and starts the sender (which
 * inherits the mask); for a handler-based loop (`handler` = 1) the calling
 * thread unblocks it again, so the signal can only be taken here. Call
 * before setting up the loop's signal watcher. */
static inline void sig_prepare(long count, int handler) {
    pin_self(cpu_first);
    sigb.sender_cpu = sigb.split ? cpu_second : cpu_first;
    sigb.count = count;
    sigb.received = 0;
    sigb.lat = calloc((size_t)count, sizeof *sigb.lat);
    BENCH_CHECK(sigb.lat != NULL);
    BENCH_CHECK(sem_init(&sigb.ack, 0, 1) == 0);
    pthread_barrier_init(&sigb.go, NULL, 2);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    BENCH_CHECK(pthread_sigmask(SIG_BLOCK, &usr1, NULL) == 0);
    BENCH_CHECK(pthread_create(&sigb.th, NULL, sig_sender, NULL) == 0);
    if (handler)
        BENCH_CHECK(pthread_sigmask(SIG_UNBLOCK, &usr1, NULL) == 0);
}

/* Starts the meter and releases the sender: call, then run the loop. */
static inline void sig_go(void) {
    meter_start(&sigb.m);
    pthread_barrier_wait(&sigb.go);
}

/* In the loop's callback, once per signal taken: returns 1 when the last
 * one has arrived (stop the loop). */
static inline int sig_received(void) {
    uint64_t t = now_ns();
    if (sigb.received < sigb.count)
        sigb.lat[sigb.received] = t - atomic_load(&sigb.sent_at);
    sigb.received++;
    int done = sigb.received >= sigb.count;
    BENCH_CHECK(sem_post(&sigb.ack) == 0);
    return done;
}

/* After the loop: stops the meter and prints p50/p99. */
static inline void sig_finish(void) {
    meter_stop(&sigb.m);
    pthread_join(sigb.th, NULL);
    BENCH_CHECK(sigb.received == sigb.count);
    long skip = sigb.count > 2 * SIGNAL_WARMUP ? SIGNAL_WARMUP : 0;
    size_t n = (size_t)(sigb.count - skip);
    uint64_t *v = sigb.lat + skip;
    qsort(v, n, sizeof *v, cmp_u64);
    char extra[128];
    snprintf(extra, sizeof extra, " p50_ns=%llu p99_ns=%llu",
             (unsigned long long)quantile_u64(v, n, 0.50),
             (unsigned long long)quantile_u64(v, n, 0.99));
    peer_record(sigb.split ? "signal_split" : "signal_same", sigb.count, sigb.count, &sigb.m,
                extra);
}

/* ---------------------------------------------------- the entry point */

/* Each program defines these; each returns after printing its record(s).
 * They are kept out of main(): GCC compiles main() as code run once, for
 * size, and inlined there the measured loops divided by constants with
 * `div` (a 64-bit division per timer, 14 to 45 cycles on this CPU) instead
 * of a multiplication; the same in every program, but it is the harness's
 * cost, not the library's (bench/EXPERIMENTS.md). */
#define PEER_WORKLOAD __attribute__((noinline, hot))
static void run_msgs(int split, long n) PEER_WORKLOAD;
static void run_fds(long n, long rounds) PEER_WORKLOAD;
static void run_timers(long n) PEER_WORKLOAD;
static void run_move(long n, long moves) PEER_WORKLOAD;
static void run_signal(long count) PEER_WORKLOAD;
/* Called first, with the workload, so a program can set peer_impl. */
static void peer_init(const char *workload);

static inline long arg_long(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v <= 0) {
        fprintf(stderr, "expected a positive number, got %s\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s msgs split|same N | fds N ROUNDS | timers N | "
                        "move N MOVES | signal split|same COUNT\n", argv[0]);
        return 2;
    }
    const char *w = argv[1];
    /* Room for 100,000 timers where a peer makes a descriptor per timer
     * (up to the hard limit; a failure past it is a skip record). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    peer_init(w);
    /* One meter reading before any measured one: the process's first
     * CLOCK_MONOTONIC read through the vDSO faults in its data pages
     * (several µs), and inside the first meter_start it fell between the
     * CPU-time and wall-time reads, so it was charged to the workload's
     * CPU time only, and only in programs whose library had not read the
     * clock yet (bench/EXPERIMENTS.md). */
    struct meter warm;
    meter_start(&warm);
    meter_stop(&warm);
    if (strcmp(w, "msgs") == 0 && argc == 4)
        run_msgs(strcmp(argv[2], "split") == 0, arg_long(argv[3]));
    else if (strcmp(w, "fds") == 0 && argc == 4)
        run_fds(arg_long(argv[2]), arg_long(argv[3]));
    else if (strcmp(w, "timers") == 0 && argc == 3)
        run_timers(arg_long(argv[2]));
    else if (strcmp(w, "move") == 0 && argc == 4)
        run_move(arg_long(argv[2]), arg_long(argv[3]));
    else if (strcmp(w, "signal") == 0 && argc == 4) {
        sigb.split = strcmp(argv[2], "split") == 0;
        find_cpus();
        if (sigb.split && cpu_second < 0)
            peer_skip("signal_split", arg_long(argv[3]), 0, "one_cpu_only");
        else
            run_signal(arg_long(argv[3]));
    }
    else {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    return 0;
}

#endif
