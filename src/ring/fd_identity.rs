// SPDX-License-Identifier: MIT OR Apache-2.0
//! Which file a watched fd number names. A caller may close a registered
//! fd without removing it and get the number back for another file; adding
//! that number again must then drop the old source (with one `EBADF`
//! event) instead of failing with `EEXIST` (DESIGN §4). Linux has no call
//! that says "this number still names that file", so each backend keeps a
//! reference it can compare with:
//!
//! - epoll keys its entries by (file, number): `EPOLL_CTL_MOD` on a number
//!   succeeds only if that number's current file is the one in the set. The
//!   epoll backend asks its own set ([`same_file_in`]).
//! - The io_uring backend keeps, where the kernel allows, the file itself
//!   in slot `fd` of a small io_uring's fixed file table ([`FileTable`]),
//!   and compares by installing it as a descriptor for a moment. An entry
//!   in an epoll set (even one waiting for no events) is called back on
//!   every wake-up of its file, which cost about 100 ns per eventfd event
//!   on io_uring (bench/EXPERIMENTS.md); a fixed file costs nothing there.
//!   Where the table is refused or too small for a number, a [`Registry`]
//!   (an epoll set no one waits on) does it the epoll way.

use super::sources::Token;
use crate::errno::Errno;
use crate::sys;
use io_uring::{opcode, types, IoUring, Probe};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Whether `fd` names the file registered under `token` in the epoll set
/// `epfd` with `events`. Re-sets the same events and token: a no-op for a
/// level-triggered entry.
pub fn same_file_in(epfd: RawFd, fd: RawFd, events: u32, token: Token) -> bool {
    sys::epoll::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, events, token).is_ok()
}

/// An epoll set that records (file, number) pairs; no events are ever
/// waited for on it.
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

/// Slots in a [`FileTable`] at most: 8 bytes of kernel memory each, taken
/// when the table is made. Numbers from here on go to a [`Registry`].
const MAX_SLOTS: u32 = 16384;

/// Whether descriptors `a` and `b` are the same open file description:
/// `fcntl(F_DUPFD_QUERY)` (Linux 6.10), else `kcmp(KCMP_FILE)`.
fn same_description(a: RawFd, b: RawFd) -> Result<bool, Errno> {
    match sys::signal_safe::same_file_as(a, b) {
        Err(Errno::EINVAL) => {
            sys::signal_safe::kcmp_same_file(sys::signal_safe::gettid_raw(), a, b)
        }
        other => other,
    }
}

/// A two-entry io_uring used for nothing but its fixed file table: slot
/// `fd` holds a reference to the file `fd` named when it was watched
/// (`IORING_REGISTER_FILES_UPDATE`, no descriptor taken), and
/// `IORING_OP_FIXED_FD_INSTALL` (Linux 6.8) gives it back as a descriptor
/// to compare. A ring of its own, so that reading it back never mixes with
/// the completions of the ring the events come from.
pub struct FileTable {
    ring: IoUring,
    slots: u32,
}

impl FileTable {
    /// A table as large as the soft `RLIMIT_NOFILE` allows, up to
    /// `MAX_SLOTS`; `None` where the kernel lacks what it needs (the
    /// caller then keeps a [`Registry`]).
    fn new() -> Option<FileTable> {
        let ring = IoUring::builder().build(2).ok()?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe).ok()?;
        if !probe.is_supported(opcode::FixedFdInstall::CODE) {
            return None;
        }
        // Some way to compare two descriptors must work (seccomp may
        // refuse both).
        if same_description(ring.as_raw_fd(), ring.as_raw_fd()) != Ok(true) {
            return None;
        }
        let slots = sys::fd_info::soft_nofile_limit()
            .ok()?
            .clamp(1, u64::from(MAX_SLOTS));
        let slots = u32::try_from(slots).ok()?;
        ring.submitter().register_files_sparse(slots).ok()?;
        Some(FileTable { ring, slots })
    }

    /// The slot for `fd`, if the table has one.
    fn slot(&self, fd: RawFd) -> Option<u32> {
        u32::try_from(fd).ok().filter(|s| *s < self.slots)
    }

    fn hold(&self, slot: u32, fd: RawFd) -> Result<(), Errno> {
        match self.ring.submitter().register_files_update(slot, &[fd]) {
            Ok(1) => Ok(()),
            Ok(_) => Err(Errno::EBADF),
            Err(e) => Err(Errno(e.raw_os_error().unwrap_or(libc::ENOMEM))),
        }
    }

    fn release(&self, slot: u32) {
        let _ = self.ring.submitter().register_files_update(slot, &[-1]);
    }

    /// The file in `slot` as a new (close-on-exec) descriptor.
    fn copy_of(&mut self, slot: u32) -> Result<OwnedFd, Errno> {
        // Completions of an earlier call that gave up: close what they
        // installed.
        for cqe in self.ring.completion() {
            if cqe.result() >= 0 {
                // SAFETY: the kernel installed this descriptor for us and
                // nothing else knows it.
                drop(unsafe { OwnedFd::from_raw_fd(cqe.result()) });
            }
        }
        let entry = opcode::FixedFdInstall::new(types::Fixed(slot), 0).build();
        // SAFETY: the entry carries no pointer.
        unsafe { self.ring.submission().push(&entry) }.map_err(|_| Errno(libc::EBUSY))?;
        loop {
            match self.ring.submit_and_wait(1) {
                Ok(_) => break,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(Errno(e.raw_os_error().unwrap_or(libc::EIO))),
            }
        }
        let installed = self
            .ring
            .completion()
            .next()
            .ok_or(Errno(libc::EIO))?
            .result();
        if installed < 0 {
            return Err(Errno(installed.saturating_neg()));
        }
        // SAFETY: as above.
        Ok(unsafe { OwnedFd::from_raw_fd(installed) })
    }

    /// Drops every file the table holds (the io_uring's own teardown
    /// would do it later, in a kernel worker).
    fn clear(&self) {
        let _ = self.ring.submitter().unregister_files();
    }
}

#[allow(clippy::large_enum_variant)] // one per ring, made once, never moved after
enum Table {
    Untried,
    Ready(FileTable),
    Refused,
}

/// The io_uring backend's record of which file each watched number names:
/// a [`FileTable`] where it can be had, a [`Registry`] for the rest. Both
/// are made on first use. A number goes to the table exactly when the
/// table has a slot for it, so every call finds it where `add` put it.
pub struct Identity {
    table: Table,
    registry: Option<Registry>,
    /// In a child after `fork`: the table is the parent's too.
    forked: bool,
}

impl Identity {
    pub fn new() -> Identity {
        Identity {
            table: Table::Untried,
            registry: None,
            forked: false,
        }
    }

    fn table(&mut self) -> Option<&mut FileTable> {
        if let Table::Untried = self.table {
            self.table = FileTable::new().map_or(Table::Refused, Table::Ready);
        }
        match &mut self.table {
            Table::Ready(t) => Some(t),
            _ => None,
        }
    }

    fn registry(&mut self) -> Result<&Registry, Errno> {
        if self.registry.is_none() {
            self.registry = Some(Registry::new()?);
        }
        self.registry.as_ref().ok_or(Errno::ENOMEM)
    }

    /// Records that `fd` names its current file for `token`.
    pub fn add(&mut self, fd: RawFd, token: Token) -> Result<(), Errno> {
        if let Some(t) = self.table() {
            if let Some(slot) = t.slot(fd) {
                return t.hold(slot, fd);
            }
        }
        self.registry()?.add(fd, token)
    }

    /// Forgets `fd`.
    pub fn remove(&mut self, fd: RawFd) {
        if let Table::Ready(t) = &self.table {
            if let Some(slot) = t.slot(fd) {
                t.release(slot);
                return;
            }
        }
        if let Some(r) = &self.registry {
            r.remove(fd);
        }
    }

    /// Whether `fd` still names the file recorded for it under `token`.
    pub fn same_file(&mut self, fd: RawFd, token: Token) -> Result<bool, Errno> {
        if let Table::Ready(t) = &mut self.table {
            if let Some(slot) = t.slot(fd) {
                let held = t.copy_of(slot)?;
                return same_description(held.as_raw_fd(), fd);
            }
        }
        Ok(self
            .registry
            .as_ref()
            .is_some_and(|r| r.same_file(fd, token)))
    }

    /// In a child after `fork`: leave the parent's table alone.
    pub fn abandon(&mut self) {
        self.forked = true;
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        if let (Table::Ready(t), false) = (&self.table, self.forked) {
            t.clear();
        }
    }
}
