// SPDX-License-Identifier: MIT OR Apache-2.0
//! The error type of every capability module, and the thread's `errno`.

use core::fmt;
use libc::c_int;

/// A positive `errno` value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub c_int);

impl Errno {
    pub const EBADF: Errno = Errno(libc::EBADF);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const ENOMEM: Errno = Errno(libc::ENOMEM);
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const ENOSYS: Errno = Errno(libc::ENOSYS);
    pub const EMFILE: Errno = Errno(libc::EMFILE);
    pub const EINTR: Errno = Errno(libc::EINTR);
    pub const EOVERFLOW: Errno = Errno(libc::EOVERFLOW);

    /// The calling thread's current `errno`, as an error.
    pub fn last() -> Errno {
        Errno(get())
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({})", self.0)
    }
}

/// Reads the calling thread's `errno`. Async-signal-safe.
pub fn get() -> c_int {
    // SAFETY: __errno_location always returns a valid pointer to this
    // thread's errno.
    unsafe { *libc::__errno_location() }
}

/// The calling thread's `errno` itself, for a caller that reads and then
/// writes it (one call into libc instead of two). Valid for the life of
/// the thread.
pub fn location() -> *mut c_int {
    // SAFETY: as in `get`; nothing is read or written here.
    unsafe { libc::__errno_location() }
}

/// Sets the calling thread's `errno`. Async-signal-safe.
pub fn set(value: c_int) {
    // SAFETY: as in `get`.
    unsafe { *libc::__errno_location() = value }
}
