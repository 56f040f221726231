//! Davide Libenzi's 2007 `signalfd(ufd, mask, masksize)`, on the kernel's
//! signalfd4.
//!
//! The kernel already does what the proposal asked for: `ufd == -1` makes a
//! new descriptor, an existing signalfd gets its mask replaced atomically,
//! any other open fd is `EINVAL`, a closed one `EBADF`, and `SIGKILL` and
//! `SIGSTOP` are silently dropped from the mask. What evfd adds is the
//! `masksize` argument: the 2007 call took the caller's idea of the size of a
//! `sigset_t`, while signalfd4 insists on exactly the kernel's 8 bytes.

use crate::errno::Errno;
use crate::sys::{self, KernelSigset, KERNEL_SIGSET_SIZE};
use std::os::fd::RawFd;

/// The smallest `masksize` accepted: the kernel's own signal set.
pub const MIN_MASKSIZE: usize = KERNEL_SIGSET_SIZE;
/// The largest `masksize` accepted: glibc's `sigset_t` (128 bytes).
pub const MAX_MASKSIZE: usize = core::mem::size_of::<libc::sigset_t>();

/// Fails with `EINVAL` unless `masksize` is in `MIN_MASKSIZE..=MAX_MASKSIZE`.
pub fn check_masksize(masksize: usize) -> Result<(), Errno> {
    if (MIN_MASKSIZE..=MAX_MASKSIZE).contains(&masksize) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// The kernel signal set held in the first 8 bytes of a caller's mask:
/// signals 1..=64; whatever follows is ignored.
pub fn kernel_sigset(first_bytes: [u8; KERNEL_SIGSET_SIZE]) -> KernelSigset {
    KernelSigset::from_ne_bytes(first_bytes)
}

/// Creates a signalfd for `mask` (`ufd == -1`, blocking, no close-on-exec)
/// or replaces the mask of the signalfd `ufd` and returns `ufd`.
///
/// Errors: `EBADF` if `ufd` is not open (or below -1), `EINVAL` if it is not
/// a signalfd, `EMFILE`/`ENFILE`/`ENOMEM` from the kernel on creation. On
/// error the existing descriptor keeps its old mask.
pub fn create_or_replace(ufd: RawFd, mask: KernelSigset) -> Result<RawFd, Errno> {
    sys::signalfd4(ufd, &mask, 0)
}
