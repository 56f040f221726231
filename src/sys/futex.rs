// SPDX-License-Identifier: MIT OR Apache-2.0
//! Futex calls of the ring: the 6.16+ private-hash prctl.

use super::{check, raw_syscall, syscall6};
use crate::errno::Errno;
use libc::{c_int, c_long};

/// `prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS)` (Linux 6.16+).
pub fn futex_hash_slots() -> Result<c_int, Errno> {
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0) };
    check(ret as c_long).map(|n| n as c_int)
}

/// `prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, slots, 0)` (Linux 6.16+).
pub fn set_futex_hash_slots(slots: c_int) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    let ret = unsafe {
        libc::prctl(
            PR_FUTEX_HASH,
            PR_FUTEX_HASH_SET_SLOTS,
            slots as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    check(ret as c_long).map(drop)
}

const PR_FUTEX_HASH: c_int = 78;

const PR_FUTEX_HASH_SET_SLOTS: libc::c_ulong = 1;

const PR_FUTEX_HASH_GET_SLOTS: libc::c_ulong = 2;

/// One entry of `futex_waitv(2)` (linux/futex.h `struct futex_waitv`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct FutexWaitv {
    pub val: u64,
    pub uaddr: u64,
    pub flags: u32,
    pub reserved: u32,
}

/// `FUTEX2_SIZE_U32 | FUTEX2_PRIVATE`: a 32-bit futex private to this process.
pub const FUTEX2_U32_PRIVATE: u32 = 0x02 | 128;

/// The most entries one `futex_waitv` call takes (`FUTEX_WAITV_MAX`).
pub const FUTEX_WAITV_MAX: usize = 128;

/// `futex_waitv(waiters, n, 0, timeout, CLOCK_MONOTONIC)` (Linux 5.16+):
/// sleeps until one of the words is woken (returns its index), one of them
/// does not hold its `val` (`EAGAIN`, which one is not said), the timeout
/// (`ETIMEDOUT`; `None` waits forever) or a signal (`EINTR`). The kernel
/// reads the words; a bad address is `EFAULT`, never a fault here.
pub fn futex_waitv(
    waiters: &[FutexWaitv],
    timeout: Option<&libc::timespec>,
) -> Result<usize, Errno> {
    let ts = timeout.map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `waiters` is readable for its length; `ts` is NULL or valid;
    // the kernel validates every address in the entries itself.
    let ret = unsafe {
        raw_syscall!(
            libc::SYS_futex_waitv,
            waiters.as_ptr(),
            waiters.len() as c_long,
            0 as c_long,
            ts,
            libc::CLOCK_MONOTONIC as c_long,
        )
    };
    ret.map(|i| usize::try_from(i).unwrap_or(0))
}

/// `FUTEX_WAKE_PRIVATE` of up to `n` waiters on `uaddr`; the kernel only
/// uses the address as a key.
pub fn futex_wake_private(uaddr: *const u32, n: i32) {
    // SAFETY: integer and address arguments; FUTEX_WAKE does not
    // dereference memory it cannot, it reports EFAULT.
    let _ = unsafe { raw_syscall!(libc::SYS_futex, uaddr, FUTEX_WAKE_PRIVATE, n as c_long,) };
}

/// `FUTEX_WAKE | FUTEX_PRIVATE_FLAG` (linux/futex.h).
const FUTEX_WAKE_PRIVATE: c_long = 1 | 128;
