// SPDX-License-Identifier: MIT OR Apache-2.0
//! Signal masks and exact dispositions, outside any signal handler.

use super::kernel_objects::{sigset_bit, KernelSigset, KERNEL_SIGSET_SIZE};
use super::{raw_syscall, syscall6};
use crate::errno::Errno;
use libc::{c_int, c_long};

/// `pthread_sigmask(how, set, old)` for the calling thread.
pub fn thread_sigmask(how: c_int, set: &libc::sigset_t) -> Result<libc::sigset_t, Errno> {
    // SAFETY: an empty set is a valid initial value for `old`.
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let ret = unsafe { libc::pthread_sigmask(how, set, &mut old) };
    if ret != 0 {
        return Err(Errno(ret));
    }
    Ok(old)
}

/// The kernel's `struct sigaction` where it has `sa_restorer` (x86-64,
/// aarch64); other ports lay it out differently.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: KernelSigset,
}

/// Sets `SIG_DFL` or `SIG_IGN` with exactly `flags` and the first 64
/// signals of `mask`, through `rt_sigaction` itself: glibc's wrapper always
/// adds `SA_RESTORER`, which a disposition the program never set lacks.
/// Only for `SIG_DFL`/`SIG_IGN`, which never return through a restorer.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn set_default_or_ignore_exactly(
    sig: c_int,
    handler: usize,
    flags: c_int,
    mask: &libc::sigset_t,
) -> Result<(), Errno> {
    if handler != libc::SIG_DFL && handler != libc::SIG_IGN {
        // A handler needs the restorer this call leaves out.
        return Err(Errno::EINVAL);
    }
    let mut bits: KernelSigset = 0;
    for s in 1..=64 {
        // SAFETY: `mask` is a valid sigset_t and `s` is in range.
        if unsafe { libc::sigismember(mask, s) } == 1 {
            bits |= sigset_bit(s).unwrap_or(0);
        }
    }
    let action = KernelSigaction {
        handler,
        flags: flags as libc::c_uint as libc::c_ulong,
        restorer: 0,
        mask: bits,
    };
    // SAFETY: `action` is a valid kernel sigaction for the duration of
    // the call; no old action wanted.
    let ret = unsafe {
        raw_syscall!(
            libc::SYS_rt_sigaction,
            sig as c_long,
            &action as *const KernelSigaction,
            core::ptr::null_mut::<KernelSigaction>(),
            KERNEL_SIGSET_SIZE as c_long,
        )
    };
    ret.map(drop)
}

/// Elsewhere glibc's own `sigaction` call has to do.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn set_default_or_ignore_exactly(
    _sig: c_int,
    _handler: usize,
    _flags: c_int,
    _mask: &libc::sigset_t,
) -> Result<(), Errno> {
    Ok(())
}
