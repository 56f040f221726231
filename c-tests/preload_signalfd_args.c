/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* On glibc's path, the kernel sees exactly what glibc would pass: a
 * program built against plain glibc calls signalfd(fd, mask, flags) with
 * every kind of flags glibc's prototype lets through (valid, invalid,
 * negative, with garbage above the int in the register) on new, existing,
 * foreign, closed and negative fds, valid and NULL masks; each call is
 * made once through glibc's own signalfd (looked up in libc.so.6) and
 * once through the program's `signalfd`, which LD_PRELOAD=libevfd.so
 * binds to evfd's. A seccomp filter traps every signalfd4 system call; the
 * SIGSYS handler records the four argument registers as the kernel (and so
 * any seccomp filter or audit rule) sees them, all 64 bits, then makes the
 * call for real. Both calls must show the kernel the same registers and
 * get the same result and errno. Without the preload both are glibc's.
 *
 * Third arguments 8..128 are left out: there the unprefixed signalfd is
 * the 2007 call by design (README, the rule for the third argument).
 *
 * glibc hands the kernel its int arguments (fd, flags) zero-extended in
 * their 64-bit registers, and so does evfd (sys::signalfd4_raw): all 64
 * bits of every argument must match (INT_UPPER_HALVES_EQUAL). */
/* evfd-test: no-link no-valgrind -ldl */
#define _GNU_SOURCE
#include "check.h"
#include <dlfcn.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)

/* The handler's own signalfd4 carries this in its unused sixth argument,
 * which the filter lets through. */
#define COOKIE 0x65766664a5a5c3c3ULL

#define INT_UPPER_HALVES_EQUAL 1

struct seen {
    unsigned long long arg[4];
    long ret;
    int calls;
};

static struct seen last;

static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    greg_t *r = uc->uc_mcontext.gregs;
    int saved = errno;
    long ret;
    (void)sig;
    if (si->si_syscall != SYS_signalfd4)
        _exit(3);
    last.arg[0] = (unsigned long long)r[REG_RDI];
    last.arg[1] = (unsigned long long)r[REG_RSI];
    last.arg[2] = (unsigned long long)r[REG_RDX];
    last.arg[3] = (unsigned long long)r[REG_R10];
    last.calls++;
    ret = syscall(SYS_signalfd4, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], 0L, (long)COOKIE);
    r[REG_RAX] = ret == -1 ? -errno : ret;
    last.ret = r[REG_RAX];
    errno = saved;
}

#define LOW(x) ((uint32_t)((x) & 0xffffffffULL))
#define HIGH(x) ((uint32_t)((x) >> 32))

static void trap_signalfd4(void) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_signalfd4, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* args[5] == COOKIE, little-endian halves */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[5])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, LOW(COOKIE), 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[5]) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HIGH(COOKIE), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    CHECK_EQ(sigaction(SIGSYS, &sa, NULL), 0);
    CHECK_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    CHECK_EQ(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), 0);
}

/* glibc's prototype, and the same symbol called with a long third argument
 * so that the register holds garbage above the int (the ABI allows it). */
typedef int signalfd_fn(int, const sigset_t *, int);
typedef int signalfd_long_fn(int, const sigset_t *, long);

struct outcome {
    struct seen kernel;
    int ret, err;
};

/* ISO C has no cast from dlsym's void * to a function pointer. */
static signalfd_fn *lookup(void *handle, const char *name) {
    void *p = dlsym(handle, name);
    signalfd_fn *fn;
    CHECK(p != NULL);
    memcpy(&fn, &p, sizeof fn);
    return fn;
}

static struct outcome call(signalfd_fn *fn, int wide, int fd, const sigset_t *mask, long third) {
    struct outcome o;
    memset(&last, 0, sizeof last);
    errno = 0;
    if (wide) {
        signalfd_long_fn *wide_fn;
        memcpy(&wide_fn, &fn, sizeof wide_fn);
        o.ret = wide_fn(fd, mask, third);
    } else
        o.ret = fn(fd, mask, (int)third);
    o.err = o.ret < 0 ? errno : 0;
    o.kernel = last;
    return o;
}

static int failures, extension_gaps;

/* An int argument register: equal, or (while the known gap stands) the
 * same int zero-extended by glibc and sign-extended by evfd. */
static int same_int_register(unsigned long long glibc, unsigned long long program) {
    if (glibc == program)
        return 1;
    if (INT_UPPER_HALVES_EQUAL || (glibc >> 32) != 0 || glibc < 0x80000000ULL)
        return 0;
    if (program != (unsigned long long)(long long)(int32_t)(uint32_t)glibc)
        return 0;
    extension_gaps++;
    return 1;
}

static void compare(signalfd_fn *glibc, signalfd_fn *program, int wide, int fd, const sigset_t *mask, long third,
                    const char *what) {
    struct outcome g = call(glibc, wide, fd, mask, third);
    struct outcome p = call(program, wide, fd, mask, third);
    int same = g.kernel.calls == p.kernel.calls && (g.ret < 0) == (p.ret < 0) && g.err == p.err;
    same = same && same_int_register(g.kernel.arg[0], p.kernel.arg[0]);
    same = same && g.kernel.arg[1] == p.kernel.arg[1] && g.kernel.arg[2] == p.kernel.arg[2];
    same = same && same_int_register(g.kernel.arg[3], p.kernel.arg[3]);
    /* A new descriptor has a new number; a replaced one is the same. */
    same = same && (g.ret < 0 || fd < 0 || g.ret == p.ret);
    if (!same) {
        failures++;
        fprintf(stderr,
                "%s fd=%d third=%#lx%s:\n"
                "  glibc:   %d signalfd4 call(s) (%#llx, %#llx, %#llx, %#llx) -> %d errno %d\n"
                "  program: %d signalfd4 call(s) (%#llx, %#llx, %#llx, %#llx) -> %d errno %d\n",
                what, fd, (unsigned long)third, wide ? " (long)" : "", g.kernel.calls,
                g.kernel.arg[0], g.kernel.arg[1], g.kernel.arg[2], g.kernel.arg[3], g.ret, g.err,
                p.kernel.calls, p.kernel.arg[0], p.kernel.arg[1], p.kernel.arg[2], p.kernel.arg[3],
                p.ret, p.err);
    }
    if (g.ret >= 0 && g.ret != fd)
        close(g.ret);
    if (p.ret >= 0 && p.ret != fd)
        close(p.ret);
}

int main(void) {
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    signalfd_fn *glibc, *program;
    sigset_t mask;
    int sfd, efd, closed;
    long thirds[] = {
        -1,
        1,
        7,
        0x100,
        0x7ff,
        0x801,
        SFD_CLOEXEC | 1,
        SFD_NONBLOCK | 0x100000,
        0x7fffffff,
        (long)INT32_MIN,
        (long)(int32_t)0xfff7f7ff,
        0,
        SFD_CLOEXEC,
        SFD_NONBLOCK,
        SFD_NONBLOCK | SFD_CLOEXEC,
    };
    long wide_thirds[] = {
        (long)0xdead000000000000 | 1,
        (long)0x100000080,
        (long)0xffffffff00000000,
        (long)0x1234567800000000 | SFD_CLOEXEC,
        (long)0xffffffff,
    };
    int before = count_fds();

    CHECK(libc != NULL);
    glibc = lookup(libc, "signalfd");
    program = lookup(RTLD_DEFAULT, "signalfd");
    {
        /* The program's signalfd is evfd's exactly when preloaded (without
         * the preload, under TSan, it is TSan's interceptor: not glibc's,
         * still not evfd's). */
        Dl_info info;
        void *p;
        memcpy(&p, &program, sizeof p);
        CHECK(dladdr(p, &info) != 0 && info.dli_fname != NULL);
        CHECK_EQ(getenv("EVFD_TEST_PRELOADED") != NULL, strstr(info.dli_fname, "libevfd") != NULL);
    }

    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    efd = eventfd(0, EFD_CLOEXEC);
    closed = eventfd(0, EFD_CLOEXEC);
    CHECK(sfd >= 0 && efd >= 0 && closed >= 0);
    CHECK_EQ(close(closed), 0);

    trap_signalfd4();

    int fds[] = {-1, -7, INT32_MIN, sfd, efd, closed};
    for (size_t f = 0; f < sizeof fds / sizeof fds[0]; f++) {
        for (size_t t = 0; t < sizeof thirds / sizeof thirds[0]; t++) {
            compare(glibc, program, 0, fds[f], &mask, thirds[t], "mask");
            compare(glibc, program, 0, fds[f], NULL, thirds[t], "NULL mask");
        }
        for (size_t t = 0; t < sizeof wide_thirds / sizeof wide_thirds[0]; t++)
            compare(glibc, program, 1, fds[f], &mask, wide_thirds[t], "mask");
    }

    close(sfd);
    close(efd);
    CHECK_NO_LEAK(before);
    if (extension_gaps)
        fprintf(stderr, "%d call(s) with a negative int sign-extended (the known gap)\n",
                extension_gaps);
    if (failures) {
        fprintf(stderr, "%d call(s) showed the kernel something glibc would not\n", failures);
        return 1;
    }
    return 0;
}

#else

int main(void) {
    SKIP("reads the argument registers from an x86-64 ucontext");
}

#endif
