// SPDX-License-Identifier: MIT OR Apache-2.0
//! The unprefixed names `signalfd` and `timerfd` (DESIGN §3), for programs
//! written against the 2007 articles and for `LD_PRELOAD`.
//!
//! `eventfd` is deliberately not here: glibc's two-argument `eventfd` stays
//! in force for the whole process. These prototypes are not in `evfd.h`
//! (they would clash with `<sys/signalfd.h>`); `<evfd/proposed.h>` has them.

use super::fdcalls::{proposed_signalfd, proposed_timerfd};
use super::int_result;
use crate::signalfd::{self, ThirdArgument};
use libc::{c_int, size_t};

/// One symbol for glibc's `signalfd(fd, mask, flags)` and the 2007
/// `signalfd(ufd, mask, masksize)`, told apart by the third argument.
///
/// If `third` is 8 to `sizeof(sigset_t)`, it is the 2007 `masksize` and the
/// call is exactly `evfd_signalfd`. If the low 32 bits of `third` (glibc's
/// `int flags`) are 0 or a combination of `SFD_NONBLOCK` and
/// `SFD_CLOEXEC`, the call is exactly glibc's `signalfd`: the kernel's
/// signalfd4 with the caller's pointer, so its result, descriptor flags and
/// errno (`EBADF`, `EINVAL`, `EFAULT`, `EMFILE`, `ENFILE`, `ENOMEM`) are
/// the kernel's. Any other `third` fails as glibc fails for
/// such flags: `EFAULT` if `mask` is not readable, else `EINVAL`; nothing
/// is created or changed. On every path but the 2007 one, the kernel is
/// asked `signalfd4(ufd, mask, 8, flags)` with the caller's own flags,
/// the call glibc's `signalfd` makes (`c-tests/preload_signalfd_args.c`).
///
/// # Safety
/// On the 2007 path a non-NULL `mask` must be readable for `third` bytes;
/// otherwise the kernel alone reads `mask` and reports a bad pointer.
#[no_mangle]
pub unsafe extern "C" fn signalfd(ufd: c_int, mask: *const libc::sigset_t, third: size_t) -> c_int {
    int_result(|| match signalfd::classify_third(third) {
        // SAFETY: the caller's contract for a 2007 call.
        ThirdArgument::MaskSize(size) => unsafe { proposed_signalfd(ufd, mask, size) },
        ThirdArgument::GlibcFlags(flags) => {
            signalfd::create_or_replace_with_flags(ufd, mask.cast(), flags)
        }
        // glibc's `int flags` is the low half of `third`; the kernel gets
        // exactly those, as from glibc (the truncation is the point).
        ThirdArgument::Invalid => Err(signalfd::refusal(ufd, mask.cast(), third as u32 as c_int)),
    })
}

/// The 2007 `timerfd(ufd, clockid, timertype, when)`: exactly
/// `evfd_timerfd` (glibc has no function of this name).
///
/// # Safety
/// A non-NULL `when` must point to a readable `struct timespec`.
#[no_mangle]
pub unsafe extern "C" fn timerfd(
    ufd: c_int,
    clockid: c_int,
    timertype: c_int,
    when: *const libc::timespec,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    int_result(|| unsafe { proposed_timerfd(ufd, clockid, timertype, when) })
}
