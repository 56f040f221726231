//! Every raw system call evfd makes.
//!
//! evfd exports `signalfd` and `timerfd` itself, so calling libc's wrappers
//! of those names could resolve back into evfd: the fd-creating calls here go
//! to the kernel by number (`syscall6`: the `syscall` instruction on x86-64,
//! `syscall(2)` elsewhere). Nothing here allocates.

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
            Err(Errno(-ret as c_int))
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
        let mut all: [c_long; 6] = [0; 6];
        all[..args.len()].copy_from_slice(&args);
        syscall6($nr as c_long, all)
    }};
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
        raw_syscall!(
            libc::SYS_signalfd4,
            ufd as c_long,
            mask,
            KERNEL_SIGSET_SIZE as c_long,
            flags as c_long,
        )
    };
    ret.map(|fd| fd as RawFd)
}

/// `timerfd_create(clockid, flags)`.
pub fn timerfd_create(clockid: c_int, flags: c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: plain integer arguments.
    let ret = unsafe { raw_syscall!(libc::SYS_timerfd_create, clockid as c_long, flags as c_long) };
    check_fd(ret?)
}

/// `timerfd_settime(fd, flags, new, NULL)`.
pub fn timerfd_settime(fd: RawFd, flags: c_int, new: &libc::itimerspec) -> Result<(), Errno> {
    // SAFETY: `new` is a valid itimerspec for the duration of the call;
    // old_value is NULL, which the kernel allows.
    let ret = unsafe {
        raw_syscall!(
            libc::SYS_timerfd_settime,
            fd as c_long,
            flags as c_long,
            new as *const libc::itimerspec,
            core::ptr::null_mut::<libc::itimerspec>(),
        )
    };
    ret.map(drop)
}

/// `timerfd_gettime(fd)`: fails with `EBADF` if `fd` is not open and
/// `EINVAL` if it is not a timerfd, which makes it the type check too.
pub fn timerfd_gettime(fd: RawFd) -> Result<libc::itimerspec, Errno> {
    let mut cur = MaybeUninit::<libc::itimerspec>::uninit();
    // SAFETY: `cur` is writable storage for one itimerspec.
    let ret = unsafe { raw_syscall!(libc::SYS_timerfd_gettime, fd as c_long, cur.as_mut_ptr()) };
    ret?;
    // SAFETY: the kernel filled it in on success.
    Ok(unsafe { cur.assume_init() })
}

/// `eventfd2(count, flags)`.
pub fn eventfd2(count: c_uint, flags: c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: plain integer arguments.
    let ret = unsafe { raw_syscall!(libc::SYS_eventfd2, count as c_long, flags as c_long) };
    check_fd(ret?)
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

/// The decimal value on the `key` line (`key` includes its colon) of
/// `/proc/self/fdinfo/<fd>`, or `None` if there is no such line. Does not
/// allocate; the errors are those of opening and reading that file.
pub fn fdinfo_value(fd: RawFd, key: &[u8]) -> Result<Option<u64>, Errno> {
    let mut buf = [0u8; 512];
    let len = read_fdinfo(fd, &mut buf)?;
    Ok(parse_fdinfo_value(&buf[..len], key))
}

/// The decimal value of the first line of `text` that starts with `key`.
fn parse_fdinfo_value(text: &[u8], key: &[u8]) -> Option<u64> {
    let line = text.split(|&b| b == b'\n').find(|l| l.starts_with(key))?;
    let digits = line[key.len()..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace());
    let mut value: u64 = 0;
    let mut any = false;
    for &b in digits.take_while(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        any = true;
    }
    any.then_some(value)
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

fn change_thread_mask(how: c_int, sig: c_int) {
    let set: KernelSigset = 1 << (sig - 1);
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
        raw_syscall!(
            libc::SYS_rt_sigaction,
            sig as c_long,
            &action as *const KernelSigaction,
            core::ptr::null_mut::<KernelSigaction>(),
            KERNEL_SIGSET_SIZE as c_long,
        )
    };
    ret.map(drop)
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

// ---- The event ring (src/ring/): reads, epoll, futex hash, fd identification.

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

/// What kind of kernel object `fd` is, from `/proc/self/fd/<fd>`'s link
/// text (`anon_inode:[eventfd]`...). Writes the text into `buf`, returns
/// its length.
pub fn fd_link(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    let path = format!("/proc/self/fd/{fd}\0");
    // SAFETY: `path` is NUL-terminated; `buf` is writable for its length.
    let ret = unsafe { libc::readlink(path.as_ptr().cast(), buf.as_mut_ptr().cast(), buf.len()) };
    check(ret as c_long).map(|n| n as usize)
}

/// `fstat(fd).st_mode`.
pub fn fd_mode(fd: RawFd) -> Result<u32, Errno> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is writable storage for one stat.
    let ret = unsafe { libc::fstat(fd, st.as_mut_ptr()) };
    check(ret as c_long)?;
    // SAFETY: filled in on success.
    Ok(unsafe { st.assume_init() }.st_mode)
}

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
                .saturating_add((t.tv_nsec + 999_999) / 1_000_000);
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
        raw_syscall!(
            libc::SYS_fcntl,
            a as c_long,
            F_DUPFD_QUERY as c_long,
            b as c_long,
        )
    };
    ret.map(|same| same == 1)
}

#[cfg(test)]
mod tests {
    use super::parse_fdinfo_value;

    #[test]
    fn fdinfo_values_are_parsed() {
        let text = b"pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\nclockid: 7\nticks: 0\n";
        assert_eq!(parse_fdinfo_value(text, b"clockid:"), Some(7));
        assert_eq!(parse_fdinfo_value(text, b"flags:"), Some(2));
        assert_eq!(parse_fdinfo_value(text, b"missing:"), None);
        assert_eq!(parse_fdinfo_value(b"clockid: x\n", b"clockid:"), None);
        assert_eq!(
            parse_fdinfo_value(b"eventfd-semaphore: 1\n", b"eventfd-semaphore:"),
            Some(1)
        );
    }
}
