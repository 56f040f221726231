/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The unprefixed signalfd(fd, mask, third) exported by libevfd, case by
 * case, against the raw signalfd4 system call (the kernel is the reference)
 * and against glibc's own signalfd:
 *   - third 0 or SFD_NONBLOCK|SFD_CLOEXEC combinations (low 32 bits): same
 *     result, descriptor, flags, mask and errno as signalfd4(fd, mask, 8,
 *     third) and as glibc's signalfd;
 *   - third 8..sizeof(sigset_t): the 2007 call, i.e. signalfd4(fd, mask, 8,
 *     0) (blocking, no close-on-exec), where glibc refuses;
 *   - anything else: fails as glibc fails (EINVAL, or EFAULT for a mask the
 *     kernel cannot read), creating and changing nothing.
 * For new fds, existing signalfds (with and without flags), non-signalfds,
 * closed fds and fds below -1; valid, full, NULL and unmapped masks. */
/* evfd-test: preload */
#define _GNU_SOURCE
#include "check.h"
#include <dlfcn.h>
#include <evfd.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*sfd_size_fn)(int, const sigset_t *, size_t);
typedef int (*sfd_glibc_fn)(int, const sigset_t *, int);

static sfd_size_fn evfd_sfd;    /* libevfd's `signalfd`, called with a size_t */
static sfd_glibc_fn glibc_sfd;  /* libc.so.6's own `signalfd` */

enum ufd_kind { UFD_NEW, UFD_SIGNALFD, UFD_SIGNALFD_FLAGS, UFD_EVENTFD, UFD_CLOSED, UFD_BELOW, UFD_KINDS };
static const char *const kind_names[] = {"-1", "signalfd", "signalfd(NONBLOCK|CLOEXEC)", "eventfd", "closed fd", "-5"};

enum caller { BY_EVFD, BY_GLIBC, BY_RAW };

/* What one call did, everything a program can observe. */
struct outcome {
    int ret;                 /* -1 failed, 0 returned ufd, 1 returned a new fd */
    int err;                 /* errno afterwards (left alone on success) */
    int fdflags, flflags;    /* of the resulting / existing descriptor */
    unsigned long long mask; /* its sigmask from fdinfo */
};

#define ERRNO_BEFORE EILSEQ
static const unsigned long long initial_mask = 1ULL << (SIGUSR2 - 1);

static long raw_signalfd4(int fd, const void *mask, long flags) {
    return syscall(SYS_signalfd4, fd, mask, 8L, flags);
}

static int make_ufd(enum ufd_kind kind) {
    sigset_t m;
    int fd;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    switch (kind) {
    case UFD_NEW:
        return -1;
    case UFD_SIGNALFD:
        return (int)raw_signalfd4(-1, &m, 0);
    case UFD_SIGNALFD_FLAGS:
        return (int)raw_signalfd4(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
    case UFD_EVENTFD:
        return (int)syscall(SYS_eventfd2, 0, 0);
    case UFD_CLOSED:
        fd = dup(2);
        CHECK(fd >= 0);
        close(fd);
        return fd;
    default:
        return -5;
    }
}

static void describe(int fd, struct outcome *o) {
    o->fdflags = fcntl(fd, F_GETFD);
    o->flflags = fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE);
    o->mask = fdinfo_value(fd, "sigmask:", 16);
}

static struct outcome call(enum caller who, enum ufd_kind kind, const sigset_t *mask, size_t third) {
    struct outcome o = {0, 0, -1, -1, 0};
    int ufd = make_ufd(kind);
    long r;
    CHECK(kind == UFD_NEW || kind == UFD_CLOSED || kind == UFD_BELOW || ufd >= 0);
    errno = ERRNO_BEFORE;
    if (who == BY_EVFD)
        r = evfd_sfd(ufd, mask, third);
    else if (who == BY_GLIBC)
        r = glibc_sfd(ufd, mask, (int)third);
    else
        r = raw_signalfd4(ufd, mask, (long)third);
    o.err = errno;
    if (r == -1) {
        o.ret = -1;
        if (kind == UFD_SIGNALFD || kind == UFD_SIGNALFD_FLAGS)
            describe(ufd, &o); /* a refused call changes nothing */
    } else {
        CHECK(r >= 0);
        o.ret = (r == ufd) ? 0 : 1;
        CHECK(kind == UFD_NEW ? o.ret == 1 : o.ret == 0);
        describe((int)r, &o);
        if (r != ufd)
            close((int)r);
    }
    if (ufd >= 0)
        close(ufd);
    return o;
}

static int same(const struct outcome *a, const struct outcome *b) {
    return a->ret == b->ret && a->err == b->err && a->fdflags == b->fdflags &&
           a->flflags == b->flflags && a->mask == b->mask;
}

static void expect_same(const char *what, const struct outcome *got, const struct outcome *want,
                        enum ufd_kind kind, const char *mask_name, size_t third) {
    if (!same(got, want)) {
        fprintf(stderr,
                "signalfd(%s, %s, %#zx): %s differs:\n"
                "  got  ret %d errno %d fd %#x fl %#x mask %#llx\n"
                "  want ret %d errno %d fd %#x fl %#x mask %#llx\n",
                kind_names[kind], mask_name, third, what, got->ret, got->err, got->fdflags,
                got->flflags, got->mask, want->ret, want->err, want->fdflags, want->flflags,
                want->mask);
        exit(1);
    }
}

/* The rule table of DESIGN §3, restated independently of evfd's code. */
enum path { PATH_GLIBC, PATH_2007, PATH_INVALID };
static enum path path_of(size_t third) {
    uint32_t low = (uint32_t)third;
    if (third >= 8 && third <= sizeof(sigset_t))
        return PATH_2007;
    if ((low & ~(uint32_t)(SFD_NONBLOCK | SFD_CLOEXEC)) == 0)
        return PATH_GLIBC;
    return PATH_INVALID;
}

/* Both functions straight from their objects: a sanitizer runtime may
 * interpose its own `signalfd` in front of either. */
static void *symbol_of(const char *object, const char *name, const char *expect_in) {
    void *handle = dlopen(object, RTLD_LAZY | RTLD_NOLOAD);
    void *p;
    Dl_info info;
    if (!handle) {
        fprintf(stderr, "%s is not loaded: %s\n", object, dlerror());
        exit(1);
    }
    p = dlsym(handle, name);
    CHECK(p != NULL);
    CHECK(dladdr(p, &info) != 0);
    if (!strstr(info.dli_fname, expect_in)) {
        fprintf(stderr, "%s from %s is in %s\n", name, object, info.dli_fname);
        exit(1);
    }
    dlclose(handle);
    return p;
}

static void resolve(void) {
    void *p = symbol_of("libevfd.so.0", "signalfd", "libevfd");
    memcpy(&evfd_sfd, &p, sizeof p);
    p = symbol_of("libc.so.6", "signalfd", "libc.so");
    memcpy(&glibc_sfd, &p, sizeof p);
}

int main(void) {
    static const size_t thirds[] = {
        0, SFD_NONBLOCK, SFD_CLOEXEC, SFD_NONBLOCK | SFD_CLOEXEC,
        1, 2, 7, 8, 9, 64, 127, 128, 129, 0x7ff, SFD_NONBLOCK | 1, SFD_CLOEXEC | 128,
        SFD_NONBLOCK | SFD_CLOEXEC | 8, 0xffffffffu, 0x80000000u,
        /* An `int flags` register whose upper half is garbage. */
        (size_t)0xdead000000000000ull | SFD_CLOEXEC, (size_t)0x100000000ull,
        (size_t)0x100000080ull, SIZE_MAX,
    };
    sigset_t some, full;
    const sigset_t *masks[4];
    const char *mask_names[4] = {"{USR1,INT,KILL,RTMIN+3}", "full", "NULL", "unmapped"};
    void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int before, cases = 0;
    size_t t;
    int k, m;

    CHECK(page != MAP_FAILED);
    resolve();
    sigemptyset(&some);
    sigaddset(&some, SIGUSR1);
    sigaddset(&some, SIGINT);
    sigaddset(&some, SIGKILL); /* dropped by the kernel */
    sigaddset(&some, SIGRTMIN + 3);
    sigfillset(&full);
    masks[0] = &some;
    masks[1] = &full;
    masks[2] = NULL;
    masks[3] = page;

    before = count_fds();
    for (t = 0; t < sizeof thirds / sizeof thirds[0]; t++) {
        size_t third = thirds[t];
        enum path path = path_of(third);
        for (m = 0; m < 4; m++) {
            /* The 2007 call reads the caller's mask itself: an unmapped one
             * is undefined behaviour there, as with any C function. */
            if (path == PATH_2007 && m == 3)
                continue;
            for (k = 0; k < UFD_KINDS; k++) {
                struct outcome got = call(BY_EVFD, k, masks[m], third);
                struct outcome libc_got = call(BY_GLIBC, k, masks[m], third);
                struct outcome want;
                cases++;
                switch (path) {
                case PATH_GLIBC:
                    want = call(BY_RAW, k, masks[m], third);
                    expect_same("from raw signalfd4(fd, mask, 8, third)", &got, &want, k,
                                mask_names[m], third);
                    if ((third >> 32) == 0) /* glibc's int holds all of it */
                        expect_same("from glibc's signalfd", &got, &libc_got, k, mask_names[m],
                                    third);
                    break;
                case PATH_2007:
                    if (masks[m] == NULL) { /* §2.1: EFAULT, whatever ufd is */
                        CHECK_EQ(got.ret, -1);
                        CHECK_EQ(got.err, EFAULT);
                    }
                    /* (valgrind's emulation says EBADF for fds below -1
                     * before the kernel's EFAULT; skip that comparison.) */
                    if (!(masks[m] == NULL && k == UFD_BELOW)) {
                        want = call(BY_RAW, k, masks[m], 0);
                        expect_same("from the 2007 call = raw signalfd4(fd, mask, 8, 0)", &got,
                                    &want, k, mask_names[m], third);
                    }
                    /* ...which glibc refuses: these are the calls evfd adds. */
                    want = call(BY_RAW, k, masks[m], third);
                    expect_same("glibc's refusal from the raw one", &libc_got, &want, k,
                                mask_names[m], third);
                    CHECK_EQ(libc_got.ret, -1);
                    break;
                case PATH_INVALID:
                    want = call(BY_RAW, k, masks[m], third);
                    expect_same("from raw signalfd4 with these flags", &got, &want, k,
                                mask_names[m], third);
                    if ((third >> 32) == 0)
                        expect_same("from glibc's signalfd", &got, &libc_got, k, mask_names[m],
                                    third);
                    CHECK_EQ(got.ret, -1);
                    /* (valgrind's syscall emulation says EBADF for fds
                     * below -1 before the kernel sees them; the raw call
                     * above agrees either way.) */
                    if (k != UFD_BELOW)
                        CHECK(got.err == EINVAL || (got.err == EFAULT && m >= 2));
                    break;
                }
                /* errno is untouched on success. */
                if (got.ret != -1)
                    CHECK_EQ(got.err, ERRNO_BEFORE);
                /* A new 2007 fd is blocking, not close-on-exec, mask as given. */
                if (path == PATH_2007 && k == UFD_NEW && m == 0) {
                    CHECK_EQ(got.fdflags, 0);
                    CHECK_EQ(got.flflags, O_RDWR);
                    CHECK_EQ(got.mask, (1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGINT - 1)) |
                                           (1ULL << (SIGRTMIN + 3 - 1)));
                }
                /* An existing signalfd keeps its old mask when refused. */
                if (got.ret == -1 && (k == UFD_SIGNALFD || k == UFD_SIGNALFD_FLAGS))
                    CHECK_EQ(got.mask, initial_mask);
            }
        }
    }
    CHECK_NO_LEAK(before);

    /* The table above really exercised every path. */
    CHECK_EQ(path_of(0), PATH_GLIBC);
    CHECK_EQ(path_of(128), PATH_2007);
    CHECK_EQ(path_of(7), PATH_INVALID);
    {
        /* Spot checks stated outright, so the table can't be vacuous. */
        int fd;
        fd = evfd_sfd(-1, &some, SFD_NONBLOCK | SFD_CLOEXEC);
        CHECK(fd >= 0);
        CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
        CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
        close(fd);
        fd = evfd_sfd(-1, &some, sizeof some);
        CHECK(fd >= 0);
        CHECK_EQ(fcntl(fd, F_GETFD), 0);
        CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        close(fd);
        /* Same as the prefixed 2007 call (this also makes the program
         * need libevfd under the linker's --as-needed). */
        unsigned long long first64;
        fd = evfd_signalfd(-1, &some, sizeof some);
        CHECK(fd >= 0);
        CHECK_EQ(fdinfo_value(fd, "sigmask:", 16),
                 (1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGINT - 1)) | (1ULL << (SIGRTMIN + 3 - 1)));
        CHECK_EQ(evfd_sfd(fd, &full, 8), fd); /* 2007 path, 8-byte masksize */
        memcpy(&first64, &full, sizeof first64);
        CHECK_EQ(fdinfo_value(fd, "sigmask:", 16),
                 first64 & ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1))));
        close(fd);
        CHECK_ERR(glibc_sfd(-1, &some, (int)sizeof some), EINVAL);
        CHECK_ERR(evfd_sfd(-1, &some, 7), EINVAL);
        CHECK_ERR(evfd_sfd(-1, NULL, 7), EFAULT); /* as glibc: the mask is read first */
        CHECK_ERR(glibc_sfd(-1, NULL, 7), EFAULT);
        CHECK_ERR(evfd_sfd(-1, NULL, 0), EFAULT);
        CHECK_ERR(evfd_sfd(-1, NULL, 8), EFAULT);
        CHECK_ERR(evfd_sfd(-5, &some, 0), EBADF);
        CHECK_ERR(evfd_sfd(-5, &some, 8), EBADF);
        CHECK_NO_LEAK(before);
    }
    munmap(page, 4096);
    fprintf(stderr, "%d cases\n", cases);
    return 0;
}
