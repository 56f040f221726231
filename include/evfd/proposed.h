/* SPDX-License-Identifier: MIT OR Apache-2.0 */
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

#if defined(_SYS_SIGNALFD_H) || defined(_SYS_EVENTFD_H)
#error "<evfd/proposed.h> declares the 2007 signalfd() and eventfd(); do not combine it with <sys/signalfd.h> or <sys/eventfd.h> (use evfd_signalfd() and evfd_eventfd() from <evfd.h> there)"
#endif

#include <evfd.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What read() returns from a signalfd: the kernel's 128-byte record, with
 * the field names of <sys/signalfd.h> (which cannot be included here). */
struct signalfd_siginfo {
    uint32_t ssi_signo;
    int32_t ssi_errno;
    int32_t ssi_code;
    uint32_t ssi_pid;
    uint32_t ssi_uid;
    int32_t ssi_fd;
    uint32_t ssi_tid;
    uint32_t ssi_band;
    uint32_t ssi_overrun;
    uint32_t ssi_trapno;
    int32_t ssi_status;
    int32_t ssi_int;
    uint64_t ssi_ptr;
    uint64_t ssi_utime;
    uint64_t ssi_stime;
    uint64_t ssi_addr;
    uint16_t ssi_addr_lsb;
    uint16_t evfd_pad2;
    int32_t ssi_syscall;
    uint64_t ssi_call_addr;
    uint32_t ssi_arch;
    uint8_t evfd_pad[28];
};

/* The unprefixed signalfd accepts both this call and glibc's
 * signalfd(fd, mask, flags); see evfd_signalfd(3) for the exact rule. */
int signalfd(int ufd, const sigset_t *mask, size_t masksize);
int timerfd(int ufd, int clockid, int timertype, const struct timespec *when);

static inline int evfd_proposed_eventfd(unsigned int count) { return evfd_eventfd(count); }
#define eventfd(count) evfd_proposed_eventfd(count)

#ifdef __cplusplus
}
#endif

#endif /* EVFD_PROPOSED_H */
