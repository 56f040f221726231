// SPDX-License-Identifier: MIT OR Apache-2.0
//! The three 2007 descriptor calls: `evfd_signalfd`, `evfd_timerfd`,
//! `evfd_eventfd`.

use super::{int_result, read_bytes, timer_args};
use crate::errno::Errno;
use crate::sys::kernel_objects::KERNEL_SIGSET_SIZE;
use crate::{eventfd, signalfd, timerfd};
use libc::{c_int, c_uint, size_t};

/// One-shot timer that expires `when` from now.
pub const EVFD_TIMER_REL: c_int = 0;
/// One-shot timer that expires at the absolute time `when` on its clock.
pub const EVFD_TIMER_ABS: c_int = 1;
/// Periodic timer: first expiry after `when`, then every `when`.
pub const EVFD_TIMER_SEQ: c_int = 2;
/// The 2007 article's name for `EVFD_TIMER_REL`.
pub const TFD_TIMER_REL: c_int = 0;
/// The 2007 article's name for `EVFD_TIMER_ABS`.
pub const TFD_TIMER_ABS: c_int = 1;
/// The 2007 article's name for `EVFD_TIMER_SEQ`.
pub const TFD_TIMER_SEQ: c_int = 2;

/// Creates a signal descriptor, or changes the mask of an existing one
/// (Davide Libenzi's 2007 signalfd).
///
/// If `ufd` is -1, a new descriptor is created that becomes readable when a
/// signal in `mask` is pending; it is blocking and not close-on-exec, as in
/// 2007 (use `fcntl` to change that). If `ufd` is an open signalfd, its mask
/// is replaced atomically and `ufd` is returned. `masksize` is the size of
/// the caller's signal set in bytes: from 8 to `sizeof(sigset_t)`. Only
/// signals 1 to 64 count; `SIGKILL` and `SIGSTOP` are ignored. `read()`
/// returns whole `struct signalfd_siginfo` records; block the signals with
/// `sigprocmask` or they may be delivered normally instead.
///
/// Returns the descriptor, or -1 with `errno` set: `EINVAL` if `masksize`
/// is out of range or `ufd` is open but not a signalfd; `EFAULT` if `mask`
/// is NULL; `EBADF` if `ufd` is not open or is below -1; `EMFILE`, `ENFILE`,
/// `ENODEV` or `ENOMEM` if no descriptor can be made. A failed call changes
/// nothing.
///
/// # Safety
/// A non-NULL `mask` must be readable for `masksize` bytes.
#[no_mangle]
pub unsafe extern "C" fn evfd_signalfd(
    ufd: c_int,
    mask: *const libc::sigset_t,
    masksize: size_t,
) -> c_int {
    // SAFETY: passed on under the same contract.
    int_result(|| unsafe { proposed_signalfd(ufd, mask, masksize) })
}

/// `evfd_signalfd` before the errno conversion; also the 2007 path of the
/// unprefixed `signalfd` (a plain Rust call, never through the PLT).
///
/// # Safety
/// As for `evfd_signalfd`.
pub(crate) unsafe fn proposed_signalfd(
    ufd: c_int,
    mask: *const libc::sigset_t,
    masksize: size_t,
) -> Result<c_int, Errno> {
    signalfd::check_masksize(masksize)?;
    // SAFETY: masksize >= KERNEL_SIGSET_SIZE was checked, and the caller
    // promises `mask` is readable for masksize bytes.
    let first = unsafe { read_bytes::<KERNEL_SIGSET_SIZE>(mask.cast()) }?;
    signalfd::create_or_replace(ufd, signalfd::kernel_sigset(first))
}

/// Creates a timer descriptor, or re-arms an existing one (Davide
/// Libenzi's 2007 timerfd).
///
/// `clockid` is `CLOCK_MONOTONIC`, `CLOCK_REALTIME` or `CLOCK_BOOTTIME`.
/// `timertype` is `EVFD_TIMER_REL` (one shot, `when` from now),
/// `EVFD_TIMER_ABS` (one shot at the absolute time `when`) or
/// `EVFD_TIMER_SEQ` (every `when`, the first time `when` from now). A `when`
/// of zero disarms the timer. If `ufd` is -1 a new descriptor is created
/// (blocking, not close-on-exec); if it is an open timerfd on the same clock
/// it is re-armed in place, unread expirations are discarded, and `ufd` is
/// returned. `read()` returns a `uint64_t`: expirations since the last read.
///
/// Returns the descriptor, or -1 with `errno` set: `EINVAL` if `timertype`
/// or `clockid` is not one of those, if `when` has a negative `tv_sec` or a
/// `tv_nsec` outside 0 to 999999999, or if `ufd` is open but is not a
/// timerfd or runs on another clock; `EFAULT` if `when` is NULL; `EBADF` if
/// `ufd` is not open or is below -1; `EMFILE`, `ENFILE`, `ENODEV` or
/// `ENOMEM` if no descriptor can be made. Re-arming an existing timer reads
/// its clock from `/proc/self/fdinfo`, so it also fails with `EMFILE` when
/// the descriptor table is full and with `ENOENT` when `/proc` is not
/// mounted. A failed call changes nothing.
///
/// # Safety
/// A non-NULL `when` must point to a readable `struct timespec`.
#[no_mangle]
pub unsafe extern "C" fn evfd_timerfd(
    ufd: c_int,
    clockid: c_int,
    timertype: c_int,
    when: *const libc::timespec,
) -> c_int {
    // SAFETY: passed on under the same contract.
    int_result(|| unsafe { proposed_timerfd(ufd, clockid, timertype, when) })
}

/// `evfd_timerfd` before the errno conversion; also the unprefixed
/// `timerfd`.
///
/// # Safety
/// As for `evfd_timerfd`.
pub(crate) unsafe fn proposed_timerfd(
    ufd: c_int,
    clockid: c_int,
    timertype: c_int,
    when: *const libc::timespec,
) -> Result<c_int, Errno> {
    // SAFETY: the caller promises a non-NULL `when` is readable.
    let (kind, clock, when) = unsafe { timer_args(timertype, clockid, when) }?;
    timerfd::create_or_rearm(ufd, clock, kind, when)
}

/// Creates an event counter descriptor whose value starts at `count` (the
/// eventfd merged in Linux 2.6.22, without flags).
///
/// `read()` of 8 bytes returns the counter and resets it to zero, blocking
/// while it is zero; `write()` of a `uint64_t` adds to it. The descriptor is
/// blocking and not close-on-exec.
///
/// Returns the descriptor, or -1 with `errno` set: `EMFILE` or `ENFILE` if
/// the descriptor tables are full, `ENODEV` or `ENOMEM` if the kernel cannot
/// make one.
#[no_mangle]
pub extern "C" fn evfd_eventfd(count: c_uint) -> c_int {
    int_result(|| eventfd::create(count))
}
