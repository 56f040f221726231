/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Loading libevfd into a process that is already multi-threaded: while
 * four threads keep creating glibc-style signalfds, eventfds and timerfds,
 * the main thread dlopen()s libevfd.so (RTLD_NOW | RTLD_GLOBAL). Loading
 * runs no evfd code that could block or fail, the threads' calls keep
 * behaving exactly as before, and evfd's signalfd/timerfd work at once.
 * Built against glibc alone; also run with libevfd preloaded. */
/* evfd-test: no-link -ldl */
#define _GNU_SOURCE
#include "check.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define THREADS 4

static atomic_int stop;
static atomic_int rounds;

static void *churn(void *arg) {
    sigset_t mask;
    (void)arg;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    while (!atomic_load(&stop)) {
        uint64_t v = 0;
        int s = signalfd(-1, &mask, SFD_CLOEXEC);
        int e = eventfd(1, EFD_NONBLOCK);
        int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
        CHECK(s >= 0 && e >= 0 && t >= 0);
        CHECK_EQ(fcntl(s, F_GETFD), FD_CLOEXEC);
        CHECK_EQ(fcntl(s, F_GETFL) & O_NONBLOCK, 0);
        CHECK_EQ(read(e, &v, sizeof v), 8);
        CHECK_EQ(v, 1);
        CHECK_ERR(signalfd(-1, &mask, 1), EINVAL);
        close(s);
        close(e);
        close(t);
        atomic_fetch_add(&rounds, 1);
    }
    return NULL;
}

/* The harness puts the library at <target>/lib/libevfd.so and this program
 * at <target>/c-tests/<mode>/<name>. */
static void library_path(char *out, size_t size) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash;
    int i;
    CHECK(n > 0);
    exe[n] = '\0';
    for (i = 0; i < 3; i++) {
        slash = strrchr(exe, '/');
        CHECK(slash != NULL);
        *slash = '\0';
    }
    CHECK(snprintf(out, size, "%s/lib/libevfd.so", exe) < (int)size);
}

typedef int (*sfd2007_fn)(int, const sigset_t *, size_t);
typedef int (*tfd2007_fn)(int, int, int, const struct timespec *);

int main(void) {
    pthread_t th[THREADS];
    char path[PATH_MAX];
    sigset_t mask;
    void *lib, *p;
    sfd2007_fn sfd;
    tfd2007_fn tfd;
    int before = count_fds();
    int fd, i, seen;

    library_path(path, sizeof path);
    if (access(path, R_OK) != 0)
        SKIP("libevfd.so is not where the test harness puts it");
    for (i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, churn, NULL), 0);
    while (atomic_load(&rounds) < THREADS * 10)
        usleep(1000);

    lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return 1;
    }
    /* The threads go on, unaffected, for a while longer. */
    seen = atomic_load(&rounds);
    while (atomic_load(&rounds) < seen + THREADS * 10)
        usleep(1000);

    p = dlsym(lib, "signalfd");
    CHECK(p != NULL);
    memcpy(&sfd, &p, sizeof p);
    p = dlsym(lib, "timerfd");
    CHECK(p != NULL);
    memcpy(&tfd, &p, sizeof p);
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    fd = sfd(-1, &mask, sizeof mask);
    CHECK(fd >= 0);
    CHECK_EQ(fcntl(fd, F_GETFD), 0);
    close(fd);
    {
        struct timespec when = {1, 0};
        fd = tfd(-1, CLOCK_MONOTONIC, 0, &when);
        CHECK(fd >= 0);
        close(fd);
    }

    atomic_store(&stop, 1);
    for (i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK_EQ(dlclose(lib), 0);
    CHECK_NO_LEAK(before);
    return 0;
}
