/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* evfd_ring_rearm_timer, as DESIGN §4 says it behaves: it moves a pending
 * timer (it fires at the new time, never at the old one); it discards
 * expirations not yet delivered (a SEQ timer left unread for several
 * periods, then re-armed far out, delivers nothing; the kernel's
 * timerfd_settime does the same to a timerfd's count, checked beside it);
 * a zero `when` disarms but keeps the timer registered; it re-arms every
 * timer of the udata; it can change the type; it keeps the clock the timer
 * was added with; ENOENT where the udata names no timer (unknown, a
 * delivered one-shot, an fd source only); argument errors with their errno,
 * no fd leak, and a refused call changes nothing. Lower bounds on when a
 * timer fired are checked (they cannot flake); upper bounds only as "did
 * not fire within X ms" with X large against the timer. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <sys/timerfd.h>
#include <unistd.h>

static const long MS = 1000 * 1000;

static int64_t now_ns(clockid_t c) {
    struct timespec t;
    CHECK_EQ(clock_gettime(c, &t), 0);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static struct timespec ts_ns(int64_t ns) {
    struct timespec t = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    return t;
}

/* The next event is timer `udata`'s, with `value` expirations. */
#define expect_timer(r, udata, value) expect_timer_at((r), (udata), (value), __LINE__)
static void expect_timer_at(struct evfd_ring *r, uint64_t udata, uint64_t value, int line) {
    struct evfd_event ev = next_event_at(r, line);
    if (ev.kind != EVFD_KIND_TIMER || ev.udata != udata || ev.error != 0 || ev.value != value)
        fprintf(stderr, "line %d: event kind %u udata %llu error %d value %llu\n", line, ev.kind,
                (unsigned long long)ev.udata, ev.error, (unsigned long long)ev.value);
    CHECK_EQ(ev.kind, EVFD_KIND_TIMER);
    CHECK_EQ(ev.udata, udata);
    CHECK_EQ(ev.error, 0);
    CHECK_EQ(ev.value, value);
}

int main(void) {
    int before = count_fds();
    struct evfd_ring *r = new_ring(0);
    struct timespec hour = {3600, 0}, zero = {0, 0};

    /* Moved later: never fires at the old time, fires at the new one. */
    struct timespec soon = ts_ns(100 * MS), later = ts_ns(2500 * MS);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &soon, 1), 0);
    int64_t moved_at = now_ns(CLOCK_MONOTONIC);
    CHECK_EQ(evfd_ring_rearm_timer(r, 1, EVFD_TIMER_REL, &later), 0);
    expect_quiet(r, 1000);
    expect_timer(r, 1, 1);
    CHECK(now_ns(CLOCK_MONOTONIC) >= moved_at + 2500 * MS);
    CHECK_ERR(evfd_ring_remove(r, 1), ENOENT);

    /* Moved earlier: fires at the new time. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, 2), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, 2, EVFD_TIMER_REL, &soon), 0);
    expect_timer(r, 2, 1);
    CHECK_ERR(evfd_ring_rearm_timer(r, 2, EVFD_TIMER_REL, &soon), ENOENT); /* delivered */

    /* Undelivered expirations are discarded: a SEQ timer unread for about
     * ten periods, re-armed an hour out, delivers nothing. The kernel's
     * timerfd, re-armed likewise, has nothing to read either. */
    struct timespec period = ts_ns(10 * MS);
    int kfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    CHECK(kfd >= 0);
    struct itimerspec every = {period, period}, far = {hour, hour};
    CHECK_EQ(timerfd_settime(kfd, 0, &every, NULL), 0);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period, 3), 0);
    sleep_ms(120);
    struct pollfd pfd = {kfd, POLLIN, 0};
    CHECK_EQ(poll(&pfd, 1, 0), 1); /* it did expire */
    CHECK_EQ(timerfd_settime(kfd, 0, &far, NULL), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, 3, EVFD_TIMER_SEQ, &hour), 0);
    uint64_t kcount;
    CHECK_ERR(read(kfd, &kcount, sizeof kcount), EAGAIN);
    expect_quiet(r, 300);
    CHECK_EQ(evfd_ring_remove(r, 3), 0); /* still registered */
    close(kfd);
    /* The same for a one-shot that is due but not delivered. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &period, 4), 0);
    sleep_ms(60);
    CHECK_EQ(evfd_ring_rearm_timer(r, 4, EVFD_TIMER_REL, &hour), 0);
    expect_quiet(r, 300);
    CHECK_EQ(evfd_ring_remove(r, 4), 0);

    /* A zero `when` disarms; the timer stays registered and re-arms. */
    struct timespec tick = ts_ns(20 * MS);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &tick, 5), 0);
    struct evfd_event ev = next_event(r);
    CHECK_EQ(ev.udata, 5);
    CHECK_EQ(evfd_ring_rearm_timer(r, 5, EVFD_TIMER_SEQ, &zero), 0);
    expect_quiet(r, 300);
    CHECK_EQ(evfd_ring_rearm_timer(r, 5, EVFD_TIMER_REL, &tick), 0);
    expect_timer(r, 5, 1);
    expect_quiet(r, 200);
    CHECK_ERR(evfd_ring_remove(r, 5), ENOENT); /* a delivered one-shot */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &tick, 6), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, 6, EVFD_TIMER_ABS, &zero), 0); /* zero disarms for ABS too */
    expect_quiet(r, 300);
    CHECK_EQ(evfd_ring_rearm_timer(r, 6, EVFD_TIMER_SEQ, &zero), 0); /* disarmed again: fine */
    CHECK_EQ(evfd_ring_remove(r, 6), 0);
    CHECK_ERR(evfd_ring_remove(r, 6), ENOENT);

    /* Every timer of the udata, each on its own clock. */
    static const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
    for (int c = 0; c < 3; c++)
        CHECK_EQ(evfd_ring_add_timer(r, clocks[c], c == 1 ? EVFD_TIMER_SEQ : EVFD_TIMER_REL, &hour, 7),
                 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, 7, EVFD_TIMER_REL, &soon), 0);
    for (int i = 0; i < 3; i++)
        expect_timer(r, 7, 1);
    expect_quiet(r, 200);
    CHECK_ERR(evfd_ring_remove(r, 7), ENOENT); /* all three were one-shots now */

    /* The type changes: REL to SEQ repeats, SEQ to REL fires once. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, 8), 0);
    CHECK_EQ(evfd_ring_rearm_timer(r, 8, EVFD_TIMER_SEQ, &tick), 0);
    uint64_t expirations = 0;
    for (int events = 0; events < 3; events++) {
        ev = next_event(r);
        CHECK_EQ(ev.udata, 8);
        CHECK(ev.value >= 1);
        expirations += ev.value;
    }
    CHECK(expirations >= 3);
    CHECK_EQ(evfd_ring_rearm_timer(r, 8, EVFD_TIMER_REL, &tick), 0);
    expect_timer(r, 8, 1);
    expect_quiet(r, 200);
    CHECK_ERR(evfd_ring_remove(r, 8), ENOENT);

    /* The clock it was added with. A MONOTONIC timer re-armed ABS two
     * seconds ahead on MONOTONIC waits (read as REALTIME, that time is long
     * past); a REALTIME one re-armed ABS on REALTIME fires (read as
     * MONOTONIC, it is decades away); BOOTTIME takes a boottime value. */
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &hour, 9), 0);
    int64_t at = now_ns(CLOCK_MONOTONIC) + 2000 * MS;
    struct timespec abs_at = ts_ns(at);
    CHECK_EQ(evfd_ring_rearm_timer(r, 9, EVFD_TIMER_ABS, &abs_at), 0);
    expect_quiet(r, 700);
    expect_timer(r, 9, 1);
    CHECK(now_ns(CLOCK_MONOTONIC) >= at);
    static const clockid_t wall_clocks[] = {CLOCK_REALTIME, CLOCK_BOOTTIME};
    for (int c = 0; c < 2; c++) {
        CHECK_EQ(evfd_ring_add_timer(r, wall_clocks[c], EVFD_TIMER_SEQ, &hour, 10 + c), 0);
        at = now_ns(wall_clocks[c]) + 50 * MS;
        abs_at = ts_ns(at);
        CHECK_EQ(evfd_ring_rearm_timer(r, 10 + c, EVFD_TIMER_ABS, &abs_at), 0);
        expect_timer(r, 10 + c, 1);
        CHECK(now_ns(wall_clocks[c]) >= at);
        CHECK_ERR(evfd_ring_remove(r, 10 + c), ENOENT);
    }

    /* ENOENT: unknown, delivered one-shot (above), an fd source's udata. */
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 12), 0);
    int mid = count_fds();
    CHECK_ERR(evfd_ring_rearm_timer(r, 12, EVFD_TIMER_REL, &soon), ENOENT);
    CHECK_ERR(evfd_ring_rearm_timer(r, 999, EVFD_TIMER_REL, &soon), ENOENT);
    CHECK_ERR(evfd_ring_rearm_timer(r, 999, EVFD_TIMER_SEQ, &zero), ENOENT);
    CHECK_EQ(evfd_ring_post(r, 13, 1), 0); /* a post is no source */
    CHECK_ERR(evfd_ring_rearm_timer(r, 13, EVFD_TIMER_REL, &soon), ENOENT);
    ev = next_event(r);
    CHECK_EQ(ev.kind, EVFD_KIND_USER);
    CHECK_EQ(ev.udata, 13);
    expect_quiet(r, 200); /* the fd source was not turned into a timer */
    CHECK_EQ(evfd_ring_remove(r, 12), 0);
    close(p[0]);
    close(p[1]);

    /* Argument errors; a refused call changes nothing: the timer still
     * fires, and not before its old time. */
    mid = count_fds();
    struct timespec old = ts_ns(1500 * MS), neg = {-1, 0}, big = {0, 1000000000},
                    negns = {0, -1};
    int64_t added_at = now_ns(CLOCK_MONOTONIC);
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_REL, &old, 14), 0);
    CHECK_ERR(evfd_ring_rearm_timer(NULL, 14, EVFD_TIMER_REL, &soon), EFAULT);
    CHECK_ERR(evfd_ring_rearm_timer(r, 14, 3, &soon), EINVAL);
    CHECK_ERR(evfd_ring_rearm_timer(r, 14, -1, &soon), EINVAL);
    CHECK_ERR(evfd_ring_rearm_timer(r, 14, 3, NULL), EINVAL); /* type before `when` */
    CHECK_ERR(evfd_ring_rearm_timer(r, 14, EVFD_TIMER_REL, NULL), EFAULT);
    CHECK_ERR(evfd_ring_rearm_timer(r, 14, EVFD_TIMER_REL, &neg), EINVAL);
    CHECK_ERR(evfd_ring_rearm_timer(r, 14, EVFD_TIMER_SEQ, &big), EINVAL);
    CHECK_ERR(evfd_ring_rearm_timer(r, 14, EVFD_TIMER_ABS, &negns), EINVAL);
    /* evfd_timerfd refuses the same arguments with the same errno. */
    CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, 3, &soon), EINVAL);
    CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_REL, &neg), EINVAL);
    CHECK_ERR(evfd_timerfd(-1, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &big), EINVAL);
    CHECK_NO_LEAK(mid);
    expect_quiet(r, 500);
    expect_timer(r, 14, 1);
    CHECK(now_ns(CLOCK_MONOTONIC) >= added_at + 1500 * MS);
    expect_quiet(r, 200);
    CHECK_ERR(evfd_ring_remove(r, 14), ENOENT);

    evfd_ring_free(r);
    CHECK_NO_LEAK(before);
    return 0;
}
