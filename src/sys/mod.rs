// SPDX-License-Identifier: MIT OR Apache-2.0
//! Every raw system call evfd makes, one module per concern.
//!
//! evfd exports `signalfd` and `timerfd` itself, so calling libc's wrappers
//! of those names could resolve back into evfd: the fd-creating calls go to
//! the kernel by number (`syscall6`: the `syscall` instruction on x86-64,
//! `syscall(2)` elsewhere). Nothing here allocates, except `fd_info::fd_link`.
//!
//! - [`kernel_objects`]: creating and setting signalfds, timerfds, eventfds.
//! - [`fd_info`]: what a descriptor is (open, its type, its fdinfo fields).
//! - [`signal_safe`]: the calls the eventfs signal handler makes, and only
//!   those: every one async-signal-safe. The handler uses nothing else.
//! - [`signals`]: dispositions and masks outside the handler.
//! - [`io`], [`epoll`], [`futex`], [`clock`]: what the event ring needs.

use crate::errno::Errno;
use libc::{c_int, c_long};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

pub mod clock;
pub mod epoll;
pub mod fd_info;
pub mod futex;
pub mod io;
pub mod kernel_objects;
pub mod signal_safe;
pub mod signals;

fn check(ret: c_long) -> Result<c_long, Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// A system call straight to the kernel, `Ok(return value)` or the error
/// the kernel returned. On x86-64 this is the `syscall` instruction itself:
/// no libc wrapper, so no variadic call and `errno` is never touched (the
/// hot create and set-mask paths pay nothing over the raw call). Elsewhere
/// it is `syscall(2)`. Async-signal-safe either way.
///
/// # Safety
/// The arguments must be valid for system call `nr` (pointers valid for
/// what the kernel reads or writes through them); unused ones are 0.
#[inline(always)]
unsafe fn syscall6(nr: c_long, a: [c_long; 6]) -> Result<c_long, Errno> {
    #[cfg(target_arch = "x86_64")]
    {
        let ret: c_long;
        // SAFETY: the caller passes valid arguments for `nr`; the kernel
        // clobbers only rcx and r11 (declared) and does not touch the user
        // stack. No `nomem`: the kernel may read and write memory the
        // arguments point to.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") nr => ret,
                in("rdi") a[0],
                in("rsi") a[1],
                in("rdx") a[2],
                in("r10") a[3],
                in("r8") a[4],
                in("r9") a[5],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        // The kernel returns -4095..=-1 for errors, anything else is a value.
        if (-4095..0).contains(&ret) {
            // In -4095..0, so negating cannot wrap and fits a c_int.
            Err(Errno(ret.wrapping_neg() as c_int))
        } else {
            Ok(ret)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: as above; syscall(2) sets errno on failure.
        check(unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) })
    }
}

/// `syscall6` with 0 to 6 arguments of any integer or pointer type.
macro_rules! raw_syscall {
    ($nr:expr $(, $arg:expr)* $(,)?) => {{
        #[allow(clippy::unnecessary_cast)]
        let args = [$(($arg) as c_long,)*];
        syscall6($nr as c_long, $crate::sys::six_args(args))
    }};
}
pub(crate) use raw_syscall;

/// `args` padded with zeros to the six a system call takes; more than six
/// fail to compile.
#[inline(always)]
pub(crate) fn six_args<const N: usize>(args: [c_long; N]) -> [c_long; 6] {
    const { assert!(N <= 6, "a system call takes at most six arguments") };
    let mut all: [c_long; 6] = [0; 6];
    for (slot, arg) in all.iter_mut().zip(args) {
        *slot = arg;
    }
    all
}

fn check_fd(ret: c_long) -> Result<OwnedFd, Errno> {
    let fd = check(ret)? as RawFd;
    // SAFETY: the kernel just returned this descriptor to us; nobody else
    // owns it yet.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
