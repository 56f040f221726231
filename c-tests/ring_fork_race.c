/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* fork() while another thread makes, uses and frees rings: no child may
 * end up holding the files the parent's rings watch. (On io_uring a ring
 * remembers its watched files in the fixed file table of a small io_uring
 * of its own; the fork handler closes the child's copy of it, and a fork
 * waits while such a table is being made and recorded, so no child can
 * copy one the handler does not know.) Each child waits a little, for the
 * thread to watch a file, then looks at every io_uring descriptor it has:
 * none may list a file in its table. Without the wait, 1 or 2 of 1,500
 * children held files in most runs. */
/* evfd-test: backends no-valgrind */
#define _GNU_SOURCE
#include "ring_util.h"
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 1500

static atomic_int stop;

static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        struct evfd_ring *r = evfd_ring_new(0, 0);
        CHECK(r != NULL);
        int e = eventfd(0, EFD_CLOEXEC);
        CHECK(e >= 0);
        CHECK_EQ(evfd_ring_add_fd(r, e, POLLIN, 7), 0);
        struct timespec hold = {0, 1000 * 1000};
        nanosleep(&hold, NULL);
        evfd_ring_free(r);
        close(e);
    }
    return NULL;
}

/* Whether any io_uring descriptor of this process lists a file in its
 * fixed file table ("UserFiles:" in its fdinfo, then one line per file). */
static int holds_files(void) {
    for (int fd = 0; fd < 1024; fd++) {
        char path[64], link[64] = {0};
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (readlink(path, link, sizeof link - 1) < 0 || strstr(link, "io_uring") == NULL)
            continue;
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        char line[256];
        int in_files = 0, held = 0;
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "UserFiles:", 10) == 0)
                in_files = 1;
            else if (in_files && strchr(line, ':') != NULL && line[0] == ' ')
                held = 1;
            else
                in_files = 0;
        }
        fclose(f);
        if (held)
            return 1;
    }
    return 0;
}

int main(void) {
    struct evfd_ring *keep = new_ring(0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, churn, NULL), 0);
    int holding = 0;
    for (int i = 0; i < FORKS; i++) {
        pid_t child = fork();
        CHECK(child >= 0);
        if (child == 0) {
            struct timespec pause = {0, 200 * 1000};
            nanosleep(&pause, NULL);
            _exit(holds_files() ? 1 : 0);
        }
        int status;
        CHECK_EQ(waitpid(child, &status, 0), child);
        CHECK(WIFEXITED(status));
        holding += WEXITSTATUS(status) == 1;
    }
    atomic_store(&stop, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    evfd_ring_free(keep);
    if (holding)
        fprintf(stderr, "%d of %d children held the parent's watched files\n", holding, FORKS);
    CHECK_EQ(holding, 0);
    return 0;
}
