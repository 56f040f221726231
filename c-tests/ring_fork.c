/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* fork() while a ring is live: the child may only evfd_ring_free it (every
 * other call fails with EINVAL there, and free leaves the parent's ring
 * alone); the parent's ring keeps working: events pending before the fork
 * still arrive exactly once, sources keep firing, posts still work. The
 * child's evfd_ring_free closes the child's copies of every descriptor the
 * ring holds (counted before and after). A child that outlives the parent
 * does not keep the parent's watched files open. */
/* evfd-test: backends */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* The process's own descriptors: below RLIMIT_NOFILE as the program sees
 * it. valgrind keeps descriptors of its own above that (and its child after
 * fork does not keep the same set), so count_fds() cannot compare a child
 * with its parent there. */
static int count_own_fds(void) {
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0, self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        long fd = strtol(e->d_name, NULL, 10);
        if (fd != self && (rlim_t)fd < rl.rlim_cur)
            n++;
    }
    closedir(d);
    return n;
}

/* A child forked without exec that outlives the process whose ring it
 * copied must not keep that ring's watched files open: the parent watches
 * the write end of a pipe (made after the fork: the child never had it)
 * and exits without evfd_ring_free, as after a crash; the reader must see
 * end of file while the child still runs. (On io_uring the ring remembers
 * watched files in a fixed file table, which belongs to no task.) */
static void child_outlives_parent(void) {
    int q[2], go[2];
    CHECK_EQ(pipe(q), 0);
    CHECK_EQ(pipe(go), 0);
    pid_t parent = fork();
    CHECK(parent >= 0);
    if (parent == 0) {
        close(q[0]);
        close(go[1]);
        struct evfd_ring *r = new_ring(0);
        int w[2];
        CHECK_EQ(pipe(w), 0);
        pid_t worker = fork();
        CHECK(worker >= 0);
        if (worker == 0) {
            close(q[1]);
            char c;
            (void)!read(go[0], &c, 1); /* until the test is done */
            _exit(0);
        }
        CHECK_EQ(evfd_ring_add_fd(r, q[1], POLLOUT, 1), 0);
        struct evfd_event ev[4];
        CHECK(evfd_ring_peek(r, ev, 4) >= 0);
        _exit(0);
    }
    close(q[1]);
    close(go[0]);
    CHECK_EQ(waitpid(parent, NULL, 0), parent);
    struct pollfd pf = {.fd = q[0], .events = POLLIN};
    CHECK_EQ(poll(&pf, 1, 5000), 1);
    char c;
    CHECK_EQ(read(q[0], &c, 1), 0);
    close(go[1]); /* the worker ends */
    close(q[0]);
    while (wait(NULL) > 0) {
    }
}

int main(void) {
    child_outlives_parent();
    int before = count_fds();
    int own_before = count_own_fds();
    struct evfd_ring *r = new_ring(8);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(evfd_ring_add_fd(r, p[0], POLLIN, 1), 0);
    struct timespec period = {0, 20 * 1000 * 1000};
    CHECK_EQ(evfd_ring_add_timer(r, CLOCK_MONOTONIC, EVFD_TIMER_SEQ, &period, 2), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(evfd_ring_post(r, 3, (uint64_t)i), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL); /* completions are waiting in the kernel queue */

    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        struct evfd_event ev[8];
        struct timespec t = {0, 0};
        int bad = 0;
        errno = 0;
        bad |= evfd_ring_peek(r, ev, 8) != -1 || errno != EINVAL;
        bad |= evfd_ring_wait(r, ev, 8, &t) != -1 || errno != EINVAL;
        bad |= evfd_ring_post(r, 9, 9) != -1 || errno != EINVAL;
        bad |= evfd_ring_remove(r, 1) != -1 || errno != EINVAL;
        bad |= evfd_ring_add_signal(r, SIGUSR1, 9) != -1 || errno != EINVAL;
        bad |= evfd_ring_fd(r) != -1 || errno != EINVAL;
        bad |= strcmp(evfd_ring_backend(r), getenv("EVFD_RING_BACKEND") ? getenv("EVFD_RING_BACKEND") : evfd_ring_backend(r)) != 0;
        /* free releases the child's copies of the ring's descriptors:
         * only the pipe is left beyond what the process had before. */
        int held = count_own_fds();
        evfd_ring_free(r);
        int left = count_own_fds();
        if (held <= own_before + 2 || left != own_before + 2) {
            fprintf(stderr, "child: %d fds before the ring, %d with it, %d after free\n",
                    own_before, held, left);
            _exit(4);
        }
        _exit(bad ? 3 : 0);
    }
    int status;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);

    /* The parent's ring is intact. */
    int posts = 0, fd_events = 0, ticks = 0;
    while (posts < 3 || fd_events < 1 || ticks < 3) {
        struct evfd_event ev = next_event(r);
        CHECK_EQ(ev.error, 0);
        if (ev.udata == 3) {
            CHECK_EQ(ev.kind, EVFD_KIND_USER);
            CHECK_EQ(ev.value, (uint64_t)posts);
            posts++;
        } else if (ev.udata == 1) {
            CHECK_EQ(ev.kind, EVFD_KIND_FD);
            if (fd_events++ == 0) {
                char c;
                CHECK_EQ(read(p[0], &c, 1), 1);
            }
        } else {
            CHECK_EQ(ev.udata, 2);
            ticks += (int)ev.value;
        }
    }
    CHECK_EQ(posts, 3);
    CHECK_EQ(evfd_ring_post(r, 4, 44), 0);
    struct evfd_event ev;
    do
        ev = next_event(r);
    while (ev.udata == 2 || ev.udata == 1);
    CHECK_EQ(ev.udata, 4);
    CHECK_EQ(ev.value, 44);
    CHECK_EQ(evfd_ring_remove(r, 1), 0);
    CHECK_EQ(evfd_ring_remove(r, 2), 0);
    evfd_ring_free(r);
    close(p[0]);
    close(p[1]);
    CHECK_NO_LEAK(before);
    return 0;
}
