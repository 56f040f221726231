// SPDX-License-Identifier: MIT OR Apache-2.0
//! The system calls the eventfs signal handler (`src/eventfs/handler.rs`)
//! makes, and nothing else: every function here is async-signal-safe (raw
//! system calls or glibc's async-signal-safe `sigaction`; no allocation, no
//! locks, no cancellation points). The handler calls no other `sys` module.

use super::kernel_objects::{sigset_bit, KernelSigset, KERNEL_SIGSET_SIZE};
use super::{check, raw_syscall, syscall6};
use crate::errno::Errno;
use libc::{c_int, c_long};
use std::os::fd::RawFd;

/// `kcmp(2)`'s `KCMP_FILE` (linux/kcmp.h).
const KCMP_FILE: c_long = 0;

/// Whether descriptors `a` and `b` in the fd table of task `pid` (a
/// process or thread id) are the same open file description
/// (`kcmp(pid, pid, KCMP_FILE, a, b)`). `EBADF` if either is not open.
/// Async-signal-safe.
pub fn kcmp_same_file(pid: libc::pid_t, a: RawFd, b: RawFd) -> Result<bool, Errno> {
    // SAFETY: plain integer arguments.
    let ret = unsafe {
        raw_syscall!(
            libc::SYS_kcmp,
            pid as c_long,
            pid as c_long,
            KCMP_FILE,
            a as c_long,
            b as c_long,
        )
    };
    ret.map(|order| order == 0)
}

/// `getpid()`, straight from the kernel. Async-signal-safe.
pub fn getpid_raw() -> libc::pid_t {
    // SAFETY: no arguments; cannot fail.
    unsafe { raw_syscall!(libc::SYS_getpid).unwrap_or(-1) as libc::pid_t }
}

/// `gettid()`. Async-signal-safe.
pub fn gettid_raw() -> libc::pid_t {
    // SAFETY: no arguments; cannot fail.
    unsafe { raw_syscall!(libc::SYS_gettid).unwrap_or(-1) as libc::pid_t }
}

/// `tgkill(pid, tid, sig)`; failures are ignored (the thread is this
/// one). Async-signal-safe.
pub fn tgkill(pid: libc::pid_t, tid: libc::pid_t, sig: c_int) {
    // SAFETY: plain integer arguments.
    unsafe {
        let _ = raw_syscall!(
            libc::SYS_tgkill,
            pid as c_long,
            tid as c_long,
            sig as c_long,
        );
    }
}

/// Adds 1 to the eventfd `fd` (an 8-byte `write`). Failure is ignored: a
/// counter at its maximum cannot count more. Async-signal-safe.
pub fn eventfd_add_one(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: `one` is 8 readable bytes for the duration of the call.
    unsafe {
        let _ = raw_syscall!(
            libc::SYS_write,
            fd as c_long,
            &one as *const u64,
            core::mem::size_of::<u64>() as c_long,
        );
    }
}

/// Does nothing for a `sig` outside 1..=64.
fn change_thread_mask(how: c_int, sig: c_int) {
    let Some(set) = sigset_bit(sig) else {
        return;
    };
    // SAFETY: `set` is the kernel's 8-byte signal set; no old set wanted.
    unsafe {
        let _ = raw_syscall!(
            libc::SYS_rt_sigprocmask,
            how as c_long,
            &set as *const KernelSigset,
            core::ptr::null_mut::<KernelSigset>(),
            KERNEL_SIGSET_SIZE as c_long,
        );
    }
}

/// Unblocks `sig` (1..=64) in the calling thread. Async-signal-safe.
pub fn unblock_signal(sig: c_int) {
    change_thread_mask(libc::SIG_UNBLOCK, sig);
}

/// Blocks `sig` (1..=64) in the calling thread. Async-signal-safe.
pub fn block_signal(sig: c_int) {
    change_thread_mask(libc::SIG_BLOCK, sig);
}

/// `sched_yield()`. Async-signal-safe.
pub fn yield_now() {
    // SAFETY: no arguments.
    let _ = unsafe { raw_syscall!(libc::SYS_sched_yield) };
}

/// `sigaction(sig, new, old)` through libc, which supplies the restorer the
/// kernel needs (and lets sanitizers that intercept it see the change).
/// glibc's sigaction is async-signal-safe.
pub fn sigaction(
    sig: c_int,
    new: Option<&libc::sigaction>,
    old: Option<&mut libc::sigaction>,
) -> Result<(), Errno> {
    let new = new.map_or(core::ptr::null(), |n| n as *const libc::sigaction);
    let old = old.map_or(core::ptr::null_mut(), |o| o as *mut libc::sigaction);
    // SAFETY: each pointer is NULL or valid for the duration of the call.
    let ret = unsafe { libc::sigaction(sig, new, old) };
    check(ret as c_long).map(drop)
}

/// `F_DUPFD_QUERY` (Linux 6.10; linux/fcntl.h: `F_LINUX_SPECIFIC_BASE + 3`;
/// the libc crate does not export it).
const F_DUPFD_QUERY: c_int = 1027;

/// Whether descriptors `a` and `b` of the calling thread's fd table are
/// the same open file description (`fcntl(a, F_DUPFD_QUERY, b)`): about the
/// price of `getppid`, where `kcmp` costs several times that and needs a
/// task id. `EBADF` if `a` is not open (a closed `b` is just "not the
/// same"); `EINVAL` before Linux 6.10. Async-signal-safe.
pub fn same_file_as(a: RawFd, b: RawFd) -> Result<bool, Errno> {
    // SAFETY: F_DUPFD_QUERY takes an integer argument.
    let ret = unsafe {
        raw_syscall!(
            libc::SYS_fcntl,
            a as c_long,
            F_DUPFD_QUERY as c_long,
            b as c_long,
        )
    };
    ret.map(|same| same == 1)
}
