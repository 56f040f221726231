// SPDX-License-Identifier: MIT OR Apache-2.0
//! What a fuzz input must leave as it found it: the process's descriptors,
//! signal mask and signal dispositions; and small probes of descriptors.

use libc::c_int;

pub fn errno() -> c_int {
    // SAFETY: the thread's errno location is always valid.
    unsafe { *libc::__errno_location() }
}

pub fn set_errno(value: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = value };
}

pub fn strerror(e: c_int) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// The process-wide state compared before and after each input.
#[derive(Debug, PartialEq, Eq)]
pub struct ProcessState {
    /// Open descriptors with the device and inode behind each.
    fds: Vec<(c_int, u64, u64)>,
    /// The calling thread's signal mask (the kernel's 64 bits).
    mask: Vec<c_int>,
    /// For signals 1..=64: (sigaction's result, handler, flags, mask).
    actions: Vec<(c_int, usize, c_int, Vec<c_int>)>,
}

fn members(set: &libc::sigset_t) -> Vec<c_int> {
    // SAFETY: `set` is a valid sigset_t.
    (1..=64)
        .filter(|&s| unsafe { libc::sigismember(set, s) } == 1)
        .collect()
}

impl ProcessState {
    pub fn capture() -> ProcessState {
        let mut fds = Vec::new();
        // SAFETY: opendir/readdir/closedir on a NUL-terminated path; the
        // directory's own descriptor is left out of the list.
        unsafe {
            let dir = libc::opendir(c"/proc/self/fd".as_ptr());
            assert!(!dir.is_null(), "opendir /proc/self/fd");
            let own = libc::dirfd(dir);
            loop {
                let entry = libc::readdir(dir);
                if entry.is_null() {
                    break;
                }
                let name = std::ffi::CStr::from_ptr((*entry).d_name.as_ptr());
                let Ok(fd) = name.to_str().unwrap_or(".").parse::<c_int>() else {
                    continue;
                };
                if fd == own {
                    continue;
                }
                let mut st: libc::stat = core::mem::zeroed();
                if libc::fstat(fd, &mut st) == 0 {
                    fds.push((fd, st.st_dev, st.st_ino));
                }
            }
            libc::closedir(dir);
        }
        fds.sort();

        // SAFETY: querying (not changing) the mask and dispositions into
        // zeroed locals.
        let (mask, actions) = unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, core::ptr::null(), &mut set),
                0
            );
            let mut actions = Vec::with_capacity(64);
            for sig in 1..=64 {
                let mut old: libc::sigaction = core::mem::zeroed();
                let r = libc::sigaction(sig, core::ptr::null(), &mut old);
                actions.push((r, old.sa_sigaction, old.sa_flags, members(&old.sa_mask)));
            }
            (members(&set), actions)
        };
        ProcessState { fds, mask, actions }
    }

    /// How many descriptors were open.
    pub fn fd_count(&self) -> usize {
        self.fds.len()
    }

    /// The disposition of `sig` (1..=64) as captured.
    pub fn action(&self, sig: c_int) -> &(c_int, usize, c_int, Vec<c_int>) {
        &self.actions[sig as usize - 1]
    }

    pub fn assert_same(&self, before: &ProcessState) {
        assert_eq!(self.fds, before.fds, "descriptors leaked or lost");
        assert_eq!(self.mask, before.mask, "signal mask changed");
        assert_eq!(self.actions, before.actions, "signal dispositions changed");
    }
}

/// The disposition of `sig` now, in the form `ProcessState` keeps.
pub fn current_action(sig: c_int) -> (c_int, usize, c_int, Vec<c_int>) {
    // SAFETY: querying into a zeroed local.
    unsafe {
        let mut old: libc::sigaction = core::mem::zeroed();
        let r = libc::sigaction(sig, core::ptr::null(), &mut old);
        (r, old.sa_sigaction, old.sa_flags, members(&old.sa_mask))
    }
}

/// How many descriptors are open (not counting the directory's own).
pub fn count_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read_dir /proc/self/fd")
        .count()
        - 1
}

fn fdinfo(fd: c_int) -> Option<String> {
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()
}

fn fdinfo_field(fd: c_int, key: &str) -> Option<String> {
    fdinfo(fd)?
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
}

pub fn fdinfo_hex(fd: c_int, key: &str) -> Option<u64> {
    u64::from_str_radix(&fdinfo_field(fd, key)?, 16).ok()
}

pub fn fdinfo_dec(fd: c_int, key: &str) -> Option<i64> {
    fdinfo_field(fd, key)?.parse().ok()
}

/// fdinfo without the lines that change by themselves (file position,
/// timer ticks and remaining time): what a refused call must not change.
pub fn stable_fdinfo(fd: c_int) -> String {
    fdinfo(fd)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            !l.starts_with("pos:") && !l.starts_with("ticks:") && !l.starts_with("it_value:")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn timerfd_gettime(fd: c_int) -> Option<libc::itimerspec> {
    // SAFETY: zeroed storage for the kernel to fill.
    unsafe {
        let mut cur: libc::itimerspec = core::mem::zeroed();
        (libc::syscall(libc::SYS_timerfd_gettime, fd, &mut cur) == 0).then_some(cur)
    }
}

/// A descriptor a 2007 call made is blocking and not close-on-exec.
pub fn assert_2007_flags(fd: c_int) {
    // SAFETY: F_GETFD/F_GETFL take no pointer.
    let (fdflags, flflags) = unsafe {
        (
            libc::fcntl(fd, libc::F_GETFD),
            libc::fcntl(fd, libc::F_GETFL),
        )
    };
    assert_eq!(
        fdflags & libc::FD_CLOEXEC,
        0,
        "new fd {fd} is close-on-exec"
    );
    assert_eq!(flflags & libc::O_NONBLOCK, 0, "new fd {fd} is non-blocking");
}

pub fn poll_readable(fd: c_int) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    assert!(n >= 0, "poll");
    p.revents & libc::POLLIN != 0
}
