/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A storm into one ring: realtime signals queued with sigqueue values by
 * three threads and by another process into evfd_ring_add_signal, while four
 * threads post. Every signal value and every post arrives exactly once
 * (none lost, none coalesced, none duplicated), in each sender's order, with
 * the sender's pid and SI_QUEUE in the record. EVFD_RING_STORM sets the
 * number of signals and of posts (make stress: 1,000,000 each); CI runs
 * 20,000 each (2,000 under valgrind). */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIG_THREADS 3
#define POST_THREADS 4
#define SENDERS (SIG_THREADS + 1) /* the threads and the child process */

static long n_signals, n_posts;
static struct evfd_ring *ring;
static int sig_a, sig_b;

/* Shared with the child process: signals queued and signals received. The
 * senders keep at most WINDOW in flight: with tens of thousands of realtime
 * signals of two numbers queued, the kernel's dequeue walks the queue for
 * each one (quadratic), which would measure the kernel, not the ring. */
#define WINDOW 4096
static _Atomic long *counters;

/* Sender s sends its share: values (s << 32 | i), i = 0, 1, ... */
static long share(long total, int parts, int s) {
    return total / parts + (s < total % parts ? 1 : 0);
}

static void send_signals(pid_t to, int s) {
    long count = share(n_signals, SENDERS, s);
    int signo = s % 2 ? sig_b : sig_a;
    for (long i = 0; i < count;) {
        if (atomic_load(&counters[0]) - atomic_load(&counters[1]) > WINDOW) {
            struct timespec t = {0, 20 * 1000};
            nanosleep(&t, NULL);
            continue;
        }
        union sigval v;
        v.sival_ptr = (void *)(uintptr_t)(((uint64_t)s << 32) | (uint64_t)i);
        if (sigqueue(to, signo, v) == 0) {
            atomic_fetch_add(&counters[0], 1);
            i++;
        } else {
            /* The queue (RLIMIT_SIGPENDING) is full: the consumer drains it. */
            if (errno != EAGAIN)
                _exit(4);
            struct timespec t = {0, 100 * 1000};
            nanosleep(&t, NULL);
        }
    }
}

static void *signal_thread(void *arg) {
    send_signals(getpid(), (int)(intptr_t)arg);
    return NULL;
}

static void *post_thread(void *arg) {
    int t = (int)(intptr_t)arg;
    long count = share(n_posts, POST_THREADS, t);
    for (long i = 0; i < count; i++)
        CHECK_EQ(evfd_ring_post(ring, 1000 + (uint64_t)t, ((uint64_t)t << 32) | (uint64_t)i), 0);
    return NULL;
}

int main(void) {
    const char *env = getenv("EVFD_RING_STORM");
    n_signals = env ? atol(env) : under_valgrind() ? 2000 : 20000;
    n_posts = n_signals;
    CHECK(n_signals > 0);
    sig_a = SIGRTMIN + 1;
    sig_b = SIGRTMIN + 2;
    int before = count_fds();

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, sig_a);
    sigaddset(&mask, sig_b);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);

    /* The child process is forked before the ring exists; it starts when
     * the ring is listening. */
    counters = mmap(NULL, 2 * sizeof *counters, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
    CHECK(counters != MAP_FAILED);
    CHECK(atomic_is_lock_free(counters));
    int go[2];
    CHECK_EQ(pipe(go), 0);
    pid_t parent = getpid();
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(3);
        send_signals(parent, SIG_THREADS);
        _exit(0);
    }
    close(go[0]);

    ring = new_ring(256);
    CHECK_EQ(evfd_ring_add_signal(ring, sig_a, 1), 0);
    CHECK_EQ(evfd_ring_add_signal(ring, sig_b, 2), 0);
    CHECK_EQ(write(go[1], "g", 1), 1);
    close(go[1]);

    pthread_t sig_threads[SIG_THREADS], post_threads[POST_THREADS];
    for (int i = 0; i < SIG_THREADS; i++)
        CHECK_EQ(pthread_create(&sig_threads[i], NULL, signal_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < POST_THREADS; i++)
        CHECK_EQ(pthread_create(&post_threads[i], NULL, post_thread, (void *)(intptr_t)i), 0);

    /* next[s]: the next value expected from signal sender s (FIFO per
     * sender); posts likewise per posting thread. */
    long next_sig[SENDERS] = {0}, next_post[POST_THREADS] = {0};
    long got_signals = 0, got_posts = 0;
    struct evfd_event ev[256];
    while (got_signals < n_signals || got_posts < n_posts) {
        int n = wait_events(ring, ev, 256);
        if (n == 0) {
            fprintf(stderr, "stalled: %ld/%ld signals, %ld/%ld posts\n", got_signals, n_signals,
                    got_posts, n_posts);
            CHECK(n > 0);
        }
        for (int i = 0; i < n; i++) {
            CHECK_EQ(ev[i].error, 0);
            for (int b = 0; b < 16; b++)
                CHECK_EQ(ev[i].reserved[b], 0);
            int who = (int)(ev[i].value >> 32);
            long seq = (long)(ev[i].value & 0xffffffffu);
            if (ev[i].kind == EVFD_KIND_USER) {
                CHECK(who >= 0 && who < POST_THREADS);
                CHECK_EQ(ev[i].udata, 1000 + (uint64_t)who);
                CHECK_EQ(seq, next_post[who]);
                next_post[who]++;
                got_posts++;
                continue;
            }
            CHECK_EQ(ev[i].kind, EVFD_KIND_SIGNAL);
            CHECK(who >= 0 && who < SENDERS);
            CHECK_EQ(ev[i].signo, (uint32_t)(who % 2 ? sig_b : sig_a));
            CHECK_EQ(ev[i].udata, (uint64_t)(who % 2 ? 2 : 1));
            CHECK_EQ(ev[i].code, SI_QUEUE);
            CHECK_EQ(ev[i].pid, (uint32_t)(who == SIG_THREADS ? child : parent));
            CHECK_EQ(ev[i].uid, (uint32_t)getuid());
            CHECK_EQ(seq, next_sig[who]);
            next_sig[who]++;
            got_signals++;
            atomic_store(&counters[1], got_signals);
        }
    }
    for (int s = 0; s < SENDERS; s++)
        CHECK_EQ(next_sig[s], share(n_signals, SENDERS, s));
    for (int t = 0; t < POST_THREADS; t++)
        CHECK_EQ(next_post[t], share(n_posts, POST_THREADS, t));
    for (int i = 0; i < SIG_THREADS; i++)
        CHECK_EQ(pthread_join(sig_threads[i], NULL), 0);
    for (int i = 0; i < POST_THREADS; i++)
        CHECK_EQ(pthread_join(post_threads[i], NULL), 0);
    int status;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Nothing more: no duplicate arrives late. */
    struct evfd_event extra;
    struct timespec t = {0, 50 * 1000 * 1000};
    CHECK_EQ(evfd_ring_wait(ring, &extra, 1, &t), 0);
    evfd_ring_free(ring);
    CHECK_EQ(munmap(counters, 2 * sizeof *counters), 0);
    CHECK_NO_LEAK(before);
    printf("ring storm (%s): %ld signals from %d threads + 1 process, %ld posts from %d threads, "
           "all exact\n",
           getenv("EVFD_RING_BACKEND") ? getenv("EVFD_RING_BACKEND") : "default", n_signals,
           SIG_THREADS, n_posts, POST_THREADS);
    return 0;
}
