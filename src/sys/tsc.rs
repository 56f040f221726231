// SPDX-License-Identifier: MIT OR Apache-2.0
//! The CPU's time-stamp counter, and whether the kernel's clocks run on it.
//!
//! When the kernel's clock source is `tsc`, `CLOCK_MONOTONIC` is the TSC
//! scaled by the kernel (the vDSO reads it on whatever CPU the caller is
//! on: the kernel chose it because the counter is constant-rate and in
//! step on every CPU). Reading the counter alone costs a fraction of a
//! `clock_gettime` (9 against 21 ns here) and, unlike the vDSO's read,
//! does not wait for earlier instructions. `ring::deadline_clock` turns it
//! into an upper bound of `CLOCK_MONOTONIC`; everything else reads the
//! clocks through `clock`.

use super::fd_info::read_small_file;
use crate::errno::Errno;

/// The counter now, unordered: the processor may read it a little before
/// the instructions that precede it complete. `None` where there is no
/// counter evfd reads (other architectures than x86-64).
#[inline]
pub fn read() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC exists on every x86-64 processor and reads a
        // register: no memory is touched. (A thread can make it fault with
        // `PR_SET_TSC`; callers read it only after `counter_enabled`.)
        Some(unsafe { core::arch::x86_64::_rdtsc() })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The counter, read only after every earlier instruction has completed
/// (LFENCE, then RDTSC): never before a clock read that precedes it.
#[inline]
pub fn read_after_earlier() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: LFENCE (SSE2, part of x86-64) orders instructions and
        // touches no memory; RDTSC as in `read`.
        Some(unsafe {
            core::arch::x86_64::_mm_lfence();
            core::arch::x86_64::_rdtsc()
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The file naming the clock source the kernel's clocks run on.
const CURRENT_CLOCKSOURCE: &[u8] =
    b"/sys/devices/system/clocksource/clocksource0/current_clocksource\0";

/// Whether the kernel's clocks run on this counter now (its clock source
/// is `tsc`; one `open` and `read` of sysfs): `None` when that cannot be
/// told for the moment (no descriptor free: `EMFILE`, `ENFILE`; `EINTR`),
/// `Some(false)` on other architectures, other clock sources, and any
/// other failure (no sysfs, a sandbox). The kernel switches away from the
/// TSC when its watchdog finds it unstable, so callers ask again from time
/// to time.
pub fn clocksource_is_tsc() -> Option<bool> {
    if !cfg!(target_arch = "x86_64") {
        return Some(false);
    }
    let mut buf = [0u8; 32];
    match read_small_file(CURRENT_CLOCKSOURCE, &mut buf) {
        Ok(len) => Some(names_tsc(buf.get(..len).unwrap_or_default())),
        Err(Errno::EMFILE) | Err(Errno::ENFILE) | Err(Errno::EINTR) => None,
        Err(_) => Some(false),
    }
}

/// Whether RDTSC is allowed in the calling thread (`PR_GET_TSC` is
/// `PR_TSC_ENABLE`; a thread can forbid it with `PR_SET_TSC`). A thread
/// that forbids it cannot read the clocks through the vDSO either (the
/// vDSO reads the same counter), so this only keeps evfd from being the
/// first to fault.
pub fn counter_enabled() -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    let mut state: libc::c_int = 0;
    // SAFETY: PR_GET_TSC writes one int through the pointer, which points
    // at `state`.
    let ret = unsafe { libc::prctl(libc::PR_GET_TSC, &mut state as *mut libc::c_int) };
    ret == 0 && state == libc::PR_TSC_ENABLE
}

/// Whether the sysfs text `text` names the `tsc` clock source.
fn names_tsc(text: &[u8]) -> bool {
    text.strip_suffix(b"\n").unwrap_or(text) == b"tsc"
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn only_the_tsc_clock_source_counts() {
        assert!(names_tsc(b"tsc\n"));
        assert!(names_tsc(b"tsc"));
        assert!(!names_tsc(b"kvm-clock\n"));
        assert!(!names_tsc(b"tsc-early\n"));
        assert!(!names_tsc(b"hpet\n"));
        assert!(!names_tsc(b""));
    }

    #[test]
    fn the_counter_only_goes_forward_on_one_thread() {
        if let (Some(a), Some(b)) = (read(), read_after_earlier()) {
            assert!(b >= a);
        }
    }
}
