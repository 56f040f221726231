// SPDX-License-Identifier: MIT OR Apache-2.0
//! Reading and writing the counters and records the ring consumes.

use super::check;
use crate::errno::Errno;
use libc::c_long;
use std::os::fd::RawFd;

/// `preadv2(fd, buf, -1, RWF_NOWAIT)`: reads without ever blocking, even
/// when the caller's descriptor is in blocking mode (eventfd, timerfd and
/// signalfd all honour `RWF_NOWAIT`). `EAGAIN` when nothing is ready.
pub fn read_nowait(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    loop {
        // SAFETY: `iov` describes `buf`, writable for its length.
        let ret = unsafe { libc::preadv2(fd, &iov, 1, -1, libc::RWF_NOWAIT) };
        match check(ret as c_long) {
            Err(Errno::EINTR) => continue,
            other => return other.map(|n| n as usize),
        }
    }
}

/// `read(fd, buf)`: for a descriptor the caller knows is in non-blocking
/// mode (cheaper than `preadv2`, which imports an iovec). `EAGAIN` when
/// nothing is ready.
pub fn read(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        // SAFETY: `buf` is writable for its length.
        let ret = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match check(ret as c_long) {
            Err(Errno::EINTR) => continue,
            other => return other.map(|n| n as usize),
        }
    }
}

/// `write(fd, &value, 8)`, for eventfds.
pub fn write_u64(fd: RawFd, value: u64) -> Result<(), Errno> {
    loop {
        // SAFETY: `value` is 8 readable bytes.
        let ret = unsafe { libc::write(fd, (&value as *const u64).cast(), 8) };
        match check(ret as c_long) {
            Err(Errno::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}
