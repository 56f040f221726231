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

pub mod fdcalls;
pub mod ring;

/// Runs `call` and converts its result to the C convention: the value on
/// success with `errno` untouched, or -1 with `errno` set.
pub(crate) fn int_result(call: impl FnOnce() -> Result<c_int, Errno>) -> c_int {
    let saved = errno::get();
    match call() {
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
