// SPDX-License-Identifier: MIT OR Apache-2.0
//! The 2007 `timerfd(ufd, clockid, timertype, when)`, on the kernel's
//! timerfd_create/timerfd_settime.

use crate::errno::Errno;
use crate::sys;
use libc::c_int;
use std::os::fd::{IntoRawFd, RawFd};

/// The clocks a timer may run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Monotonic,
    Realtime,
    Boottime,
}

impl Clock {
    /// `CLOCK_MONOTONIC`, `CLOCK_REALTIME` or `CLOCK_BOOTTIME`; else `EINVAL`.
    pub fn from_id(clockid: c_int) -> Result<Clock, Errno> {
        match clockid {
            libc::CLOCK_MONOTONIC => Ok(Clock::Monotonic),
            libc::CLOCK_REALTIME => Ok(Clock::Realtime),
            libc::CLOCK_BOOTTIME => Ok(Clock::Boottime),
            _ => Err(Errno::EINVAL),
        }
    }

    pub fn id(self) -> c_int {
        match self {
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
            Clock::Realtime => libc::CLOCK_REALTIME,
            Clock::Boottime => libc::CLOCK_BOOTTIME,
        }
    }
}

/// How `when` is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerType {
    /// One shot, `when` from now.
    Relative,
    /// One shot at the absolute time `when` on the timer's clock.
    Absolute,
    /// Periodic: first expiry after `when`, then every `when`.
    Sequential,
}

impl TimerType {
    /// `EVFD_TIMER_REL` (0), `EVFD_TIMER_ABS` (1), `EVFD_TIMER_SEQ` (2);
    /// else `EINVAL`.
    pub fn from_raw(timertype: c_int) -> Result<TimerType, Errno> {
        match timertype {
            0 => Ok(TimerType::Relative),
            1 => Ok(TimerType::Absolute),
            2 => Ok(TimerType::Sequential),
            _ => Err(Errno::EINVAL),
        }
    }
}

/// A validated `when`: `tv_sec >= 0`, `tv_nsec` in 0..=999,999,999.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct When {
    pub sec: libc::time_t,
    pub nsec: libc::c_long,
}

impl When {
    /// Fails with `EINVAL` for a negative `sec` or an out-of-range `nsec`.
    pub fn new(sec: libc::time_t, nsec: libc::c_long) -> Result<When, Errno> {
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        Ok(When { sec, nsec })
    }

    pub fn is_zero(self) -> bool {
        self.sec == 0 && self.nsec == 0
    }

    fn timespec(self) -> libc::timespec {
        libc::timespec {
            tv_sec: self.sec,
            tv_nsec: self.nsec,
        }
    }
}

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
        let timer = sys::timerfd_create(clock.id(), 0)?;
        // Dropping `timer` on failure closes it: nothing leaks.
        sys::timerfd_settime(std::os::fd::AsRawFd::as_raw_fd(&timer), flags, &spec)?;
        return Ok(timer.into_raw_fd());
    }
    if ufd < 0 {
        return Err(Errno::EBADF);
    }
    sys::timerfd_gettime(ufd)?;
    if clock_of(ufd)? != clock.id() {
        return Err(Errno::EINVAL);
    }
    sys::timerfd_settime(ufd, flags, &spec)?;
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
    let clockid = sys::fdinfo_value(fd, b"clockid:").map_err(|e| match e {
        Errno::ENOENT => Errno::EBADF,
        other => other,
    })?;
    clockid
        .and_then(|id| c_int::try_from(id).ok())
        .ok_or(Errno::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_rejects_out_of_range() {
        assert_eq!(When::new(-1, 0), Err(Errno::EINVAL));
        assert_eq!(When::new(0, -1), Err(Errno::EINVAL));
        assert_eq!(When::new(0, 1_000_000_000), Err(Errno::EINVAL));
        assert!(When::new(0, 999_999_999).is_ok());
    }

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
