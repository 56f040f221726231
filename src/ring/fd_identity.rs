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
//!   in the fixed file table of a small io_uring ([`FileTable`], one per
//!   range of 1,024 numbers in use), and compares by installing it as a
//!   descriptor for a moment. An entry in an epoll set (even one waiting
//!   for no events) is called back on every wake-up of its file, which
//!   cost about 100 ns per eventfd event on io_uring (bench/EXPERIMENTS.md);
//!   a fixed file costs nothing there. Where tables are refused, and for
//!   numbers beyond them, a [`Registry`] (an epoll set no one waits on)
//!   does it the epoll way.

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

/// Slots per [`FileTable`] (8 bytes of kernel memory each), unless the
/// soft `RLIMIT_NOFILE` was lower when the first table was made (the kernel
/// refuses a table larger than that limit). Table *k* holds the numbers
/// from *k* × slots on, so a ring pays for the ranges its numbers are in.
const SLOTS_PER_TABLE: u64 = 1024;

/// Tables at most: numbers beyond them go to a [`Registry`].
const TABLES_MAX: usize = 16;

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

/// A two-entry io_uring used for nothing but its fixed file table: each
/// slot holds a reference to the file its number named when it was watched
/// (`IORING_REGISTER_FILES_UPDATE`, no descriptor taken), and
/// `IORING_OP_FIXED_FD_INSTALL` (Linux 6.8) gives it back as a descriptor
/// to compare. A ring of its own, so that reading it back never mixes with
/// the completions of the ring the events come from.
pub struct FileTable {
    ring: IoUring,
}

impl FileTable {
    /// A table of `slots` slots; `None` where the kernel lacks what it
    /// needs or refuses the resources.
    fn new(slots: u32) -> Option<FileTable> {
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
        ring.submitter().register_files_sparse(slots).ok()?;
        Some(FileTable { ring })
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

/// The io_uring backend's record of which file each watched number names:
/// [`FileTable`]s where they can be had, a [`Registry`] for the rest. Each
/// is made on first use. A number goes to the table for its range exactly
/// when that table exists (made for it, or before), so every call finds it
/// where `add` put it.
pub struct Identity {
    /// Table *k* holds the numbers from *k* × `slots` on.
    tables: Vec<Option<FileTable>>,
    /// Slots per table, fixed when the first one is made (0 before).
    slots: u32,
    /// The first table could not be made: the registry does it all.
    refused: bool,
    registry: Option<Registry>,
    /// In a child after `fork`: the tables are the parent's too.
    forked: bool,
}

impl Identity {
    pub fn new() -> Identity {
        Identity {
            tables: Vec::new(),
            slots: 0,
            refused: false,
            registry: None,
            forked: false,
        }
    }

    /// The table and slot that hold `fd`, if it has one (made now if
    /// need be).
    fn table_for(&mut self, fd: RawFd) -> Result<Option<(&mut FileTable, u32)>, Errno> {
        if self.refused {
            return Ok(None);
        }
        if self.slots == 0 {
            let limit = sys::fd_info::soft_nofile_limit().unwrap_or(0);
            self.slots = u32::try_from(limit.clamp(1, SLOTS_PER_TABLE)).unwrap_or(1);
        }
        let Some((index, slot)) = self.place(fd) else {
            return Ok(None);
        };
        if self.tables.len() <= index {
            self.tables.resize_with(index.saturating_add(1), || None);
        }
        let first = self.tables.iter().all(Option::is_none);
        let Some(entry) = self.tables.get_mut(index) else {
            return Ok(None);
        };
        if entry.is_none() {
            match FileTable::new(self.slots) {
                Some(t) => *entry = Some(t),
                None if first => {
                    self.refused = true;
                    return Ok(None);
                }
                None => return Err(Errno(libc::EMFILE)),
            }
        }
        Ok(entry.as_mut().map(|t| (t, slot)))
    }

    /// The table and slot that already hold `fd`, if any.
    fn held(&mut self, fd: RawFd) -> Option<(&mut FileTable, u32)> {
        let (index, slot) = self.place(fd)?;
        let table = self.tables.get_mut(index)?.as_mut()?;
        Some((table, slot))
    }

    /// Which table and slot number `fd` belongs to, if within the tables.
    fn place(&self, fd: RawFd) -> Option<(usize, u32)> {
        let fd = u32::try_from(fd).ok()?;
        let index = usize::try_from(fd.checked_div(self.slots)?).ok()?;
        (index < TABLES_MAX).then_some((index, fd.checked_rem(self.slots)?))
    }

    fn registry(&mut self) -> Result<&Registry, Errno> {
        if self.registry.is_none() {
            self.registry = Some(Registry::new()?);
        }
        self.registry.as_ref().ok_or(Errno::ENOMEM)
    }

    /// Records that `fd` names its current file for `token`.
    pub fn add(&mut self, fd: RawFd, token: Token) -> Result<(), Errno> {
        if let Some((table, slot)) = self.table_for(fd)? {
            return table.hold(slot, fd);
        }
        self.registry()?.add(fd, token)
    }

    /// Forgets `fd`.
    pub fn remove(&mut self, fd: RawFd) {
        if let Some((table, slot)) = self.held(fd) {
            table.release(slot);
        } else if let Some(r) = &self.registry {
            r.remove(fd);
        }
    }

    /// Whether `fd` still names the file recorded for it under `token`.
    pub fn same_file(&mut self, fd: RawFd, token: Token) -> Result<bool, Errno> {
        if let Some((table, slot)) = self.held(fd) {
            let copy = table.copy_of(slot)?;
            return same_description(copy.as_raw_fd(), fd);
        }
        Ok(self
            .registry
            .as_ref()
            .is_some_and(|r| r.same_file(fd, token)))
    }

    /// In a child after `fork`: leave the parent's tables alone.
    pub fn abandon(&mut self) {
        self.forked = true;
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        if !self.forked {
            for table in self.tables.iter().flatten() {
                table.clear();
            }
        }
    }
}
