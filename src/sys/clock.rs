// SPDX-License-Identifier: MIT OR Apache-2.0
//! Reading the clocks timers run on. glibc's `clock_gettime` reads
//! `CLOCK_MONOTONIC`, `CLOCK_REALTIME` and `CLOCK_BOOTTIME` through the
//! vDSO: no system call (on a clock source the vDSO can read, such as the
//! TSC or kvm-clock).

use libc::c_int;

/// Nanoseconds on `clockid` (since boot, or since 1970 for
/// `CLOCK_REALTIME`); 0 if the clock cannot be read (never for the three
/// clocks above; a clock before 1970 reads as 0).
pub fn now_ns(clockid: c_int) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec for the duration of the call.
    if unsafe { libc::clock_gettime(clockid, &mut ts) } != 0 {
        return 0;
    }
    timespec_ns(ts.tv_sec, ts.tv_nsec)
}

/// `sec` seconds and `nsec` nanoseconds as nanoseconds, saturating at
/// `u64::MAX` (year 2554 on `CLOCK_REALTIME`), 0 for negative values.
pub fn timespec_ns(sec: libc::time_t, nsec: libc::c_long) -> u64 {
    let sec = u64::try_from(sec).unwrap_or(0);
    let nsec = u64::try_from(nsec).unwrap_or(0);
    sec.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// Nanoseconds as a `timespec`.
pub fn ns_timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        // At most 1.8e10: fits every time_t of 64 bits.
        tv_sec: libc::time_t::try_from(ns / 1_000_000_000).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::try_from(ns % 1_000_000_000).unwrap_or(0),
    }
}
