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
 */
#define _GNU_SOURCE
#include <evfd.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
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

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int failed = part_2007();
    /* Later parts (eventfs, the ring) are added below this line. */
    failed |= part_eventfs();
    if (failed)
        return 1;
    printf("demo: every event arrived\n");
    return 0;
}
