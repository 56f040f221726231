// SPDX-License-Identifier: MIT OR Apache-2.0
//! The 2.6.22 `eventfd(count)`: a kernel eventfd with no flags.

use crate::errno::Errno;
use crate::sys;
use libc::c_uint;
use std::os::fd::{IntoRawFd, RawFd};

/// A new eventfd whose counter starts at `count` (blocking, no
/// close-on-exec). Errors: `EMFILE`, `ENFILE`, `ENODEV`, `ENOMEM`.
pub fn create(count: c_uint) -> Result<RawFd, Errno> {
    Ok(sys::kernel_objects::eventfd2(count, 0)?.into_raw_fd())
}
