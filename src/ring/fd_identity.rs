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
//!   in the fixed file table of a small io_uring of its own ([`FileTable`]),
//!   and compares by installing it as a descriptor for a moment. An entry
//!   in an epoll set (even one waiting for no events) is called back on
//!   every wake-up of its file, which cost about 100 ns per eventfd event
//!   on io_uring (bench/EXPERIMENTS.md); a fixed file costs nothing there.
//!   Where the table is refused, full, or refuses a file (the kernel keeps
//!   io_uring descriptors out of fixed file tables), a [`Registry`] (an
//!   epoll set no one waits on) does it the epoll way.

use super::sources::{IntMap, Token};
use crate::errno::Errno;
use crate::sys;
use io_uring::{opcode, types, IoUring, Probe};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

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
        sys::epoll::epoll_add_or_take(self.epfd.as_raw_fd(), fd, 0, token)
    }

    /// Whether epoll would watch `fd`'s file: `EPERM` for one the kernel
    /// cannot poll (such as `/dev/null`), as the epoll backend answers.
    fn probe(&self, fd: RawFd) -> Result<(), Errno> {
        let epfd = self.epfd.as_raw_fd();
        match sys::epoll::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, 0, 0) {
            Ok(()) => {
                let _ = sys::epoll::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, 0, 0);
                Ok(())
            }
            Err(Errno(libc::EEXIST)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Forgets `fd` (nothing to do if its file is already gone).
    pub fn remove(&self, fd: RawFd) {
        let _ = sys::epoll::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    pub fn same_file(&self, fd: RawFd, token: Token) -> bool {
        same_file_in(self.epfd.as_raw_fd(), fd, 0, token)
    }
}

/// Slots in the [`FileTable`] (8 bytes of kernel memory each), or the
/// soft `RLIMIT_NOFILE` when the ring is made if that is lower (the kernel
/// refuses a larger table). Sources beyond them go to the [`Registry`].
const TABLE_SLOTS: u64 = 1024;

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

/// A two-entry io_uring used for nothing but its fixed file table: a slot
/// holds a reference to the file a watched number named when it was added
/// (`IORING_REGISTER_FILES_UPDATE`, no descriptor taken), and
/// `IORING_OP_FIXED_FD_INSTALL` (Linux 6.8) gives it back as a descriptor
/// to compare. A ring of its own, so that reading it back never mixes with
/// the completions of the ring the events come from.
pub struct FileTable {
    ring: IoUring,
    /// Its entry in `TABLE_FDS`.
    tracked: usize,
}

/// How many tables the fork handler can know of; a ring made when all are
/// taken keeps its identities in the epoll set only.
const TABLES_TRACKED: usize = 256;

/// The descriptor of every live table's io_uring (-1: free). A fixed file
/// table belongs to its io_uring, not to a task: a child forked without
/// `exec` would keep the parent's watched files open through its copy of
/// the descriptor, past the parent's exit. The child closes them at once
/// ([`close_tables_in_child`]); the mappings are not inherited at all
/// (`MADV_DONTFORK`).
static TABLE_FDS: [AtomicI32; TABLES_TRACKED] = [const { AtomicI32::new(-1) }; TABLES_TRACKED];

fn track(fd: RawFd) -> Option<usize> {
    TABLE_FDS.iter().position(|entry| {
        entry
            .compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

/// In the child of a `fork`, from the `pthread_atfork` handler: closes the
/// child's copies of the tables' descriptors, so that only the parent
/// keeps what they hold. Async-signal-safe (atomics and `close`). The
/// child's rings never use or close them again (they are forked).
pub fn close_tables_in_child() {
    for entry in TABLE_FDS.iter() {
        let fd = entry.swap(-1, Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: a descriptor this process inherited and no code of
            // the child uses.
            unsafe { libc::close(fd) };
        }
    }
}

impl FileTable {
    /// A table of `slots` slots; `None` where the kernel lacks what it
    /// needs or refuses the resources. Made inside a fork window: no child
    /// can copy its descriptor before it is recorded for the child handler.
    fn new(slots: u32) -> Option<FileTable> {
        let _window = super::fork::Window::open();
        FileTable::make(slots)
    }

    fn make(slots: u32) -> Option<FileTable> {
        let ring = IoUring::builder().dontfork().build(2).ok()?;
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
        let tracked = track(ring.as_raw_fd())?;
        Some(FileTable { ring, tracked })
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
        let tag = u64::from(slot).saturating_add(1);
        let entry = opcode::FixedFdInstall::new(types::Fixed(slot), 0)
            .build()
            .user_data(tag);
        // SAFETY: the entry carries no pointer.
        unsafe { self.ring.submission().push(&entry) }.map_err(|_| Errno(libc::EBUSY))?;
        loop {
            if let Some(installed) = self.take_installed(tag) {
                return installed;
            }
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(Errno(e.raw_os_error().unwrap_or(libc::EIO))),
            }
        }
    }

    /// The result of the install tagged `tag`, if it has completed;
    /// closes what any other (from an earlier call that gave up)
    /// installed.
    fn take_installed(&mut self, tag: u64) -> Option<Result<OwnedFd, Errno>> {
        let mut ours = None;
        for cqe in self.ring.completion() {
            let result = if cqe.result() >= 0 {
                // SAFETY: the kernel installed this descriptor for us and
                // nothing else knows it.
                Ok(unsafe { OwnedFd::from_raw_fd(cqe.result()) })
            } else {
                Err(Errno(cqe.result().saturating_neg()))
            };
            if cqe.user_data() == tag && ours.is_none() {
                ours = Some(result);
            }
        }
        ours
    }

    /// Drops every file the table holds (the io_uring's own teardown
    /// would do it later, in a kernel worker).
    fn clear(&self) {
        let _ = self.ring.submitter().unregister_files();
    }
}

/// The io_uring backend's record of which file each watched number names:
/// a slot of the [`FileTable`] per source where it can be had, else the
/// [`Registry`]. Both are made with the ring, so watching a number never
/// needs a descriptor later.
pub struct Identity {
    table: Option<FileTable>,
    /// Slots of `table` never used yet start here.
    next_slot: u32,
    slots: u32,
    /// Slots given back.
    free: Vec<u32>,
    /// The slot of each source held in the table (by token: a stale source
    /// and a new one can share a number).
    held: IntMap<Token, u32>,
    registry: Registry,
    /// In a child after `fork`: the table is the parent's too.
    forked: bool,
}

impl Identity {
    pub fn new() -> Result<Identity, Errno> {
        let limit = sys::fd_info::soft_nofile_limit().unwrap_or(0);
        let slots = u32::try_from(limit.clamp(1, TABLE_SLOTS)).unwrap_or(1);
        // Room for every slot given back, so `remove` never allocates.
        let mut free = Vec::new();
        free.try_reserve_exact(usize::try_from(slots).unwrap_or(1))
            .map_err(|_| Errno::ENOMEM)?;
        let registry = Registry::new()?;
        Ok(Identity {
            table: FileTable::new(slots),
            next_slot: 0,
            slots,
            free,
            held: IntMap::default(),
            registry,
            forked: false,
        })
    }

    /// Records that `fd` names its current file for `token`. `pollable`:
    /// the caller knows epoll would take the file (else the table path asks
    /// epoll first, so that both backends refuse the same files).
    pub fn add(&mut self, fd: RawFd, token: Token, pollable: bool) -> Result<(), Errno> {
        if let Some(table) = &self.table {
            let slot = self
                .free
                .last()
                .copied()
                .or_else(|| (self.next_slot < self.slots).then_some(self.next_slot));
            if let Some(slot) = slot {
                if !pollable {
                    self.registry.probe(fd)?;
                }
                if self.held.try_reserve(1).is_ok() && table.hold(slot, fd).is_ok() {
                    if self.free.pop().is_none() {
                        self.next_slot = self.next_slot.saturating_add(1);
                    }
                    self.held.insert(token, slot);
                    return Ok(());
                }
            }
        }
        self.registry.add(fd, token)
    }

    /// Forgets what was recorded for `token` (watched as `fd`). `taken`:
    /// the number now names another source's file or one of the ring's
    /// own, whose record must stay.
    pub fn remove(&mut self, fd: RawFd, token: Token, taken: bool) {
        match (self.held.remove(&token), &self.table) {
            (Some(slot), Some(table)) => {
                table.release(slot);
                self.free.push(slot);
            }
            _ if !taken => self.registry.remove(fd),
            _ => {}
        }
    }

    /// Whether `fd` still names the file recorded for it under `token`.
    pub fn same_file(&mut self, fd: RawFd, token: Token) -> Result<bool, Errno> {
        match (self.held.get(&token), &mut self.table) {
            (Some(&slot), Some(table)) => {
                let copy = table.copy_of(slot)?;
                same_description(copy.as_raw_fd(), fd)
            }
            _ => Ok(self.registry.same_file(fd, token)),
        }
    }

    /// Whether `fd` is one of the descriptors this record keeps.
    pub fn owns(&self, fd: RawFd) -> bool {
        self.registry.epfd.as_raw_fd() == fd
            || self
                .table
                .as_ref()
                .is_some_and(|t| t.ring.as_raw_fd() == fd)
    }

    /// In a child after `fork`: leave the parent's table alone.
    pub fn abandon(&mut self) {
        self.forked = true;
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        let Some(table) = self.table.take() else {
            return;
        };
        if self.forked {
            // Its descriptor was closed by the fork handler (the number may
            // name another file now) and its mappings were not inherited:
            // nothing of it may be closed or unmapped here.
            core::mem::forget(table);
            return;
        }
        table.clear();
    }
}

impl Drop for FileTable {
    /// Out of `TABLE_FDS` before its descriptor is closed (the fields are
    /// dropped after this), so the fork handler never closes a number
    /// that names another file by then.
    fn drop(&mut self) {
        if let Some(entry) = TABLE_FDS.get(self.tracked) {
            entry.store(-1, Ordering::SeqCst);
        }
    }
}
