// SPDX-License-Identifier: MIT OR Apache-2.0
//! What a descriptor is: open or not, its type, its `/proc/self/fdinfo`
//! fields, and duplicating it.

use super::{check, check_fd};
use crate::errno::Errno;
use core::mem::MaybeUninit;
use libc::{c_int, c_long};
use std::os::fd::{OwnedFd, RawFd};

/// `fcntl(fd, F_GETFD)`: tells whether `fd` is open.
pub fn fd_flags(fd: RawFd) -> Result<c_int, Errno> {
    // SAFETY: F_GETFD takes no pointer.
    let ret = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    check(ret as c_long).map(|f| f as c_int)
}

/// `fcntl(fd, F_GETFL)`: the file status flags (`O_NONBLOCK`...).
pub fn status_flags(fd: RawFd) -> Result<c_int, Errno> {
    // SAFETY: F_GETFL takes no pointer.
    let ret = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    check(ret as c_long).map(|f| f as c_int)
}

/// `/proc/self/fdinfo/<fd>`, NUL-terminated, built without allocating. A
/// negative `fd` is written as its unsigned value: no such file exists, so
/// opening it fails with `ENOENT` as for any other number not open.
fn fdinfo_path(fd: RawFd) -> [u8; 40] {
    const PREFIX: &[u8] = b"/proc/self/fdinfo/";
    // u32::MAX has 10 digits: 18 + 10 bytes leave the NUL in place.
    let mut digits = [0u8; 10];
    let mut n = fd as u32;
    let mut start = digits.len();
    for (i, slot) in digits.iter_mut().enumerate().rev() {
        // n % 10 is below 10: the sum is an ASCII digit, nothing wraps.
        *slot = b'0'.wrapping_add((n % 10) as u8);
        n /= 10;
        start = i;
        if n == 0 {
            break;
        }
    }
    let mut path = [0u8; 40];
    let text = PREFIX.iter().chain(digits.get(start..).unwrap_or_default());
    for (slot, byte) in path.iter_mut().zip(text) {
        *slot = *byte;
    }
    path
}

/// Reads `/proc/self/fdinfo/<fd>` into `buf` without allocating; returns the
/// number of bytes read (the kernel's fdinfo text for timerfds is short).
pub fn read_fdinfo(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    let path = fdinfo_path(fd);
    // SAFETY: `path` is NUL-terminated.
    let raw = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    let file = check_fd(raw as c_long)?;
    let mut total: usize = 0;
    loop {
        let tail = match buf.get_mut(total..) {
            Some(tail) if !tail.is_empty() => tail,
            _ => break,
        };
        // SAFETY: reading into the unfilled tail of `buf`.
        let got = unsafe {
            libc::read(
                std::os::fd::AsRawFd::as_raw_fd(&file),
                tail.as_mut_ptr().cast(),
                tail.len(),
            )
        };
        match check(got as c_long) {
            Ok(0) => break,
            // read() returns at most tail.len(): `total` stays within `buf`.
            Ok(k) => total = total.saturating_add((k as usize).min(tail.len())),
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
    Ok(parse_fdinfo_value(buf.get(..len).unwrap_or_default(), key))
}

/// The decimal value of the first line of `text` that starts with `key`.
fn parse_fdinfo_value(text: &[u8], key: &[u8]) -> Option<u64> {
    let line = text.split(|&b| b == b'\n').find(|l| l.starts_with(key))?;
    let digits = line
        .get(key.len()..)?
        .iter()
        .skip_while(|b| b.is_ascii_whitespace());
    let mut value: u64 = 0;
    let mut any = false;
    for digit in digits.map_while(|&b| char::from(b).to_digit(10)) {
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
        any = true;
    }
    any.then_some(value)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a close-on-exec duplicate sharing the
/// open file description.
pub fn dup_cloexec(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument.
    let ret = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    check_fd(ret as c_long)
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

/// The soft `RLIMIT_NOFILE`: one more than the highest descriptor number
/// this process can open now.
pub fn soft_nofile_limit() -> Result<u64, Errno> {
    let mut lim = MaybeUninit::<libc::rlimit>::uninit();
    // SAFETY: `lim` is writable storage for one rlimit.
    let ret = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, lim.as_mut_ptr()) };
    check(ret as c_long)?;
    // SAFETY: filled in on success.
    Ok(unsafe { lim.assume_init() }.rlim_cur)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::{fdinfo_path, parse_fdinfo_value};

    #[test]
    fn fdinfo_paths_are_written() {
        let text = |fd| {
            let path = fdinfo_path(fd);
            let end = path.iter().position(|&b| b == 0).unwrap();
            String::from_utf8(path[..end].to_vec()).unwrap()
        };
        assert_eq!(text(0), "/proc/self/fdinfo/0");
        assert_eq!(text(7), "/proc/self/fdinfo/7");
        assert_eq!(text(1234), "/proc/self/fdinfo/1234");
        assert_eq!(text(i32::MAX), "/proc/self/fdinfo/2147483647");
        assert_eq!(text(-1), "/proc/self/fdinfo/4294967295");
    }

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
