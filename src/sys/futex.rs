//! Futex calls of the ring: the 6.16+ private-hash prctl.

use super::check;
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
