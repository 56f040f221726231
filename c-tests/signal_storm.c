/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Signal storms into one evfd_signalfd, from several threads of this process
 * and from a child process, lose nothing:
 *
 * - Realtime signals (free-running, as fast as the senders can go): every
 *   sigqueue() value arrives exactly once, and each sender's values arrive
 *   in the order it sent them (the kernel queues realtime signals FIFO).
 * - Standard signals in lock-step (one send outstanding at a time, the
 *   token passed through a semaphore eventfd shared with the child): nothing
 *   can coalesce, so received == sent exactly.
 * - Standard signals free-running: POSIX lets a signal sent while the same
 *   signal is pending merge with it. Checked: every record is one that was
 *   sent (valid value and sender), each sender's values strictly increase
 *   (no duplicates, no reordering), received <= sent, and the signal is
 *   never stuck: after the storm, one more signal sent into a drained queue
 *   is received, and nothing is left pending.
 *
 * EVFD_STORM_SIGNALS sets the total (default 50000; `make stress` runs
 * 1000000): half realtime, a quarter of each standard kind. */
#define _GNU_SOURCE
#include "check.h"
#include <evfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 3                 /* sender threads; the child is sender 0 */
#define SENDERS (THREADS + 1)
#define SEQ_BITS 24               /* value = sender << SEQ_BITS | sequence */
#define STD_SIG SIGUSR1

static int rt_sig;
/* "This sender is done": realtime so the fences of all senders queue, and
 * numbered above the data signals, which the kernel dequeues first (lowest
 * number first), so a sender's fence is read after all its data. */
static int fence_sig;
static pid_t parent;
static pthread_t reader_thread;
static long per_sender;           /* realtime signals per sender */
static long std_per_sender;       /* standard signals per sender, per phase */
static int token_fd;              /* semaphore eventfd: the lock-step token */
static int phase_fd[SENDERS];     /* eventfd per sender: "start phase n" */

static void wait_phase(int sender) {
    uint64_t v;
    CHECK_EQ(read(phase_fd[sender], &v, sizeof v), 8);
}

/* sigqueue, retrying while the realtime queue (RLIMIT_SIGPENDING) is full. */
static void send_value(int sender, int sig, int value) {
    union sigval sv = {.sival_int = value};
    for (;;) {
        int r;
        if (sender == 1)          /* one thread aims at the reader thread */
            r = pthread_sigqueue(reader_thread, sig, sv);
        else
            r = sigqueue(parent, sig, sv) == 0 ? 0 : errno;
        if (r == 0)
            return;
        CHECK_EQ(r, EAGAIN);
        sched_yield();
    }
}

static void fence(int sender) {
    send_value(sender, fence_sig, sender << SEQ_BITS);
}

static void run_sender(int sender) {
    uint64_t one = 1;
    wait_phase(sender);                                   /* realtime */
    for (long i = 0; i < per_sender; i++)
        send_value(sender, rt_sig, (int)((sender << SEQ_BITS) | i));
    fence(sender);
    wait_phase(sender);                                   /* lock-step */
    for (long i = 0; i < std_per_sender; i++) {
        CHECK_EQ(read(token_fd, &one, sizeof one), 8);    /* take the token */
        send_value(sender, STD_SIG, (int)((sender << SEQ_BITS) | i));
    }
    fence(sender);
    wait_phase(sender);                                   /* free-running */
    for (long i = 0; i < std_per_sender; i++)
        send_value(sender, STD_SIG, (int)((sender << SEQ_BITS) | i));
    fence(sender);
}

static void *sender_main(void *arg) {
    run_sender((int)(intptr_t)arg);
    return NULL;
}

static void start_phase(void) {
    uint64_t one = 1;
    for (int s = 0; s < SENDERS; s++)
        CHECK_EQ(write(phase_fd[s], &one, sizeof one), 8);
}

#define BATCH 64

/* Reads until every sender's fence arrived; calls `record` for the rest. */
static void read_phase(int sfd, void (*record)(const struct signalfd_siginfo *)) {
    static struct signalfd_siginfo si[BATCH];
    int fences = 0;
    while (fences < SENDERS) {
        ssize_t n = read(sfd, si, sizeof si);
        if (n < 0 && errno == EINTR)
            continue;
        CHECK(n > 0);
        CHECK_EQ(n % (ssize_t)sizeof si[0], 0);
        for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++) {
            if ((int)si[i].ssi_signo == fence_sig)
                fences++;
            else
                record(&si[i]);
        }
    }
}

static long next_rt[SENDERS], got_std[SENDERS], last_std[SENDERS];
static pid_t child;

static int sender_of(const struct signalfd_siginfo *si) {
    int sender = si->ssi_int >> SEQ_BITS;
    CHECK(sender >= 0 && sender < SENDERS);
    CHECK_EQ(si->ssi_code, SI_QUEUE);
    CHECK_EQ(si->ssi_pid, sender == 0 ? child : parent);
    CHECK_EQ(si->ssi_uid, getuid());
    return sender;
}

static void record_rt(const struct signalfd_siginfo *si) {
    CHECK_EQ(si->ssi_signo, rt_sig);
    int sender = sender_of(si);
    CHECK_EQ(si->ssi_int & ((1 << SEQ_BITS) - 1), next_rt[sender]);   /* exact, FIFO */
    next_rt[sender]++;
}

static void record_lockstep(const struct signalfd_siginfo *si) {
    uint64_t one = 1;
    CHECK_EQ(si->ssi_signo, STD_SIG);
    int sender = sender_of(si);
    CHECK_EQ(si->ssi_int & ((1 << SEQ_BITS) - 1), got_std[sender]);   /* exact */
    got_std[sender]++;
    CHECK_EQ(write(token_fd, &one, sizeof one), 8);                   /* next sender */
}

static void record_free(const struct signalfd_siginfo *si) {
    CHECK_EQ(si->ssi_signo, STD_SIG);
    int sender = sender_of(si);
    long seq = si->ssi_int & ((1 << SEQ_BITS) - 1);
    CHECK(seq < std_per_sender);
    CHECK(seq > last_std[sender]);                                     /* no dup, no reorder */
    last_std[sender] = seq;
    got_std[sender]++;
}

int main(void) {
    long total = 50000;
    const char *env = getenv("EVFD_STORM_SIGNALS");
    if (env)
        total = atol(env);
    CHECK(total >= 4 * SENDERS);
    per_sender = total / 2 / SENDERS;
    std_per_sender = total / 4 / SENDERS;
    CHECK(per_sender < (1 << SEQ_BITS));
    rt_sig = SIGRTMIN + 1;
    fence_sig = SIGRTMIN + 2;
    parent = getpid();
    reader_thread = pthread_self();
    int before = count_fds();

    /* Blocked before any thread or child exists, so every one inherits it. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, rt_sig);
    sigaddset(&mask, STD_SIG);
    sigaddset(&mask, fence_sig);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
    int sfd = evfd_signalfd(-1, &mask, sizeof mask);
    CHECK(sfd >= 0);
    token_fd = (int)syscall(SYS_eventfd2, 1, EFD_SEMAPHORE);
    CHECK(token_fd >= 0);
    for (int s = 0; s < SENDERS; s++) {
        phase_fd[s] = evfd_eventfd(0);
        CHECK(phase_fd[s] >= 0);
    }

    child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        run_sender(0);
        _exit(0);
    }
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        CHECK_EQ(pthread_create(&threads[t], NULL, sender_main, (void *)(intptr_t)(t + 1)), 0);

    start_phase();
    read_phase(sfd, record_rt);
    for (int s = 0; s < SENDERS; s++)
        CHECK_EQ(next_rt[s], per_sender);

    start_phase();
    read_phase(sfd, record_lockstep);
    for (int s = 0; s < SENDERS; s++) {
        CHECK_EQ(got_std[s], std_per_sender);
        got_std[s] = 0;
        last_std[s] = -1;
    }

    start_phase();
    read_phase(sfd, record_free);
    long received = 0;
    for (int s = 0; s < SENDERS; s++) {
        CHECK(got_std[s] <= std_per_sender);
        received += got_std[s];
    }

    for (int t = 0; t < THREADS; t++)
        CHECK_EQ(pthread_join(threads[t], NULL), 0);
    int status;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Never stuck: the queue is drained, and one more signal arrives. */
    struct pollfd p = {.fd = sfd, .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 0), 0);
    CHECK_EQ(kill(parent, STD_SIG), 0);
    struct signalfd_siginfo si;
    CHECK_EQ(read(sfd, &si, sizeof si), sizeof si);
    CHECK_EQ(si.ssi_signo, STD_SIG);
    CHECK_EQ(si.ssi_code, SI_USER);
    sigset_t pending;
    CHECK_EQ(sigpending(&pending), 0);
    CHECK(!sigismember(&pending, STD_SIG) && !sigismember(&pending, rt_sig));

    printf("signal storm: %ld realtime (exact), %ld standard lock-step (exact), "
           "%ld standard free-running sent, %ld received (%ld coalesced), %d senders "
           "(%d threads + 1 process)\n",
           per_sender * SENDERS, std_per_sender * SENDERS, std_per_sender * SENDERS,
           received, std_per_sender * SENDERS - received, SENDERS, THREADS);
    close(sfd);
    close(token_fd);
    for (int s = 0; s < SENDERS; s++)
        close(phase_fd[s]);
    CHECK_NO_LEAK(before);
    return 0;
}
