// SPDX-License-Identifier: MIT OR Apache-2.0
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
use crate::sys::{
    self,
    kernel_objects::{KernelSigset, KERNEL_SIGSET_SIZE},
};
use libc::c_int;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

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
    sys::kernel_objects::signalfd4(ufd, &mask, 0)
}

// ---------------------------------------------------------------------------
// The unprefixed `signalfd(fd, mask, third)` (DESIGN §3): one symbol that
// serves both glibc's `signalfd(int, const sigset_t *, int flags)` and the
// 2007 `signalfd(int, const sigset_t *, size_t masksize)`.

/// The flags glibc's `signalfd` (and the kernel's signalfd4) accept.
pub const GLIBC_FLAGS: c_int = libc::SFD_NONBLOCK | libc::SFD_CLOEXEC;

// The dispatch is only unambiguous because no flag combination is a valid
// masksize (on MIPS SFD_NONBLOCK is 0x80, which would collide).
const _: () = assert!(
    libc::SFD_NONBLOCK as usize > MAX_MASKSIZE
        && libc::SFD_CLOEXEC as usize > MAX_MASKSIZE
        && GLIBC_FLAGS as usize > MAX_MASKSIZE,
    "an SFD_ flag falls in the masksize range"
);

/// What the third argument of the unprefixed `signalfd` means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThirdArgument {
    /// The 2007 `masksize`: `third` (all of it) is in
    /// `MIN_MASKSIZE..=MAX_MASKSIZE`.
    MaskSize(usize),
    /// glibc's `flags`: the low 32 bits of `third` are 0 or a combination of
    /// `SFD_NONBLOCK` and `SFD_CLOEXEC`. Only the low half counts because
    /// glibc's parameter is an `int`: the calling convention leaves the upper
    /// half of the register unspecified, and the kernel truncates it too.
    GlibcFlags(c_int),
    /// Neither: the call fails.
    Invalid,
}

/// Decides which world a call of the unprefixed `signalfd` comes from.
pub fn classify_third(third: usize) -> ThirdArgument {
    if (MIN_MASKSIZE..=MAX_MASKSIZE).contains(&third) {
        return ThirdArgument::MaskSize(third);
    }
    // Truncation is the point: this is what glibc's `int flags` holds.
    let flags = third as u32 as c_int;
    if flags & !GLIBC_FLAGS == 0 {
        ThirdArgument::GlibcFlags(flags)
    } else {
        ThirdArgument::Invalid
    }
}

/// glibc's `signalfd(ufd, mask, flags)` exactly: signalfd4 with the
/// kernel's 8-byte set and the caller's pointer, so every result, flag and
/// errno (including `EFAULT` for a bad `mask`) is the kernel's.
pub fn create_or_replace_with_flags(
    ufd: RawFd,
    mask: *const libc::c_void,
    flags: c_int,
) -> Result<RawFd, Errno> {
    sys::kernel_objects::signalfd4_raw(ufd, mask, flags)
}

/// The error for a `third` that is neither a masksize nor glibc flags: the
/// errno glibc's `signalfd` gives for such flags. evfd makes glibc's very
/// system call, `signalfd4(ufd, mask, 8, flags)` with the caller's own
/// `flags` (glibc's `int`, the low half of `third`), so a seccomp filter or
/// an audit rule sees the call glibc would make. The kernel reads the mask
/// before it checks the flags, so the answer is `EFAULT` when `mask` is not
/// readable and `EINVAL` otherwise. These flags always have a bit outside
/// `SFD_NONBLOCK | SFD_CLOEXEC`, which no kernel accepts; should one ever
/// accept it, a new descriptor is closed and the call still refused.
pub fn refusal(ufd: RawFd, mask: *const libc::c_void, flags: c_int) -> Errno {
    match sys::kernel_objects::signalfd4_raw(ufd, mask, flags) {
        Err(e) => e,
        Ok(fd) => {
            if fd != ufd {
                // SAFETY: the kernel just created `fd` for us.
                drop(unsafe { OwnedFd::from_raw_fd(fd) });
            }
            Errno::EINVAL
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ThirdArgument::*;

    const NONBLOCK: usize = libc::SFD_NONBLOCK as usize;
    const CLOEXEC: usize = libc::SFD_CLOEXEC as usize;

    #[test]
    fn masksizes_take_the_2007_path() {
        assert_eq!(MAX_MASKSIZE, 128);
        for size in 8..=128 {
            assert_eq!(classify_third(size), MaskSize(size));
        }
    }

    #[test]
    fn glibc_flags_take_the_glibc_path() {
        assert_eq!(classify_third(0), GlibcFlags(0));
        assert_eq!(classify_third(NONBLOCK), GlibcFlags(libc::SFD_NONBLOCK));
        assert_eq!(classify_third(CLOEXEC), GlibcFlags(libc::SFD_CLOEXEC));
        assert_eq!(
            classify_third(NONBLOCK | CLOEXEC),
            GlibcFlags(libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
        );
    }

    #[test]
    fn upper_half_of_an_int_flags_register_is_ignored() {
        assert_eq!(
            classify_third(0xdead_beef_0000_0000 | CLOEXEC),
            GlibcFlags(libc::SFD_CLOEXEC)
        );
        assert_eq!(classify_third(0x1_0000_0000), GlibcFlags(0));
        // A masksize with garbage above it is neither.
        assert_eq!(classify_third(0x1_0000_0080), Invalid);
    }

    #[test]
    fn everything_else_is_invalid() {
        for third in 1..8 {
            assert_eq!(classify_third(third), Invalid);
        }
        for third in [
            129,
            0x7ff,
            0x801,
            NONBLOCK | 8,
            CLOEXEC | 128,
            0xffff_ffff,
            usize::MAX,
        ] {
            assert_eq!(classify_third(third), Invalid, "{third:#x}");
        }
    }

    #[test]
    fn refusal_reports_like_the_kernel() {
        let mask: KernelSigset = 0;
        let ptr = &mask as *const KernelSigset as *const libc::c_void;
        for flags in [-1, 1, 7, 0x100, libc::SFD_CLOEXEC | 1, c_int::MIN] {
            assert_eq!(refusal(-1, ptr, flags), Errno::EINVAL);
            assert_eq!(refusal(-1, core::ptr::null(), flags), Errno::EFAULT);
            // Flags are checked before the descriptor.
            assert_eq!(refusal(-7, ptr, flags), Errno::EINVAL);
        }
    }
}
