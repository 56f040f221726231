// SPDX-License-Identifier: MIT OR Apache-2.0
//! The 2007 `timerfd(ufd, clockid, timertype, when)`, on the kernel's
//! timerfd_create/timerfd_settime.

use crate::errno::Errno;
use crate::sys;
use crate::timer_spec::{Clock, TimerType, When};
use libc::c_int;
use std::os::fd::{IntoRawFd, RawFd};

/// The `timerfd_settime` flags and value that arm a timer of `kind` at
/// `when`; `when == 0` disarms whatever the kind.
pub fn itimerspec(kind: TimerType, when: When) -> (c_int, libc::itimerspec) {
    let zero = When { sec: 0, nsec: 0 }.timespec();
    let value = when.timespec();
    match kind {
        _ if when.is_zero() => (
            0,
            libc::itimerspec {
                it_interval: zero,
                it_value: zero,
            },
        ),
        TimerType::Relative => (
            0,
            libc::itimerspec {
                it_interval: zero,
                it_value: value,
            },
        ),
        TimerType::Absolute => (
            libc::TFD_TIMER_ABSTIME,
            libc::itimerspec {
                it_interval: zero,
                it_value: value,
            },
        ),
        TimerType::Sequential => (
            0,
            libc::itimerspec {
                it_interval: value,
                it_value: value,
            },
        ),
    }
}

/// Creates a timer (`ufd == -1`, blocking, no close-on-exec) or re-arms the
/// timerfd `ufd` in place, discarding expirations not yet read.
///
/// Errors: `EBADF` if `ufd` is not open (or below -1); `EINVAL` if it is not
/// a timerfd or runs on another clock than `clock`; creation errors from the
/// kernel (`EMFILE`, `ENFILE`, `ENOMEM`). A refused call changes nothing.
pub fn create_or_rearm(
    ufd: RawFd,
    clock: Clock,
    kind: TimerType,
    when: When,
) -> Result<RawFd, Errno> {
    let (flags, spec) = itimerspec(kind, when);
    if ufd == -1 {
        let timer = sys::kernel_objects::timerfd_create(clock.id(), 0)?;
        // Dropping `timer` on failure closes it: nothing leaks.
        sys::kernel_objects::timerfd_settime(
            std::os::fd::AsRawFd::as_raw_fd(&timer),
            flags,
            &spec,
        )?;
        return Ok(timer.into_raw_fd());
    }
    if ufd < 0 {
        return Err(Errno::EBADF);
    }
    sys::kernel_objects::timerfd_gettime(ufd)?;
    if clock_of(ufd)? != clock.id() {
        return Err(Errno::EINVAL);
    }
    sys::kernel_objects::timerfd_settime(ufd, flags, &spec)?;
    Ok(ufd)
}

/// The clock a timerfd runs on, from the `clockid:` line the kernel prints
/// in `/proc/self/fdinfo` (there is no system call that tells).
///
/// `ENOENT` from the fdinfo file means another thread closed `fd` after
/// the caller's type check: to the caller that is `EBADF`, the documented
/// answer for a descriptor that is not open (found by the
/// threads_concurrent C test).
pub fn clock_of(fd: RawFd) -> Result<c_int, Errno> {
    let clockid = sys::fd_info::fdinfo_value(fd, b"clockid:").map_err(|e| match e {
        Errno::ENOENT => Errno::EBADF,
        other => other,
    })?;
    clockid
        .and_then(|id| c_int::try_from(id).ok())
        .ok_or(Errno::EINVAL)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn zero_disarms_every_kind() {
        for kind in [
            TimerType::Relative,
            TimerType::Absolute,
            TimerType::Sequential,
        ] {
            let (flags, spec) = itimerspec(kind, When::new(0, 0).unwrap());
            assert_eq!(flags, 0);
            assert_eq!(spec.it_value.tv_sec + spec.it_value.tv_nsec, 0);
        }
        let (_, seq) = itimerspec(TimerType::Sequential, When::new(1, 5).unwrap());
        assert_eq!((seq.it_interval.tv_sec, seq.it_interval.tv_nsec), (1, 5));
    }
}
