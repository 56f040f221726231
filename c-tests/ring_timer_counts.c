/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Timer counts and scale. A SEQ timer left unread counts the periods it
 * missed in `value`, in one event, as the kernel's timerfd with the same
 * period counts them (read beside it; the two are read a moment apart, so
 * the ring's count must lie between the timerfd's counts read just before
 * and just after, give or take one). An ABS time already past fires at
 * once, with value 1, as a timerfd does. 100,000 timers (10,000 under
 * valgrind) live in one ring on either backend without one descriptor
 * more than the first needed: more than the machine's RLIMIT_NOFILE hard
 * limit of 20,000, so no backend can be making a descriptor per timer;
 * 1,000 of them re-armed fire once each; all of them are removable. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

static uint64_t read_timerfd(int fd) {
    uint64_t n = 0;
    if (read(fd, &n, sizeof n) != (ssize_t)sizeof n) {
        CHECK_EQ(errno, EAGAIN);
        return 0;
    }
    return n;
}

/* Arms the ring's SEQ timer `udata` and the kernel's `kfd` with the same
 * period back to back (each re-arm discards what was counted before),
 * leaves both unread for `periods`, then compares their counts. */
static void compare_missed(struct evfd_ring *r, int kfd, uint64_t udata, long period_ms,
                           int periods) {
    struct timespec period = {0, period_ms * 1000000L};
    struct itimerspec every = {period, period};
    CHECK_EQ(timerfd_settime(kfd, 0, &every, NULL), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, udata, EVFD_TIMER_SEQ, &period), 0);
    sleep_ms(period_ms * periods);
    uint64_t k_before = read_timerfd(kfd);
    struct evfd_event ev[16];
    int n = evfd_ring_peek(r, ev, 16);
    uint64_t k_after = read_timerfd(kfd);
    CHECK(k_before >= (uint64_t)periods - 1);
    if (n != 1 || ev[0].value + 1 < k_before || ev[0].value > k_before + k_after + 1)
        fprintf(stderr, "ring: %d events, first value %llu; timerfd: %llu then %llu\n", n,
                n > 0 ? (unsigned long long)ev[0].value : 0ULL, (unsigned long long)k_before,
                (unsigned long long)k_after);
    CHECK_EQ(n, 1); /* one event for all the missed periods */
    CHECK_EQ(ev[0].kind, EVFD_KIND_TIMER);
    CHECK_EQ(ev[0].udata, udata);
    CHECK_EQ(ev[0].error, 0);
    CHECK(ev[0].value + 1 >= k_before);
    CHECK(ev[0].value <= k_before + k_after + 1);
}

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    struct evfd_event ev;

    /* SEQ: missed periods counted as the kernel counts them, twice. */
    long period_ms = under_valgrind() ? 100 : 50;
    struct timespec hour = {3600, 0};
    int kfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    CHECK(kfd >= 0);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &hour, 1), 0);
    compare_missed(r, kfd, 1, period_ms, 10);
    compare_missed(r, kfd, 1, period_ms, 6);
    CHECK_EQ(evfd_ring_remove(r, 1), 0);
    close(kfd);

    /* ABS in the past: due at once (peek, no waiting), value 1, as the
     * kernel's timerfd reads 1 at once. */
    static const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
    for (int c = 0; c < 3; c++) {
        struct timespec past = {1, 0};
        int k = timerfd_create(clocks[c], TFD_NONBLOCK);
        struct itimerspec once = {{0, 0}, past};
        CHECK_EQ(timerfd_settime(k, TFD_TIMER_ABSTIME, &once, NULL), 0);
        CHECK_EQ(read_timerfd(k), 1);
        close(k);
        CHECK_EQ(evfd_ring_add_timer(r, clocks[c], EVFD_TIMER_ABS, &past, 2), 0);
        CHECK_EQ(evfd_ring_peek(r, &ev, 1), 1);
        CHECK_EQ(ev.kind, EVFD_KIND_TIMER);
        CHECK_EQ(ev.udata, 2);
        CHECK_EQ(ev.value, 1);
        CHECK_ERR(evfd_ring_remove(r, 2), ENOENT);
    }
    expect_quiet(r, 100);

    /* Scale: far more timers than this process may have descriptors. */
    struct rlimit lim;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    const uint64_t n = under_valgrind() ? 10000 : 100000;
    if (!under_valgrind() && lim.rlim_max != RLIM_INFINITY && lim.rlim_max >= n)
        fprintf(stderr, "note: RLIMIT_NOFILE hard limit %llu is not below %llu here\n",
                (unsigned long long)lim.rlim_max, (unsigned long long)n);
    const uint64_t base = 1000000;
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, base), 0);
    int with_one = count_fds();
    for (uint64_t i = 1; i < n; i++)
        CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, base + i), 0);
    CHECK_EQ(count_fds(), with_one);
    expect_quiet(r, 100);

    /* Re-arm every (n / 1000)th to fire now: exactly those fire, once. */
    const uint64_t rearmed = 1000, stride = n / rearmed;
    struct timespec soon = {0, 10 * 1000 * 1000};
    for (uint64_t i = 0; i < rearmed; i++)
        CHECK_EQ(evfd_ring_rearm_timer(r, base + i * stride, EVFD_TIMER_REL, &soon), 0);
    CHECK_EQ(count_fds(), with_one);
    unsigned char *seen = calloc(n, 1);
    CHECK(seen != NULL);
    struct evfd_event batch[256];
    for (uint64_t got = 0; got < rearmed;) {
        int k = wait_events(r, batch, 256);
        CHECK(k > 0);
        for (int j = 0; j < k; j++) {
            uint64_t i = batch[j].udata - base;
            CHECK_EQ(batch[j].kind, EVFD_KIND_TIMER);
            CHECK_EQ(batch[j].value, 1);
            CHECK(batch[j].udata >= base && i < n && i % stride == 0);
            CHECK_EQ(seen[i], 0);
            seen[i] = 1;
        }
        got += (uint64_t)k;
        CHECK(got <= rearmed);
    }
    expect_quiet(r, 200);

    /* Remove all: the fired ones are gone, every other one is there once. */
    for (uint64_t i = 0; i < n; i++) {
        if (seen[i])
            CHECK_ERR(evfd_ring_remove(r, base + i), ENOENT);
        else
            CHECK_EQ(evfd_ring_remove(r, base + i), 0);
    }
    for (uint64_t i = 0; i < n; i += stride / 2)
        CHECK_ERR(evfd_ring_remove(r, base + i), ENOENT);
    free(seen);
    CHECK_EQ(count_fds(), with_one);

    /* The emptied ring still times. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &soon, 3), 0);
    ev = next_event(r);
    CHECK_EQ(ev.udata, 3);
    CHECK_EQ(ev.value, 1);
    expect_quiet(r, 100);

    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
