// SPDX-License-Identifier: MIT OR Apache-2.0
//! The timer rules shared by `evfd_timerfd` and the event ring's
//! `evfd_ring_add_timer`/`evfd_ring_rearm_timer` (DESIGN §2.2, §4): which
//! clocks, which timer types, which `when` values, checked once, here.
//!
//! Order of checks (the same for every call that takes them): timer type,
//! then clock, then `when` (`EFAULT` for NULL at the C boundary, then its
//! range).

use crate::errno::Errno;
use libc::c_int;

/// The clocks a timer may run on (the ring packs a timer's clock into two
/// bits: see `ring::timers::TimerSpec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Clock {
    Monotonic = 0,
    Realtime = 1,
    Boottime = 2,
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

    pub fn timespec(self) -> libc::timespec {
        libc::timespec {
            tv_sec: self.sec,
            tv_nsec: self.nsec,
        }
    }
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
}
