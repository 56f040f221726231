// SPDX-License-Identifier: MIT OR Apache-2.0
//! The CPU's time-stamp counter, and whether the kernel's clocks run on it.
//!
//! When the kernel's clock source is `tsc`, `CLOCK_MONOTONIC` is the TSC
//! scaled by the kernel (the vDSO reads it on whatever CPU the caller is
//! on: the kernel chose it because the counter is constant-rate and in
//! step on every CPU). Reading the counter alone costs a fraction of a
//! `clock_gettime` (RDTSCP 17 against 21 ns here). `ring::deadline_clock`
//! turns it into an upper bound of `CLOCK_MONOTONIC`; everything else
//! reads the clocks through `clock`.

use super::fd_info::read_small_file;
use crate::errno::Errno;

/// The counter and the CPU it was read on (`IA32_TSC_AUX`, which Linux
/// sets to the CPU's number), read only once every earlier instruction
/// has executed and every earlier load is visible (RDTSCP): never before
/// anything the caller did first. `None` where there is no counter evfd
/// reads (other architectures than x86-64). Callers check
/// `counter_enabled` first.
#[inline]
pub fn read() -> Option<(u64, u32)> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut cpu = 0u32;
        // SAFETY: RDTSCP exists (`counter_enabled` checked CPUID) and
        // writes TSC_AUX to `cpu`, a local; no other memory is touched. (A
        // thread can make it fault with `PR_SET_TSC`, which
        // `counter_enabled` also checks.)
        let tsc = unsafe { core::arch::x86_64::__rdtscp(&mut cpu) };
        Some((tsc, cpu))
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

/// Whether the processor has RDTSCP and the calling thread may use it
/// (`PR_GET_TSC` is `PR_TSC_ENABLE`; a thread can forbid it with
/// `PR_SET_TSC`, and then cannot read the clocks through the vDSO either,
/// which reads the same counter).
pub fn counter_enabled() -> bool {
    has_rdtscp() && {
        let mut state: libc::c_int = 0;
        // SAFETY: PR_GET_TSC writes one int through the pointer, which
        // points at `state`.
        let ret = unsafe { libc::prctl(libc::PR_GET_TSC, &mut state as *mut libc::c_int) };
        ret == 0 && state == libc::PR_TSC_ENABLE
    }
}

/// CPUID's answer, asked once per process (CPUID traps to the hypervisor
/// in a VM): 0 not asked, 1 yes, 2 no.
#[cfg(target_arch = "x86_64")]
static RDTSCP: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

#[cfg(target_arch = "x86_64")]
fn has_rdtscp() -> bool {
    use core::sync::atomic::Ordering;
    match RDTSCP.load(Ordering::Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    // Leaf 0x8000_0001 only if the highest extended leaf (0x8000_0000's
    // EAX) reaches it; its EDX bit 27 is RDTSCP.
    let yes = core::arch::x86_64::__cpuid(0x8000_0000).eax >= 0x8000_0001
        && core::arch::x86_64::__cpuid(0x8000_0001).edx & (1 << 27) != 0;
    RDTSCP.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
    yes
}

#[cfg(not(target_arch = "x86_64"))]
fn has_rdtscp() -> bool {
    false
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
    fn the_counter_goes_forward_on_one_cpu() {
        if !counter_enabled() {
            return;
        }
        let (mut last, mut cpu) = read().unwrap();
        for _ in 0..10_000 {
            let (now, now_cpu) = read().unwrap();
            if now_cpu == cpu {
                assert!(now >= last);
            }
            (last, cpu) = (now, now_cpu);
        }
    }
}
