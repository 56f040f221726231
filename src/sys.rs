//! Every raw system call evfd makes.
//!
//! evfd exports `signalfd` and `timerfd` itself, so calling libc's wrappers
//! of those names could resolve back into evfd: the fd-creating calls here go
//! through `syscall(2)` by number. Nothing here allocates.

use crate::errno::Errno;
use core::mem::MaybeUninit;
use libc::{c_int, c_long, c_uint};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The kernel's signal set on Linux: signals 1..=64, bit `signo - 1`.
pub type KernelSigset = u64;

/// The size the kernel's signalfd4 insists on (`_NSIG / 8`).
pub const KERNEL_SIGSET_SIZE: usize = core::mem::size_of::<KernelSigset>();

fn check(ret: c_long) -> Result<c_long, Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

fn check_fd(ret: c_long) -> Result<OwnedFd, Errno> {
    let fd = check(ret)? as RawFd;
    // SAFETY: the kernel just returned this descriptor to us; nobody else
    // owns it yet.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `signalfd4(ufd, mask, 8, flags)` where the caller keeps ownership of
/// `ufd` (the kernel returns `ufd` itself when it is not -1).
pub fn signalfd4(ufd: RawFd, mask: &KernelSigset, flags: c_int) -> Result<RawFd, Errno> {
    signalfd4_raw(
        ufd,
        mask as *const KernelSigset as *const libc::c_void,
        flags,
    )
}

/// `signalfd4` with a pointer the kernel validates itself: a bad `mask` is
/// `EFAULT`, never a fault in this process, so the function is safe.
#[allow(clippy::not_unsafe_ptr_arg_deref)] // only the kernel reads `mask`
pub fn signalfd4_raw(ufd: RawFd, mask: *const libc::c_void, flags: c_int) -> Result<RawFd, Errno> {
    // SAFETY: the kernel copies KERNEL_SIGSET_SIZE bytes from `mask` and
    // reports EFAULT itself if the pointer is bad.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_signalfd4,
            ufd as c_long,
            mask,
            KERNEL_SIGSET_SIZE as c_long,
            flags as c_long,
        )
    };
    check(ret).map(|fd| fd as RawFd)
}

/// `timerfd_create(clockid, flags)`.
pub fn timerfd_create(clockid: c_int, flags: c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: plain integer arguments.
    let ret =
        unsafe { libc::syscall(libc::SYS_timerfd_create, clockid as c_long, flags as c_long) };
    check_fd(ret)
}

/// `timerfd_settime(fd, flags, new, NULL)`.
pub fn timerfd_settime(fd: RawFd, flags: c_int, new: &libc::itimerspec) -> Result<(), Errno> {
    // SAFETY: `new` is a valid itimerspec for the duration of the call;
    // old_value is NULL, which the kernel allows.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_timerfd_settime,
            fd as c_long,
            flags as c_long,
            new as *const libc::itimerspec,
            core::ptr::null_mut::<libc::itimerspec>(),
        )
    };
    check(ret).map(drop)
}

/// `timerfd_gettime(fd)`: fails with `EBADF` if `fd` is not open and
/// `EINVAL` if it is not a timerfd, which makes it the type check too.
pub fn timerfd_gettime(fd: RawFd) -> Result<libc::itimerspec, Errno> {
    let mut cur = MaybeUninit::<libc::itimerspec>::uninit();
    // SAFETY: `cur` is writable storage for one itimerspec.
    let ret = unsafe { libc::syscall(libc::SYS_timerfd_gettime, fd as c_long, cur.as_mut_ptr()) };
    check(ret)?;
    // SAFETY: the kernel filled it in on success.
    Ok(unsafe { cur.assume_init() })
}

/// `eventfd2(count, flags)`.
pub fn eventfd2(count: c_uint, flags: c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: plain integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_eventfd2, count as c_long, flags as c_long) };
    check_fd(ret)
}

/// `fcntl(fd, F_GETFD)`: tells whether `fd` is open.
pub fn fd_flags(fd: RawFd) -> Result<c_int, Errno> {
    // SAFETY: F_GETFD takes no pointer.
    let ret = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    check(ret as c_long).map(|f| f as c_int)
}

/// Reads `/proc/self/fdinfo/<fd>` into `buf` without allocating; returns the
/// number of bytes read (the kernel's fdinfo text for timerfds is short).
pub fn read_fdinfo(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut path = [0u8; 40];
    let prefix = b"/proc/self/fdinfo/";
    path[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 12];
    let mut n = fd as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, d) in digits[..len].iter().rev().enumerate() {
        path[prefix.len() + i] = *d;
    }
    // SAFETY: `path` is NUL-terminated (zero-initialised beyond the digits).
    let raw = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    let file = check_fd(raw as c_long)?;
    let mut total = 0;
    while total < buf.len() {
        // SAFETY: reading into the unfilled tail of `buf`.
        let got = unsafe {
            libc::read(
                std::os::fd::AsRawFd::as_raw_fd(&file),
                buf[total..].as_mut_ptr().cast(),
                buf.len() - total,
            )
        };
        match check(got as c_long) {
            Ok(0) => break,
            Ok(k) => total += k as usize,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

// ---- eventfs (src/eventfs): descriptors, dispositions, and the calls its
// signal handler makes. Those marked async-signal-safe are raw system calls:
// no allocation, no locks, and not libc wrappers that are cancellation
// points.

/// `kcmp(2)`'s `KCMP_FILE` (linux/kcmp.h).
const KCMP_FILE: c_long = 0;

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a close-on-exec duplicate sharing the
/// open file description.
pub fn dup_cloexec(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument.
    let ret = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    check_fd(ret as c_long)
}

/// Whether descriptors `a` and `b` in the fd table of task `pid` (a
/// process or thread id) are the same open file description
/// (`kcmp(pid, pid, KCMP_FILE, a, b)`). `EBADF` if either is not open.
/// Async-signal-safe.
pub fn kcmp_same_file(pid: libc::pid_t, a: RawFd, b: RawFd) -> Result<bool, Errno> {
    // SAFETY: plain integer arguments.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            pid as c_long,
            pid as c_long,
            KCMP_FILE,
            a as c_long,
            b as c_long,
        )
    };
    check(ret).map(|order| order == 0)
}

/// `getpid()`, straight from the kernel. Async-signal-safe.
pub fn getpid_raw() -> libc::pid_t {
    // SAFETY: no arguments; cannot fail.
    unsafe { libc::syscall(libc::SYS_getpid) as libc::pid_t }
}

/// `gettid()`. Async-signal-safe.
pub fn gettid_raw() -> libc::pid_t {
    // SAFETY: no arguments; cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

/// `tgkill(pid, tid, sig)`; failures are ignored (the thread is this
/// one). Async-signal-safe.
pub fn tgkill(pid: libc::pid_t, tid: libc::pid_t, sig: c_int) {
    // SAFETY: plain integer arguments.
    unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            pid as c_long,
            tid as c_long,
            sig as c_long,
        )
    };
}

/// Adds 1 to the eventfd `fd` (an 8-byte `write`). Failure is ignored: a
/// counter at its maximum cannot count more. Async-signal-safe.
pub fn eventfd_add_one(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: `one` is 8 readable bytes for the duration of the call.
    unsafe {
        libc::syscall(
            libc::SYS_write,
            fd as c_long,
            &one as *const u64,
            core::mem::size_of::<u64>() as c_long,
        )
    };
}

fn change_thread_mask(how: c_int, sig: c_int) {
    let set: KernelSigset = 1 << (sig - 1);
    // SAFETY: `set` is the kernel's 8-byte signal set; no old set wanted.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how as c_long,
            &set as *const KernelSigset,
            core::ptr::null_mut::<KernelSigset>(),
            KERNEL_SIGSET_SIZE as c_long,
        )
    };
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
    unsafe { libc::syscall(libc::SYS_sched_yield) };
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

/// `pthread_sigmask(how, set, old)` for the calling thread.
pub fn thread_sigmask(how: c_int, set: &libc::sigset_t) -> Result<libc::sigset_t, Errno> {
    // SAFETY: an empty set is a valid initial value for `old`.
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let ret = unsafe { libc::pthread_sigmask(how, set, &mut old) };
    if ret != 0 {
        return Err(Errno(ret));
    }
    Ok(old)
}

/// The kernel's `struct sigaction` where it has `sa_restorer` (x86-64,
/// aarch64); other ports lay it out differently.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: KernelSigset,
}

/// Sets `SIG_DFL` or `SIG_IGN` with exactly `flags` and the first 64
/// signals of `mask`, through `rt_sigaction` itself: glibc's wrapper always
/// adds `SA_RESTORER`, which a disposition the program never set lacks.
/// Only for `SIG_DFL`/`SIG_IGN`, which never return through a restorer.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn set_default_or_ignore_exactly(
    sig: c_int,
    handler: usize,
    flags: c_int,
    mask: &libc::sigset_t,
) -> Result<(), Errno> {
    debug_assert!(handler == libc::SIG_DFL || handler == libc::SIG_IGN);
    let mut bits: KernelSigset = 0;
    for s in 1..=64 {
        // SAFETY: `mask` is a valid sigset_t and `s` is in range.
        if unsafe { libc::sigismember(mask, s) } == 1 {
            bits |= 1 << (s - 1);
        }
    }
    let action = KernelSigaction {
        handler,
        flags: flags as libc::c_uint as libc::c_ulong,
        restorer: 0,
        mask: bits,
    };
    // SAFETY: `action` is a valid kernel sigaction for the duration of
    // the call; no old action wanted.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig as c_long,
            &action as *const KernelSigaction,
            core::ptr::null_mut::<KernelSigaction>(),
            KERNEL_SIGSET_SIZE as c_long,
        )
    };
    check(ret).map(drop)
}

/// Elsewhere glibc's own `sigaction` call has to do.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn set_default_or_ignore_exactly(
    _sig: c_int,
    _handler: usize,
    _flags: c_int,
    _mask: &libc::sigset_t,
) -> Result<(), Errno> {
    Ok(())
}

// ---- eventfs handler speed-up: comparing descriptors with one fcntl. Both
// calls are raw system calls, async-signal-safe.

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
        libc::syscall(
            libc::SYS_fcntl,
            a as c_long,
            F_DUPFD_QUERY as c_long,
            b as c_long,
        )
    };
    check(ret).map(|same| same == 1)
}
