/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Backend choice: with io_uring refused the way a container's seccomp
 * profile refuses it (io_uring_setup fails with EPERM, or ENOSYS), a ring
 * made without EVFD_RING_BACKEND falls back to epoll and works; forcing
 * EVFD_RING_BACKEND=io_uring then fails with that errno and leaks nothing;
 * before the filter, the default is io_uring (where the kernel allows it)
 * and evfd_ring_backend() says which one is in use. */
/* evfd-test: no-valgrind */
#define _GNU_SOURCE
#include "ring_util.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void refuse_io_uring(int err) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    CHECK_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    CHECK_EQ(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), 0);
}

/* In a child (the filter is for ever): returns its exit status. */
static int in_child_refusing(int err) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        refuse_io_uring(err);
        int before = count_fds();
        unsetenv("EVFD_RING_BACKEND");
        struct evfd_ring *r = evfd_ring_new(0, 0);
        CHECK(r != NULL);
        CHECK(strcmp(evfd_ring_backend(r), "epoll") == 0);
        CHECK_EQ(evfd_ring_post(r, 1, 2), 0);
        struct evfd_event ev = next_event(r);
        CHECK_EQ(ev.kind, EVFD_KIND_USER);
        CHECK_EQ(ev.value, 2);
        evfd_ring_free(r);
        CHECK_NO_LEAK(before);

        setenv("EVFD_RING_BACKEND", "io_uring", 1);
        errno = 0;
        CHECK(evfd_ring_new(0, 0) == NULL);
        CHECK_EQ(errno, err);
        CHECK_NO_LEAK(before);

        setenv("EVFD_RING_BACKEND", "epoll", 1);
        r = evfd_ring_new(0, 0);
        CHECK(r != NULL && strcmp(evfd_ring_backend(r), "epoll") == 0);
        evfd_ring_free(r);
        _exit(0);
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    return WEXITSTATUS(status);
}

int main(void) {
    unsetenv("EVFD_RING_BACKEND");
    struct evfd_ring *r = evfd_ring_new(0, 0);
    CHECK(r != NULL);
    /* Where the kernel allows io_uring, it is the default. */
    long probe = syscall(SYS_io_uring_setup, 0, NULL);
    int usable = !(probe < 0 && (errno == EPERM || errno == ENOSYS));
    if (usable)
        CHECK(strcmp(evfd_ring_backend(r), "io_uring") == 0);
    else
        CHECK(strcmp(evfd_ring_backend(r), "epoll") == 0);
    evfd_ring_free(r);

    CHECK_EQ(in_child_refusing(EPERM), 0);
    CHECK_EQ(in_child_refusing(ENOSYS), 0);
    return 0;
}
