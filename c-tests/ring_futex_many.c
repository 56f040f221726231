/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Many futex waits in one ring, on both backends: 300 words, more than
 * the 128 words one futex_waitv call can hold, so on epoll several of the
 * ring's helper threads wait. Each word woken the way every lock wakes
 * (change the word, then FUTEX_WAKE) gives exactly one event; words that
 * already differ from `expected` give EAGAIN; a removed wait is off the
 * kernel's queue when remove returns (a FUTEX_WAKE on its word then finds
 * no waiter and returns 0, so the ring can never take a wake-up meant for
 * another waiter of a word it no longer watches) and gives no event. After
 * evfd_ring_free, the ring's threads are gone (no entry of /proc/self/task
 * is a ring helper or an io_uring worker; on epoll three helpers were
 * there while the ring waited), no wait of the freed ring is left on the
 * words (a FUTEX_WAKE finds no waiter), and its descriptors are gone.
 *
 * A woken word's event may carry error EAGAIN instead of 0: on epoll a wait
 * is armed when its helper thread enters futex_waitv, and if the word
 * changed first the wait is refused (ring_futex covers this window); the
 * wake-up is not lost either way, which is what is checked. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <dirent.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORDS 300
#define DIFFER 20
#define REMOVED 40

static uint32_t words[WORDS], differ[DIFFER];

static long wake(uint32_t *w) {
    return syscall(SYS_futex, w, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
}

/* Threads of this process that belong to a ring: its helper threads
 * ("evfd-futex") and the kernel's io_uring workers ("iou-wrk-..."). Other
 * threads are left out: a sanitizer's runtime may add its own. */
static int count_ring_tasks(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char path[300], comm[64] = "";
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* exited meanwhile */
        if (fgets(comm, sizeof comm, f) &&
            (strncmp(comm, "evfd", 4) == 0 || strncmp(comm, "iou-", 4) == 0))
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Removed waits are spread over the words (so over every helper thread). */
static int is_removed(int i) {
    return i % (WORDS / REMOVED) == 1;
}

int main(void) {
    int before = count_fds();
    CHECK_EQ(count_ring_tasks(), 0);
    struct evfd_ring *r = new_ring(0);
    static struct evfd_event ev[WORDS + DIFFER];
    static unsigned char seen[WORDS];

    if (evfd_ring_add_futex(r, &words[0], 0, 1000) != 0) {
        /* valgrind 3.19 does not know futex_waitv (syscall 449): to the
         * program the kernel lacks it, and ENOSYS is the documented answer. */
        if (errno == ENOSYS && under_valgrind() && is_epoll(r)) {
            evfd_ring_free(r);
            SKIP("futex_waitv is ENOSYS under valgrind 3.19");
        }
        CHECK(!"evfd_ring_add_futex failed");
    }
    for (int i = 1; i < WORDS; i++)
        CHECK_EQ(evfd_ring_add_futex(r, &words[i], 0, 1000 + (uint64_t)i), 0);
    for (int i = 0; i < DIFFER; i++) {
        differ[i] = 1;
        CHECK_EQ(evfd_ring_add_futex(r, &differ[i], 0, 5000 + (uint64_t)i), 0);
    }

    /* On epoll, 320 waits need three helper threads (127 words each); a
     * thread takes its name once it runs, so look again for a while. */
    if (is_epoll(r)) {
        int helpers = count_ring_tasks();
        for (int i = 0; i < 200 && helpers < 3; i++) {
            struct timespec pause = {0, 25 * 1000 * 1000};
            nanosleep(&pause, NULL);
            helpers = count_ring_tasks();
        }
        CHECK(helpers >= 3);
    }

    /* The refused ones, and nothing else yet. */
    int got = 0;
    while (got < DIFFER)
        got += wait_events(r, ev + got, DIFFER - got);
    for (int i = 0; i < DIFFER; i++) {
        CHECK_EQ(ev[i].kind, EVFD_KIND_FUTEX);
        CHECK(ev[i].udata >= 5000 && ev[i].udata < 5000 + DIFFER);
        CHECK_EQ(ev[i].error, EAGAIN);
        CHECK_EQ(ev[i].value, 0);
    }
    expect_quiet(r, 200);

    /* Removed waits leave the kernel's queue before remove returns. */
    for (int i = 0; i < WORDS; i++)
        if (is_removed(i))
            CHECK_EQ(evfd_ring_remove(r, 1000 + (uint64_t)i), 0);
    for (int i = 0; i < WORDS; i++)
        if (is_removed(i)) {
            __atomic_store_n(&words[i], 1, __ATOMIC_SEQ_CST);
            CHECK_EQ(wake(&words[i]), 0);
            CHECK_ERR(evfd_ring_remove(r, 1000 + (uint64_t)i), ENOENT);
        }
    expect_quiet(r, 200);

    /* The lock protocol: change the word, then wake. One event each. */
    int woken = 0;
    for (int i = WORDS - 1; i >= 0; i--)
        if (!is_removed(i)) {
            __atomic_store_n(&words[i], 1, __ATOMIC_SEQ_CST);
            long n = wake(&words[i]);
            CHECK(n == 0 || n == 1);
            woken++;
        }
    int refused = 0;
    for (got = 0; got < woken;) {
        int k = wait_events(r, ev, (unsigned)(woken - got));
        CHECK(k > 0);
        for (int j = 0; j < k; j++) {
            int i = (int)(ev[j].udata - 1000);
            CHECK_EQ(ev[j].kind, EVFD_KIND_FUTEX);
            CHECK(ev[j].udata >= 1000 && i < WORDS && !is_removed(i));
            CHECK(ev[j].error == 0 || ev[j].error == EAGAIN);
            refused += ev[j].error == EAGAIN;
            CHECK_EQ(seen[i], 0);
            seen[i] = 1;
        }
        got += k;
    }
    expect_quiet(r, 300);
    if (refused)
        fprintf(stderr, "note: %d of %d woken waits were refused (armed after the change)\n",
                refused, woken);
    for (int i = 0; i < WORDS; i++)
        CHECK_ERR(evfd_ring_remove(r, 1000 + (uint64_t)i), ENOENT); /* one-shot */

    /* Waiting again on the same words works (slots and threads reused). */
    for (int i = 0; i < WORDS; i++)
        CHECK_EQ(evfd_ring_add_futex(r, &words[i], 1, 1000 + (uint64_t)i), 0);
    expect_quiet(r, 100);
    for (int i = 0; i < WORDS; i += 2) {
        __atomic_store_n(&words[i], 2, __ATOMIC_SEQ_CST);
        wake(&words[i]);
    }
    memset(seen, 0, sizeof seen);
    for (got = 0; got < WORDS / 2;) {
        int k = wait_events(r, ev, WORDS / 2 - (unsigned)got);
        CHECK(k > 0);
        for (int j = 0; j < k; j++) {
            int i = (int)(ev[j].udata - 1000);
            CHECK(ev[j].udata >= 1000 && i < WORDS && i % 2 == 0);
            CHECK_EQ(seen[i], 0);
            seen[i] = 1;
        }
        got += k;
    }
    expect_quiet(r, 200);
    /* The other half still waits: freeing the ring ends those waits. */

    evfd_ring_free(r);
    /* At once: a wait the kernel still held for the freed ring would take
     * a wake-up meant for another waiter of the word. */
    for (int i = 1; i < WORDS; i += 2) {
        __atomic_store_n(&words[i], 2, __ATOMIC_SEQ_CST);
        CHECK_EQ(wake(&words[i]), 0); /* no wait survives the ring */
    }
    /* The ring's threads have exited when free returns; the kernel may
     * list a joined thread (or an io_uring worker) a moment longer, so
     * look again for a while. */
    int left = count_ring_tasks();
    for (int i = 0; i < 200 && left != 0; i++) {
        struct timespec pause = {0, 25 * 1000 * 1000};
        nanosleep(&pause, NULL);
        left = count_ring_tasks();
    }
    CHECK_EQ(left, 0);
    CHECK_NO_LEAK(before);
    return 0;
}
