/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* In a program linked with libevfd (and again with it preloaded), `eventfd`
 * is still glibc's: dlsym(RTLD_DEFAULT) and dlsym(RTLD_NEXT) find it in
 * libc, and the two-argument call honours its flags. `signalfd` and
 * `timerfd`, which evfd does export, resolve to libevfd (unless a sanitizer
 * runtime interposes signalfd in front of everything). */
/* evfd-test: preload */
#define _GNU_SOURCE
#include "check.h"
#include <dlfcn.h>
#include <evfd.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static const char *object_of(void *addr) {
    Dl_info info;
    CHECK(addr != NULL);
    CHECK(dladdr(addr, &info) != 0);
    CHECK(info.dli_fname != NULL);
    return info.dli_fname;
}

static int is_sanitizer_runtime(const char *path) {
    return strstr(path, "libtsan") || strstr(path, "libasan") || strstr(path, "vgpreload");
}

int main(void) {
    const char *where;
    uint64_t v = 0;
    int before = count_fds();
    int fd;

    /* Linked for real: --as-needed keeps libevfd only if we use it. */
    fd = evfd_eventfd(1);
    CHECK(fd >= 0);
    close(fd);

    where = object_of(dlsym(RTLD_DEFAULT, "eventfd"));
    if (!strstr(where, "libc.so") && !is_sanitizer_runtime(where)) {
        fprintf(stderr, "eventfd resolves to %s, not glibc\n", where);
        return 1;
    }
    CHECK(strstr(where, "libevfd") == NULL);
    where = object_of(dlsym(RTLD_NEXT, "eventfd"));
    CHECK(strstr(where, "libevfd") == NULL);
    CHECK(strstr(where, "libc.so") != NULL || is_sanitizer_runtime(where));
    /* The address the program itself calls is glibc's too. */
    where = object_of((void *)(uintptr_t)&eventfd);
    CHECK(strstr(where, "libevfd") == NULL);

    /* libevfd has no `eventfd` at all. */
    {
        void *evfd = dlopen("libevfd.so.0", RTLD_LAZY | RTLD_NOLOAD);
        CHECK(evfd != NULL);
        where = object_of(dlsym(evfd, "signalfd"));
        CHECK(strstr(where, "libevfd") != NULL);
        where = object_of(dlsym(evfd, "timerfd"));
        CHECK(strstr(where, "libevfd") != NULL);
        dlerror();
        if (dlsym(evfd, "eventfd") != NULL) {
            where = object_of(dlsym(evfd, "eventfd"));
            CHECK(strstr(where, "libevfd") == NULL); /* found via libc, its dependency */
        }
        dlclose(evfd);
    }
    where = object_of(dlsym(RTLD_DEFAULT, "timerfd"));
    CHECK(strstr(where, "libevfd") != NULL);
    where = object_of(dlsym(RTLD_DEFAULT, "signalfd"));
    CHECK(strstr(where, "libevfd") != NULL || is_sanitizer_runtime(where));

    /* glibc's two-argument eventfd, flags and all. */
    fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    CHECK_EQ(v, 3);
    CHECK_ERR(read(fd, &v, sizeof v), EAGAIN);
    close(fd);
    fd = eventfd(0, EFD_SEMAPHORE);
    CHECK(fd >= 0);
    v = 2;
    CHECK_EQ(write(fd, &v, sizeof v), 8);
    CHECK_EQ(read(fd, &v, sizeof v), 8);
    CHECK_EQ(v, 1); /* semaphore semantics: glibc passed the flag through */
    close(fd);
    CHECK_ERR(eventfd(0, 1 << 30), EINVAL);
    CHECK_NO_LEAK(before);
    return 0;
}
