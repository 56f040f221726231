// SPDX-License-Identifier: MIT OR Apache-2.0
//! The C boundary: the only code that touches raw C pointers and `errno`.
//!
//! Rules every exported function follows:
//! - Arguments are checked here; the capability modules get safe Rust values.
//! - Failure returns -1 (or NULL) with `errno` set to the error's value.
//! - Success leaves `errno` exactly as the caller had it, even when a system
//!   call evfd made internally failed and was handled.
//! - A NULL pointer where an object is required is `EFAULT`, never a crash.
//! - Panics abort (the crate refuses to build otherwise); none cross into C.

use crate::errno::Errno;
use crate::timer_spec::{Clock, TimerType, When};
use libc::c_int;

mod boundary;
pub mod eventfs;
pub mod fdcalls;
// Not in evfd.h (cbindgen.toml excludes its names): the 2007 prototypes
// are in the hand-written <evfd/proposed.h>.
pub mod preload;
pub mod ring;
pub mod version;

/// [`boundary::c_call`] for functions returning `int`, with the eventfs
/// reclaim.
#[inline(always)]
pub(crate) fn int_result(call: impl FnOnce() -> Result<c_int, Errno>) -> c_int {
    boundary::c_call(boundary::Reclaim::Yes, call)
}

/// [`int_result`] without the eventfs reclaim (see [`boundary::Reclaim::No`]).
#[inline(always)]
pub(crate) fn hot_int_result(call: impl FnOnce() -> Result<c_int, Errno>) -> c_int {
    boundary::c_call(boundary::Reclaim::No, call)
}

/// [`boundary::c_call_errno_on_failure`] for `int` (`evfd_ring_post`).
#[inline(always)]
pub(crate) fn post_int_result(call: impl FnOnce() -> Result<c_int, Errno>) -> c_int {
    boundary::c_call_errno_on_failure(call)
}

/// Copies the `N` bytes at `ptr`, or `EFAULT` if it is NULL.
///
/// # Safety
/// A non-NULL `ptr` must be readable for `N` bytes.
pub(crate) unsafe fn read_bytes<const N: usize>(ptr: *const u8) -> Result<[u8; N], Errno> {
    if ptr.is_null() {
        return Err(Errno::EFAULT);
    }
    let mut out = [0u8; N];
    // SAFETY: non-NULL and readable for N bytes by the caller's contract;
    // `out` is a distinct local.
    unsafe { core::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr(), N) };
    Ok(out)
}

/// The `timespec` at `ptr`, or `EFAULT` if it is NULL.
///
/// # Safety
/// A non-NULL `ptr` must point to a readable `struct timespec`.
pub(crate) unsafe fn read_timespec(ptr: *const libc::timespec) -> Result<libc::timespec, Errno> {
    if ptr.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: non-NULL and readable by the caller's contract; C gives no
    // alignment promise we need to rely on, so read unaligned.
    Ok(unsafe { core::ptr::read_unaligned(ptr) })
}

/// The timer arguments of `evfd_timerfd` and `evfd_ring_add_timer`,
/// checked once, in the order both document: `timertype`, then `clockid`,
/// then `when` (`EFAULT` for NULL, then its range).
///
/// # Safety
/// A non-NULL `when` must point to a readable `struct timespec`.
pub(crate) unsafe fn timer_args(
    timertype: c_int,
    clockid: c_int,
    when: *const libc::timespec,
) -> Result<(TimerType, Clock, When), Errno> {
    let kind = TimerType::from_raw(timertype)?;
    let clock = Clock::from_id(clockid)?;
    // SAFETY: by the caller's contract.
    Ok((kind, clock, unsafe { when_arg(when) }?))
}

/// A `when` argument: `EFAULT` for NULL, then its range (`EINVAL`).
///
/// # Safety
/// A non-NULL `when` must point to a readable `struct timespec`.
pub(crate) unsafe fn when_arg(when: *const libc::timespec) -> Result<When, Errno> {
    // SAFETY: by the caller's contract.
    let when = unsafe { read_timespec(when) }?;
    When::new(when.tv_sec, when.tv_nsec)
}
