/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* liburing.c - a hand-written io_uring loop with liburing (Debian's
 * liburing-dev, 2.3) on the peer workloads (bench/peers/peers.h), written
 * the way liburing's man pages describe each operation:
 *
 *  - one ring per loop made with IORING_SETUP_SINGLE_ISSUER |
 *    IORING_SETUP_DEFER_TASKRUN (io_uring_setup(2): completion work is
 *    deferred to the io_uring_enter that waits for it, instead of
 *    interrupting the thread; the setup liburing recommends for a
 *    single-threaded loop), falling back to no flags where the kernel
 *    refuses them; completions reaped in batches with io_uring_for_each_cqe
 *    + io_uring_cq_advance, SQEs submitted once per loop iteration with
 *    io_uring_submit_and_wait;
 *  - messages: the shared mutex-protected queue; the wake-up is
 *    IORING_OP_MSG_RING (io_uring_prep_msg_ring, "pass data between
 *    rings or wake a ring sleeping in io_uring_enter") from a small ring of
 *    the producer's, sent when the push made the queue non-empty, with
 *    IOSQE_CQE_SKIP_SUCCESS so the producer has nothing to reap;
 *  - eventfds: a multishot poll per eventfd (io_uring_prep_poll_multishot,
 *    POLLIN: one CQE per readiness, armed once) and a read() of the
 *    eventfd per CQE; re-armed if a CQE comes without IORING_CQE_F_MORE;
 *  - timers: one IORING_OP_TIMEOUT per timer (io_uring_prep_timeout, count
 *    0, relative): the kernel keeps an hrtimer per timer, and its
 *    completion (-ETIME) is the expiry; the CQ is sized for 65,536
 *    (IORING_SETUP_CQSIZE) and the kernel keeps any overflow (NODROP);
 *  - moving a pending timer: io_uring_prep_timeout_update, batched, one
 *    submit for all moves and their completions reaped;
 *  - signals: io_uring has no signal operation: a signalfd (SIGUSR1
 *    blocked in every thread) read by IORING_OP_READ, re-armed after each. */
#define _GNU_SOURCE
#include "peers.h"

#include <liburing.h>
#include <poll.h>
#include <sys/signalfd.h>

static struct io_uring ring;

static void ring_init(struct io_uring *r, unsigned entries, unsigned cq_entries, int single) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    if (single)
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    if (cq_entries) {
        p.flags |= IORING_SETUP_CQSIZE;
        p.cq_entries = cq_entries;
    }
    int e = io_uring_queue_init_params(entries, r, &p);
    if (e == -EINVAL && single) {
        memset(&p, 0, sizeof p);
        if (cq_entries) {
            p.flags = IORING_SETUP_CQSIZE;
            p.cq_entries = cq_entries;
        }
        e = io_uring_queue_init_params(entries, r, &p);
    }
    if (e < 0) {
        errno = -e;
        BENCH_DIE("io_uring_queue_init_params");
    }
}

static struct io_uring_sqe *sqe_get(void) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (sqe == NULL) {
        BENCH_CHECK(io_uring_submit(&ring) >= 0);
        sqe = io_uring_get_sqe(&ring);
        BENCH_CHECK(sqe != NULL);
    }
    return sqe;
}

/* Submits what is queued and waits for at least one completion. */
static void submit_wait(void) {
    int e;
    while ((e = io_uring_submit_and_wait(&ring, 1)) == -EINTR) {
    }
    if (e < 0) {
        errno = -e;
        BENCH_DIE("io_uring_submit_and_wait");
    }
}

static void peer_init(const char *workload) {
    peer_set_impl("liburing");
    unsigned cq = strcmp(workload, "timers") == 0 || strcmp(workload, "move") == 0 ? 65536 : 0;
    ring_init(&ring, 4096, cq, 1);
}

/* ---- messages */
#define WAKE_TAG 0x77616b65u
static struct msgq q;
static struct io_uring producer_ring;

static void push_one(void *ctx, struct msg m) {
    (void)ctx;
    if (msgq_push(&q, m)) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&producer_ring);
        BENCH_CHECK(sqe != NULL);
        io_uring_prep_msg_ring(sqe, ring.ring_fd, 0, WAKE_TAG, 0);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        BENCH_CHECK(io_uring_submit(&producer_ring) == 1);
    }
}

static void run_msgs(int split, long n) {
    msgq_init(&q);
    ring_init(&producer_ring, 8, 0, 0);
    struct producer p;
    if (producer_start(&p, split, n, push_one, NULL) != 0)
        return;
    struct msg_check c = {0};
    struct meter m;
    meter_start(&m);
    producer_go(&p);
    while (c.next < (uint64_t)n) {
        submit_wait();
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            BENCH_CHECK(cqe->user_data == WAKE_TAG && cqe->res == 0);
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
        struct msg *batch;
        size_t len = msgq_take(&q, &batch);
        for (size_t i = 0; i < len; i++)
            msg_check(&c, batch[i].tag, batch[i].seq);
    }
    meter_stop(&m);
    producer_join(&p);
    peer_record(split ? "msgs_split" : "msgs_same", n, n, &m, "");
}

/* ---- eventfds */
static void arm_poll(int fd, uint64_t i) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_poll_multishot(sqe, fd, POLLIN);
    io_uring_sqe_set_data64(sqe, i);
}

static void fd_round(const int *fds, long n) {
    uint64_t got = 0;
    signal_eventfds(fds, n);
    while (got < (uint64_t)n) {
        submit_wait();
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            BENCH_CHECK(cqe->res >= 0);
            uint64_t i = cqe->user_data, v;
            if (read(fds[i], &v, sizeof v) == sizeof v)
                got += v;
            if (!(cqe->flags & IORING_CQE_F_MORE))
                arm_poll(fds[i], i);
        }
        io_uring_cq_advance(&ring, seen);
    }
    BENCH_CHECK(got == (uint64_t)n);
}

static void run_fds(long n, long rounds) {
    int *fds = new_eventfds(n);
    for (long i = 0; i < n; i++)
        arm_poll(fds[i], (uint64_t)i);
    BENCH_CHECK(io_uring_submit(&ring) >= 0);
    measure_fd_rounds(fds, n, rounds, fd_round);
}

/* ---- timers */
#define UPDATE_TAG (1ull << 62)

static struct __kernel_timespec kts_of(uint64_t ns) {
    struct __kernel_timespec ts = {(long long)(ns / 1000000000u), (long long)(ns % 1000000000u)};
    return ts;
}

static void run_timers(long n) {
    struct __kernel_timespec *ts = malloc((size_t)n * sizeof *ts);
    BENCH_CHECK(ts != NULL);
    struct meter m;
    meter_start(&m);
    for (long i = 0; i < n; i++) {
        ts[i] = kts_of(timer_ns(i));
        struct io_uring_sqe *sqe = sqe_get();
        io_uring_prep_timeout(sqe, &ts[i], 0, 0);
        io_uring_sqe_set_data64(sqe, (uint64_t)i + 1);
    }
    BENCH_CHECK(io_uring_submit(&ring) >= 0);
    meter_stop(&m);
    peer_record("timer_create", n, n, &m, "");
    sleep_until_timers_due(m.wall0 + m.wall);
    long fired = 0;
    meter_start(&m);
    while (fired < n) {
        submit_wait();
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            BENCH_CHECK(cqe->res == -ETIME);
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
        fired += seen;
    }
    meter_stop(&m);
    peer_record("timer_expire", n, n, &m, "");
}

static void run_move(long n, long moves) {
    struct __kernel_timespec *ts = malloc((size_t)n * sizeof *ts);
    struct __kernel_timespec *to = malloc((size_t)moves * sizeof *to);
    BENCH_CHECK(ts != NULL && to != NULL);
    for (long i = 0; i < n; i++) {
        ts[i] = kts_of(move_from_ns(i));
        struct io_uring_sqe *sqe = sqe_get();
        io_uring_prep_timeout(sqe, &ts[i], 0, 0);
        io_uring_sqe_set_data64(sqe, (uint64_t)i + 1);
    }
    BENCH_CHECK(io_uring_submit(&ring) >= 0);
    struct meter m;
    meter_start(&m);
    for (long k = 0; k < moves; k++) {
        to[k] = kts_of(move_to_ns(k));
        struct io_uring_sqe *sqe = sqe_get();
        io_uring_prep_timeout_update(sqe, &to[k], (uint64_t)moved_index(k, n, moves) + 1, 0);
        io_uring_sqe_set_data64(sqe, UPDATE_TAG);
    }
    long done = 0;
    while (done < moves) {
        submit_wait();
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            BENCH_CHECK(cqe->user_data == UPDATE_TAG && cqe->res == 0);
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
        done += seen;
    }
    meter_stop(&m);
    peer_record("move", n, moves, &m, "");
}

/* ---- signals */
static void run_signal(long count) {
    sig_prepare(count, 0);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    int sfd = signalfd(-1, &usr1, SFD_CLOEXEC);
    BENCH_CHECK(sfd >= 0);
    static struct signalfd_siginfo si;
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_read(sqe, sfd, &si, sizeof si, 0);
    sig_go();
    int done = 0;
    while (!done) {
        submit_wait();
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            BENCH_CHECK(cqe->res == (int)sizeof si);
            seen++;
            done = sig_received();
            if (!done) {
                sqe = sqe_get();
                io_uring_prep_read(sqe, sfd, &si, sizeof si, 0);
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
    sig_finish();
}
