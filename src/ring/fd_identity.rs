// SPDX-License-Identifier: MIT OR Apache-2.0
//! Which file a watched fd number names. A caller may close a registered
//! fd without removing it and get the number back for another file; adding
//! that number again must then drop the old source (with one `EBADF`
//! event) instead of failing with `EEXIST` (DESIGN §4). Linux has no call
//! that says "this number still names that file", but epoll keys its
//! entries by (file, number): `EPOLL_CTL_MOD` on a number succeeds only if
//! that number's current file is the one in the set. The epoll backend asks
//! its own set; the io_uring backend keeps this small registry set (no
//! events are ever waited for on it).

use super::sources::Token;
use crate::errno::Errno;
use crate::sys;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Whether `fd` names the file registered under `token` in the epoll set
/// `epfd` with `events`. Re-sets the same events and token: a no-op for a
/// level-triggered entry.
pub fn same_file_in(epfd: RawFd, fd: RawFd, events: u32, token: Token) -> bool {
    sys::epoll::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, events, token).is_ok()
}

pub struct Registry {
    epfd: OwnedFd,
}

impl Registry {
    pub fn new() -> Result<Registry, Errno> {
        Ok(Registry {
            epfd: sys::epoll::epoll_create()?,
        })
    }

    /// Records that `fd` names its current file for `token`.
    pub fn add(&self, fd: RawFd, token: Token) -> Result<(), Errno> {
        sys::epoll::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, 0, token)
    }

    /// Forgets `fd` (nothing to do if its file is already gone).
    pub fn remove(&self, fd: RawFd) {
        let _ = sys::epoll::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    pub fn same_file(&self, fd: RawFd, token: Token) -> bool {
        same_file_in(self.epfd.as_raw_fd(), fd, 0, token)
    }
}
