/*
 * <evfd/proposed.h> - the 2007 spellings, for programs written against the
 * LKML proposals (see evfd_signalfd(3), evfd_timerfd(3), evfd_eventfd(3)).
 *
 * Declares signalfd(), timerfd() and a one-argument eventfd() with their 2007
 * signatures. Do not include it together with <sys/signalfd.h> or
 * <sys/eventfd.h>, whose prototypes differ.
 *
 * signalfd and timerfd are exported by libevfd under these names; eventfd is
 * not (glibc's two-argument eventfd stays in force for the whole process), so
 * the one-argument spelling here is an inline call of evfd_eventfd().
 */
#ifndef EVFD_PROPOSED_H
#define EVFD_PROPOSED_H

#include <evfd.h>

#ifdef __cplusplus
extern "C" {
#endif

int signalfd(int ufd, const sigset_t *mask, size_t masksize);
int timerfd(int ufd, int clockid, int timertype, const struct timespec *when);

static inline int evfd_proposed_eventfd(unsigned int count) { return evfd_eventfd(count); }
#define eventfd(count) evfd_proposed_eventfd(count)

#ifdef __cplusplus
}
#endif

#endif /* EVFD_PROPOSED_H */
