/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* burst_cpu.c - CPU ns per event for N eventfds made ready at once by this
 * thread and taken with evfd_ring_wait (bench/EXPERIMENTS.md, "Ring v2:
 * kernel reads or poll + read for counters on io_uring").
 *   burst_cpu N ROUNDS   (EVFD_RING_BACKEND picks the backend) */
#define _GNU_SOURCE
#include <evfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1;
    long rounds = argc > 2 ? atol(argv[2]) : 200000;
    struct evfd_ring *r = evfd_ring_new(0, 0);
    int *fds = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) { fds[i] = eventfd(0, EFD_CLOEXEC); evfd_ring_add_fd(r, fds[i], POLLIN, i); }
    struct evfd_event ev[256];
    struct timespec a, b; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    long total = 0;
    for (long k = 0; k < rounds; k++) {
        uint64_t one = 1;
        for (int i = 0; i < n; i++) if (write(fds[i], &one, 8) != 8) return 1;
        int got = 0;
        while (got < n) { int m = evfd_ring_wait(r, ev, 256, NULL); if (m < 0) return 2; got += m; }
        total += got;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%s n=%d %.0f ns/event\n", evfd_ring_backend(r), n, s * 1e9 / total);
    return 0;
}
