/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * demo.c - every kind of evfd event arriving in one poll() loop.
 *
 *   make demo
 *
 * Part 1 (the 2007 calls): a signal through evfd_signalfd, ticks of a
 * periodic evfd_timerfd, and counts written to an evfd_eventfd by another
 * thread. Each event is printed as it arrives; the demo exits 0 once every
 * kind has been seen, and non-zero if one is missing after a few seconds.
 *
 * Part 2 (eventfs): per-signal descriptors from evfd_eventfs_signalfd
 * counting deliveries: three SIGUSR2 read as one count of 3.
 * Part 3 (the event ring): fd readiness, an eventfd count, a signal with
 * its siginfo, a periodic timer, a futex wake-up and posts from another
 * thread, all through one evfd_ring.
 */
#define _GNU_SOURCE
#include <evfd.h>
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "demo: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *producer(void *arg) {
    int fd = *(int *)arg;
    for (uint64_t n = 1; n <= 3; n++) {
        struct timespec pause = {0, 150 * 1000 * 1000};
        nanosleep(&pause, NULL);
        if (write(fd, &n, sizeof n) != sizeof n)
            die("write eventfd");
    }
    return NULL;
}

enum { SRC_SIGNAL, SRC_TIMER, SRC_COUNTER, NSRC };

static int part_2007(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    /* Block it so that it is read from the descriptor, not delivered. */
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        die("sigprocmask");

    struct pollfd fds[NSRC];
    fds[SRC_SIGNAL].fd = evfd_signalfd(-1, &mask, sizeof mask);
    if (fds[SRC_SIGNAL].fd < 0)
        die("evfd_signalfd");
    struct timespec period = {0, 200 * 1000 * 1000};
    fds[SRC_TIMER].fd = evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period);
    if (fds[SRC_TIMER].fd < 0)
        die("evfd_timerfd");
    fds[SRC_COUNTER].fd = evfd_eventfd(0);
    if (fds[SRC_COUNTER].fd < 0)
        die("evfd_eventfd");
    for (int i = 0; i < NSRC; i++)
        fds[i].events = POLLIN;

    pthread_t thread;
    if (pthread_create(&thread, NULL, producer, &fds[SRC_COUNTER].fd) != 0)
        die("pthread_create");

    int ticks = 0, signals = 0;
    uint64_t counted = 0;
    printf("part 1: evfd_signalfd, evfd_timerfd, evfd_eventfd in one poll loop\n");
    for (int round = 0; round < 40 && (ticks < 3 || signals < 1 || counted < 6); round++) {
        if (round == 2) {
            printf("  sending SIGUSR1 to myself\n");
            kill(getpid(), SIGUSR1);
        }
        int n = poll(fds, NSRC, 3000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (fds[SRC_SIGNAL].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(fds[SRC_SIGNAL].fd, &si, sizeof si) != sizeof si)
                die("read signalfd");
            printf("  signal   %-8s from pid %u\n", strsignal((int)si.ssi_signo), si.ssi_pid);
            signals++;
        }
        if (fds[SRC_TIMER].revents & POLLIN) {
            uint64_t expirations;
            if (read(fds[SRC_TIMER].fd, &expirations, sizeof expirations) != 8)
                die("read timerfd");
            ticks += (int)expirations;
            printf("  timer    tick %d (%llu expiration%s)\n", ticks,
                   (unsigned long long)expirations, expirations == 1 ? "" : "s");
        }
        if (fds[SRC_COUNTER].revents & POLLIN) {
            uint64_t value;
            if (read(fds[SRC_COUNTER].fd, &value, sizeof value) != 8)
                die("read eventfd");
            counted += value;
            printf("  counter  +%llu (total %llu)\n", (unsigned long long)value,
                   (unsigned long long)counted);
        }
    }
    pthread_join(thread, NULL);
    for (int i = 0; i < NSRC; i++)
        close(fds[i].fd);
    if (ticks < 3 || signals < 1 || counted != 6) {
        fprintf(stderr, "demo: part 1 missed events (ticks %d, signals %d, counted %llu)\n",
                ticks, signals, (unsigned long long)counted);
        return 1;
    }
    return 0;
}

/* Part 2 (eventfs): one descriptor per signal, read as a count. Three
 * SIGUSR2 sent while the main loop is busy elsewhere arrive as one read of
 * 3; an exclusive SIGTERM descriptor turns a would-be termination into a
 * count as well. */
static int part_eventfs(void) {
    int usr2 = evfd_eventfs_signalfd(SIGUSR2, 1);    /* exclusive: only the fd */
    int term = evfd_eventfs_signalfd(SIGTERM, 1);
    if (usr2 < 0 || term < 0)
        die("evfd_eventfs_signalfd");
    printf("part 2: evfd_eventfs_signalfd, one descriptor per signal\n");
    printf("  sending SIGUSR2 three times and SIGTERM once to myself\n");
    for (int i = 0; i < 3; i++)
        kill(getpid(), SIGUSR2);
    kill(getpid(), SIGTERM);                    /* would have terminated us */

    struct pollfd fds[2] = {{.fd = usr2, .events = POLLIN}, {.fd = term, .events = POLLIN}};
    uint64_t usr2_count = 0, term_count = 0;
    for (int round = 0; round < 10 && (usr2_count < 3 || term_count < 1); round++) {
        int n = poll(fds, 2, 3000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        uint64_t v;
        if (fds[0].revents & POLLIN) {
            if (read(usr2, &v, sizeof v) != sizeof v)
                die("read eventfs fd");
            usr2_count += v;
            printf("  SIGUSR2  %llu deliver%s in one read\n", (unsigned long long)v,
                   v == 1 ? "y" : "ies");
        }
        if (fds[1].revents & POLLIN) {
            if (read(term, &v, sizeof v) != sizeof v)
                die("read eventfs fd");
            term_count += v;
            printf("  SIGTERM  %llu deliver%s, and still running\n", (unsigned long long)v,
                   v == 1 ? "y" : "ies");
        }
    }
    close(usr2);
    close(term);
    if (usr2_count != 3 || term_count != 1) {
        fprintf(stderr, "demo: part 2 counted %llu SIGUSR2, %llu SIGTERM\n",
                (unsigned long long)usr2_count, (unsigned long long)term_count);
        return 1;
    }
    return 0;
}

/* Part 3 (the event ring): every kind of event through one evfd_ring. A
 * thread posts user events and then wakes a futex; a signal arrives with
 * its sigqueue value; a periodic ring timer ticks; an eventfd's count and a
 * pipe's readiness are read for us. Futex waits need the io_uring backend
 * (ENOSYS on epoll), so there the futex is reported as unavailable. */
static uint32_t ring_futex_word;

static void *ring_producer(void *arg) {
    struct evfd_ring *ring = arg;
    for (uint64_t n = 1; n <= 3; n++)
        if (evfd_ring_post(ring, 5, n * 100) != 0)
            die("evfd_ring_post");
    struct timespec pause = {0, 100 * 1000 * 1000};
    /* Wake until the ring's waiter was woken (it may not be armed yet). */
    for (int i = 0; i < 50; i++) {
        __atomic_store_n(&ring_futex_word, 1, __ATOMIC_SEQ_CST);
        if (syscall(SYS_futex, &ring_futex_word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0) > 0)
            break;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static int part_ring(void) {
    enum { U_FD = 1, U_SIGNAL, U_TIMER, U_FUTEX, U_USER, U_PIPE };
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        die("sigprocmask");

    struct evfd_ring *ring = evfd_ring_new(0, 0);
    if (!ring)
        die("evfd_ring_new");
    printf("part 3: one evfd_ring (%s backend) for every kind of event\n", evfd_ring_backend(ring));
    int counter = evfd_eventfd(0);
    int pipefd[2];
    if (counter < 0 || pipe(pipefd) != 0)
        die("eventfd/pipe");
    struct timespec period = {0, 150 * 1000 * 1000};
    if (evfd_ring_add_fd(ring, counter, POLLIN, U_FD) != 0 ||
        evfd_ring_add_fd(ring, pipefd[0], POLLIN, U_PIPE) != 0 ||
        evfd_ring_add_signal(ring, SIGUSR2, U_SIGNAL) != 0 ||
        evfd_ring_add_timer(ring, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period, U_TIMER) != 0)
        die("evfd_ring_add_*");
    int futex_ok = evfd_ring_add_futex(ring, &ring_futex_word, 0, U_FUTEX) == 0;
    if (!futex_ok && errno != ENOSYS)
        die("evfd_ring_add_futex");
    if (!futex_ok)
        printf("  futex    not available on this backend (ENOSYS)\n");

    uint64_t seven = 7;
    if (write(counter, &seven, 8) != 8 || write(pipefd[1], "!", 1) != 1)
        die("write");
    if (sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 2007}) != 0)
        die("sigqueue");
    pthread_t thread;
    if (pthread_create(&thread, NULL, ring_producer, ring) != 0)
        die("pthread_create");

    int fd_seen = 0, pipe_seen = 0, sig_seen = 0, ticks = 0, futex_seen = !futex_ok, users = 0;
    struct evfd_event ev[16];
    for (int round = 0; round < 100 && !(fd_seen && pipe_seen && sig_seen && ticks >= 2 && futex_seen && users == 3); round++) {
        struct timespec timeout = {3, 0};
        int n = evfd_ring_wait(ring, ev, 16, &timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            switch (ev[i].udata) {
            case U_FD:
                printf("  eventfd  count %llu read for us\n", (unsigned long long)ev[i].value);
                fd_seen = 1;
                break;
            case U_PIPE: {
                char c;
                if (read(pipefd[0], &c, 1) != 1)
                    die("read pipe");
                printf("  pipe     readable (revents 0x%x), read '%c'\n", ev[i].revents, c);
                pipe_seen = 1;
                break;
            }
            case U_SIGNAL:
                printf("  signal   %s value %llu from pid %u (code %d)\n", strsignal((int)ev[i].signo),
                       (unsigned long long)ev[i].value, ev[i].pid, ev[i].code);
                sig_seen = 1;
                break;
            case U_TIMER:
                ticks += (int)ev[i].value;
                printf("  timer    tick %d\n", ticks);
                break;
            case U_FUTEX:
                printf("  futex    woken (error %d)\n", ev[i].error);
                futex_seen = 1;
                break;
            case U_USER:
                printf("  user     posted %llu\n", (unsigned long long)ev[i].value);
                users++;
                break;
            }
        }
    }
    pthread_join(thread, NULL);
    evfd_ring_free(ring);
    close(counter);
    close(pipefd[0]);
    close(pipefd[1]);
    if (!(fd_seen && pipe_seen && sig_seen && ticks >= 2 && futex_seen && users == 3)) {
        fprintf(stderr, "demo: part 3 missed events (fd %d pipe %d signal %d ticks %d futex %d user %d)\n",
                fd_seen, pipe_seen, sig_seen, ticks, futex_seen, users);
        return 1;
    }
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int failed = part_2007();
    /* Later parts (eventfs, the ring) are added below this line. */
    failed |= part_eventfs();
    failed |= part_ring();
    if (failed)
        return 1;
    printf("demo: every event arrived\n");
    return 0;
}
