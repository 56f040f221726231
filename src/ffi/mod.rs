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

use crate::errno::{self, Errno};
use libc::c_int;

pub mod eventfs;
pub mod fdcalls;
// Not in evfd.h (cbindgen.toml excludes its names): the 2007 prototypes
// are in the hand-written <evfd/proposed.h>.
pub mod preload;
pub mod ring;
pub mod version;

/// Runs `call` and converts its result to the C convention: the value on
/// success with `errno` untouched, or -1 with `errno` set. Every evfd call
/// first reclaims eventfs registrations whose descriptor was closed, except
/// the ring's hot path (see [`hot_int_result`]).
pub(crate) fn int_result(call: impl FnOnce() -> Result<c_int, Errno>) -> c_int {
    let saved = errno::get();
    crate::eventfs::reclaim_closed();
    convert(saved, call())
}

/// [`int_result`] without the eventfs reclaim, for `evfd_ring_peek`,
/// `evfd_ring_wait` and `evfd_ring_post`: reclaiming costs a `kcmp` per live
/// eventfs registration, and `peek` promises no system call while events
/// are pending (post runs on any thread, as often as a producer likes). They
/// create no descriptor, so nothing is owed to the reclaim there: it happens
/// on the next other evfd call.
pub(crate) fn hot_int_result(call: impl FnOnce() -> Result<c_int, Errno>) -> c_int {
    let saved = errno::get();
    convert(saved, call())
}

fn convert(saved: c_int, result: Result<c_int, Errno>) -> c_int {
    match result {
        Ok(value) => {
            errno::set(saved);
            value
        }
        Err(e) => {
            errno::set(e.0);
            -1
        }
    }
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
