// SPDX-License-Identifier: MIT OR Apache-2.0
//! The one boundary mechanism every exported function goes through: run
//! the safe Rust call, then turn its `Result` into the C convention for the
//! function's return type — the value with `errno` exactly as the caller
//! had it, or the type's failure value (-1, NULL, nothing) with `errno` set.
//! Every call first reclaims eventfs registrations whose descriptor was
//! closed ([`Reclaim::Yes`]), except the ring's hot path. `evfd_ring_post`
//! goes through [`c_call_errno_on_failure`], which does not touch `errno`
//! when the call succeeds.

use crate::errno::{self, Errno};
use libc::c_int;

/// What a C function returns when it fails.
pub(crate) trait Failure {
    fn failure() -> Self;
}

impl Failure for c_int {
    fn failure() -> c_int {
        -1
    }
}

impl<T> Failure for *mut T {
    fn failure() -> *mut T {
        core::ptr::null_mut()
    }
}

impl<T> Failure for *const T {
    fn failure() -> *const T {
        core::ptr::null()
    }
}

impl Failure for () {
    fn failure() {}
}

/// Whether a call starts with the eventfs reclaim.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reclaim {
    Yes,
    /// `evfd_ring_peek`, `evfd_ring_wait`, `evfd_ring_post`: reclaiming
    /// costs a system call per live eventfs registration, and `peek`
    /// promises none while events are pending (post runs on any thread, as
    /// often as a producer likes). They create no descriptor, so nothing is
    /// owed to the reclaim there: it happens on the next other evfd call.
    No,
}

/// Runs `call` at the C boundary (see the module documentation). Always
/// inlined: otherwise each exported function spills its arguments to the
/// stack for a call through the closure (callgrind: 320 → 293
/// instructions per `evfd_ring_add_timer`, 294 → 271 per re-arm).
#[inline(always)]
pub(crate) fn c_call<T: Failure>(reclaim: Reclaim, call: impl FnOnce() -> Result<T, Errno>) -> T {
    let errno = errno::location();
    // SAFETY: `errno` is this thread's errno, valid while the thread lives.
    let saved = unsafe { *errno };
    if reclaim == Reclaim::Yes {
        crate::eventfs::reclaim_closed();
    }
    let (value, code) = match call() {
        Ok(value) => (value, saved),
        Err(e) => (T::failure(), e.0),
    };
    // SAFETY: as above.
    unsafe { *errno = code };
    value
}

/// [`c_call`] without the reclaim, for a call whose success path leaves
/// `errno` alone by construction, so there is nothing to save or restore:
/// `errno` is written on failure only (a producer's `evfd_ring_post`, where
/// the two accesses were a tenth of the instructions). A call using this
/// must restore `errno` itself wherever it handles a failed libc call and
/// goes on to succeed (the posts queue's block linking does).
#[inline(always)]
pub(crate) fn c_call_errno_on_failure<T: Failure>(call: impl FnOnce() -> Result<T, Errno>) -> T {
    match call() {
        Ok(value) => value,
        Err(e) => failed(e),
    }
}

/// Sets `errno` and returns the failure value; out of line, so that the
/// success path of [`c_call_errno_on_failure`] keeps nothing across a call.
#[cold]
#[inline(never)]
fn failed<T: Failure>(e: Errno) -> T {
    errno::set(e.0);
    T::failure()
}
