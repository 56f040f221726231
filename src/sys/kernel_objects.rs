// SPDX-License-Identifier: MIT OR Apache-2.0
//! Creating and setting the kernel objects evfd wraps: signalfd, timerfd,
//! eventfd (by number, never through libc's wrappers of names evfd exports).

use super::{check_fd, raw_syscall, syscall6};
use crate::errno::Errno;
use core::mem::MaybeUninit;
use libc::{c_int, c_long, c_uint};
use std::os::fd::{OwnedFd, RawFd};

/// The kernel's signal set on Linux: signals 1..=64, bit `signo - 1`.
pub type KernelSigset = u64;

/// The size the kernel's signalfd4 insists on (`_NSIG / 8`).
pub const KERNEL_SIGSET_SIZE: usize = core::mem::size_of::<KernelSigset>();

/// The bit of signal `sig` in a [`KernelSigset`], or `None` outside 1..=64.
/// Async-signal-safe (pure arithmetic).
pub fn sigset_bit(sig: c_int) -> Option<KernelSigset> {
    let shift = u32::try_from(sig).ok()?.checked_sub(1)?;
    KernelSigset::from(1u8).checked_shl(shift)
}

/// `signalfd4(ufd, mask, 8, flags)` where the caller keeps ownership of
/// `ufd` (the kernel returns `ufd` itself when it is not -1).
pub fn signalfd4(ufd: RawFd, mask: &KernelSigset, flags: c_int) -> Result<RawFd, Errno> {
    signalfd4_raw(
        ufd,
        mask as *const KernelSigset as *const libc::c_void,
        flags,
    )
}

/// `signalfd4` with a pointer the kernel validates itself: a bad `mask` is
/// `EFAULT`, never a fault in this process, so the function is safe.
#[allow(clippy::not_unsafe_ptr_arg_deref)] // only the kernel reads `mask`
pub fn signalfd4_raw(ufd: RawFd, mask: *const libc::c_void, flags: c_int) -> Result<RawFd, Errno> {
    // SAFETY: the kernel copies KERNEL_SIGSET_SIZE bytes from `mask` and
    // reports EFAULT itself if the pointer is bad.
    let ret = unsafe {
        raw_syscall!(
            libc::SYS_signalfd4,
            // Zero-extended, as glibc's signalfd leaves its int arguments
            // in the registers: a seccomp filter sees glibc's very call.
            ufd as c_uint as c_long,
            mask,
            KERNEL_SIGSET_SIZE as c_long,
            flags as c_uint as c_long,
        )
    };
    ret.map(|fd| fd as RawFd)
}

/// `timerfd_create(clockid, flags)`.
pub fn timerfd_create(clockid: c_int, flags: c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: plain integer arguments.
    let ret = unsafe { raw_syscall!(libc::SYS_timerfd_create, clockid as c_long, flags as c_long) };
    check_fd(ret?)
}

/// `timerfd_settime(fd, flags, new, NULL)`.
pub fn timerfd_settime(fd: RawFd, flags: c_int, new: &libc::itimerspec) -> Result<(), Errno> {
    // SAFETY: `new` is a valid itimerspec for the duration of the call;
    // old_value is NULL, which the kernel allows.
    let ret = unsafe {
        raw_syscall!(
            libc::SYS_timerfd_settime,
            fd as c_long,
            flags as c_long,
            new as *const libc::itimerspec,
            core::ptr::null_mut::<libc::itimerspec>(),
        )
    };
    ret.map(drop)
}

/// `timerfd_gettime(fd)`: fails with `EBADF` if `fd` is not open and
/// `EINVAL` if it is not a timerfd, which makes it the type check too.
pub fn timerfd_gettime(fd: RawFd) -> Result<libc::itimerspec, Errno> {
    let mut cur = MaybeUninit::<libc::itimerspec>::uninit();
    // SAFETY: `cur` is writable storage for one itimerspec.
    let ret = unsafe { raw_syscall!(libc::SYS_timerfd_gettime, fd as c_long, cur.as_mut_ptr()) };
    ret?;
    // SAFETY: the kernel filled it in on success.
    Ok(unsafe { cur.assume_init() })
}

/// `eventfd2(count, flags)`.
pub fn eventfd2(count: c_uint, flags: c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: plain integer arguments.
    let ret = unsafe { raw_syscall!(libc::SYS_eventfd2, count as c_long, flags as c_long) };
    check_fd(ret?)
}

#[cfg(test)]
mod tests {
    use super::sigset_bit;
    use libc::c_int;

    #[test]
    fn sigset_bits_cover_signals_1_to_64_only() {
        assert_eq!(sigset_bit(1), Some(1));
        assert_eq!(sigset_bit(64), Some(1 << 63));
        for sig in [c_int::MIN, -1, 0, 65, c_int::MAX] {
            assert_eq!(sigset_bit(sig), None);
        }
    }
}
