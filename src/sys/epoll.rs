// SPDX-License-Identifier: MIT OR Apache-2.0
//! epoll: the ring's epoll backend and its fd-identity checks.

use super::{check, check_fd, raw_syscall, syscall6};
use crate::errno::Errno;
use libc::{c_int, c_long};
use std::os::fd::{OwnedFd, RawFd};

/// `epoll_create1(EPOLL_CLOEXEC)`.
pub fn epoll_create() -> Result<OwnedFd, Errno> {
    // SAFETY: integer argument.
    let ret = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    check_fd(ret as c_long)
}

/// `epoll_ctl(epfd, op, fd, {events, token})`.
pub fn epoll_ctl(epfd: RawFd, op: c_int, fd: RawFd, events: u32, token: u64) -> Result<(), Errno> {
    let mut ev = libc::epoll_event { events, u64: token };
    // SAFETY: `ev` is a valid epoll_event for the call.
    let ret = unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) };
    check(ret as c_long).map(drop)
}

/// `EPOLL_CTL_ADD`, or where the set already has an entry for this
/// number's file (`EEXIST`: one left behind when its number was closed while
/// the file lived on, and removed later, so `EPOLL_CTL_DEL` could not reach
/// it), `EPOLL_CTL_MOD` to take that entry over. The caller has made sure
/// no live source owns the number.
pub fn epoll_add_or_take(epfd: RawFd, fd: RawFd, events: u32, token: u64) -> Result<(), Errno> {
    match epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, events, token) {
        Err(Errno(libc::EEXIST)) => epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, events, token),
        other => other,
    }
}

/// `epoll_pwait2(epfd, out, timeout, NULL)`; `None` waits forever. Where
/// epoll_pwait2 is missing (before Linux 5.11, or under valgrind 3.19,
/// which does not know it) falls back to `epoll_wait` with the timeout
/// rounded up to milliseconds.
pub fn epoll_wait(
    epfd: RawFd,
    out: &mut [libc::epoll_event],
    timeout: Option<&libc::timespec>,
) -> Result<usize, Errno> {
    use core::sync::atomic::{AtomicBool, Ordering};
    static NO_PWAIT2: AtomicBool = AtomicBool::new(false);
    if !NO_PWAIT2.load(Ordering::Relaxed) {
        match epoll_pwait2(epfd, out, timeout) {
            Err(Errno::ENOSYS) => NO_PWAIT2.store(true, Ordering::Relaxed),
            other => return other,
        }
    }
    let ms = match timeout {
        None => -1,
        Some(t) => {
            let ms = t
                .tv_sec
                .saturating_mul(1000)
                .saturating_add(t.tv_nsec.saturating_add(999_999) / 1_000_000);
            ms.min(c_int::MAX as i64) as c_int
        }
    };
    // SAFETY: `out` is writable for its length.
    let ret = unsafe { libc::epoll_wait(epfd, out.as_mut_ptr(), out.len() as c_int, ms) };
    check(ret as c_long).map(|n| n as usize)
}

fn epoll_pwait2(
    epfd: RawFd,
    out: &mut [libc::epoll_event],
    timeout: Option<&libc::timespec>,
) -> Result<usize, Errno> {
    let ts = timeout.map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `out` is writable for its length; `ts` is NULL or valid.
    let ret = unsafe {
        raw_syscall!(
            libc::SYS_epoll_pwait2,
            epfd as c_long,
            out.as_mut_ptr(),
            out.len() as c_long,
            ts,
            core::ptr::null::<libc::sigset_t>(),
            0 as c_long,
        )
    };
    ret.map(|n| n as usize)
}
