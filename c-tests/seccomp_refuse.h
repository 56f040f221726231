/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* seccomp_refuse.h - take away the two ways evfd's eventfs compares
 * descriptors (fcntl F_DUPFD_QUERY, Linux 6.10+, and kcmp(2)), the way a
 * container's seccomp profile or an older kernel would. */
#ifndef EVFD_SECCOMP_REFUSE_H
#define EVFD_SECCOMP_REFUSE_H

#include "check.h"
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef __x86_64__
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#endif

#define EVFD_F_DUPFD_QUERY 1027

/* Installs a filter on this thread and its future children: fcntl(..,
 * F_DUPFD_QUERY, ..) fails with `query_errno` (EINVAL is what kernels
 * before 6.10 say), and kcmp(2) with EPERM when `refuse_kcmp`. Checks that
 * it took. Returns 0 where no filter can be installed (not x86-64, or
 * seccomp refused). */
static inline int refuse_fd_comparison(int query_errno, int refuse_kcmp) {
#ifdef __x86_64__
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_kcmp, 0, 1),
        BPF_STMT(BPF_RET | BPF_K,
                 refuse_kcmp ? SECCOMP_RET_ERRNO | EPERM : SECCOMP_RET_ALLOW),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fcntl, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EVFD_F_DUPFD_QUERY, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)query_errno),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return 0;
    if (refuse_kcmp)
        CHECK_ERR(syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 1), EPERM);
    /* The filter's errno; valgrind refuses the command itself (EINVAL). */
    errno = 0;
    CHECK_EQ(syscall(SYS_fcntl, 0, EVFD_F_DUPFD_QUERY, 1), -1);
    CHECK(errno == query_errno || errno == EINVAL);
    return 1;
#else
    (void)query_errno;
    (void)refuse_kcmp;
    return 0;
#endif
}

#endif
