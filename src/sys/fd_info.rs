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
