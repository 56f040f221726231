// SPDX-License-Identifier: MIT OR Apache-2.0
//! The one place where the engine meets a backend: an enum over the two,
//! forwarding each request. The engine never asks which backend it runs
//! on; what differs between them is decided here or inside each backend.

use super::completion::Completion;
use super::epoll::Epoll;
use super::fd_reads::Reader;
use super::io_uring::{self, Uring};
use super::sources::Token;
use crate::errno::Errno;
use std::os::fd::RawFd;

/// Which kernel mechanism a ring runs on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BackendKind {
    IoUring,
    Epoll,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::IoUring => "io_uring",
            BackendKind::Epoll => "epoll",
        }
    }

    /// `EVFD_RING_BACKEND`: `io_uring`, `epoll`, or unset/empty (choose).
    fn forced() -> Result<Option<BackendKind>, Errno> {
        match std::env::var_os("EVFD_RING_BACKEND") {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) if v == "io_uring" => Ok(Some(BackendKind::IoUring)),
            Some(v) if v == "epoll" => Ok(Some(BackendKind::Epoll)),
            Some(_) => Err(Errno::EINVAL),
        }
    }
}

#[allow(clippy::large_enum_variant)] // one per ring, never moved in a hot path
pub enum Backend {
    IoUring(Uring),
    Epoll(Epoll),
}

impl Backend {
    /// io_uring where it works (or as forced), else epoll.
    pub fn new(entries: u32) -> Result<Backend, Errno> {
        Ok(match BackendKind::forced()? {
            Some(BackendKind::IoUring) => Backend::IoUring(Uring::new(entries)?),
            Some(BackendKind::Epoll) => Backend::Epoll(Epoll::new(entries)?),
            None => match Uring::new(entries) {
                Ok(u) => Backend::IoUring(u),
                Err(e) if io_uring::means_unavailable(e) => Backend::Epoll(Epoll::new(entries)?),
                Err(e) => return Err(e),
            },
        })
    }

    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::IoUring(_) => BackendKind::IoUring,
            Backend::Epoll(_) => BackendKind::Epoll,
        }
    }

    pub fn fd(&self) -> RawFd {
        match self {
            Backend::IoUring(u) => u.fd(),
            Backend::Epoll(e) => e.fd(),
        }
    }

    /// The descriptor the backend made for helper threads, if any (epoll:
    /// the futex helpers' eventfd).
    pub fn helper_fd(&self) -> Option<RawFd> {
        match self {
            Backend::IoUring(_) => None,
            Backend::Epoll(e) => e.helper_fd(),
        }
    }

    /// Whether `fd` is one of the backend's own descriptors.
    pub fn owns(&self, fd: RawFd) -> bool {
        match self {
            Backend::IoUring(u) => u.owns(fd),
            Backend::Epoll(e) => e.owns(fd),
        }
    }

    /// Watches `fd` for `events` under `token`; `reader` says whether the
    /// engine reads it (which ends its readiness) and what it is.
    pub fn watch(
        &mut self,
        token: Token,
        fd: RawFd,
        events: u32,
        reader: Reader,
    ) -> Result<(), Errno> {
        match self {
            Backend::IoUring(u) => u.watch(token, fd, events, reader),
            Backend::Epoll(e) => e.watch(token, fd, events),
        }
    }

    /// Stops watching `fd` for `token`. `taken`: the number now names
    /// another source's file or one of the ring's own descriptors (the
    /// source is stale), so nothing may be undone by number.
    pub fn unwatch(&mut self, token: Token, fd: RawFd, taken: bool) {
        match self {
            Backend::IoUring(u) => u.unwatch(token, taken),
            Backend::Epoll(e) if !taken => e.unwatch(fd),
            // The caller's file left the set when it was closed, or lingers
            // in it reporting for a token no source has.
            Backend::Epoll(_) => {}
        }
    }

    /// Whether `fd` still names the file watched under `token`.
    pub fn same_file(&mut self, token: Token, fd: RawFd, events: u32) -> Result<bool, Errno> {
        match self {
            Backend::IoUring(u) => u.same_file(token, fd),
            Backend::Epoll(e) => Ok(e.same_file(token, fd, events)),
        }
    }

    pub fn wait_futex(
        &mut self,
        token: Token,
        uaddr: *const u32,
        expected: u32,
    ) -> Result<(), Errno> {
        match self {
            Backend::IoUring(u) => u.wait_futex(token, uaddr, expected),
            Backend::Epoll(e) => e.wait_futex(token, uaddr, expected),
        }
    }

    pub fn cancel_futex(&mut self, token: Token) {
        match self {
            Backend::IoUring(u) => u.cancel_futex(token),
            Backend::Epoll(e) => e.cancel_futex(token),
        }
    }

    /// Hands queued requests to the kernel (no system call when none).
    pub fn submit(&mut self) -> Result<(), Errno> {
        match self {
            Backend::IoUring(u) => u.submit(),
            Backend::Epoll(_) => Ok(()),
        }
    }

    /// Up to `max` completions, without blocking; returns how many the
    /// kernel lost.
    pub fn reap(&mut self, out: &mut Vec<Completion>, max: usize) -> Result<u64, Errno> {
        match self {
            Backend::IoUring(u) => u.reap(out, max),
            Backend::Epoll(e) => e.reap(out, max),
        }
    }

    /// Whether looking for completions needs no system call (io_uring's
    /// mapped queue; epoll needs an `epoll_wait`).
    pub fn reaps_without_syscall(&self) -> bool {
        matches!(self, Backend::IoUring(_))
    }

    /// Sleeps until something completes or `timeout`; `EINTR` on a signal.
    pub fn wait(&mut self, timeout: Option<&libc::timespec>) -> Result<(), Errno> {
        match self {
            Backend::IoUring(u) => u.wait(timeout),
            Backend::Epoll(e) => e.wait(timeout),
        }
    }

    /// In a child after `fork`: forget threads and in-flight requests
    /// that are the parent's.
    pub fn abandon_threads(&mut self) {
        match self {
            Backend::IoUring(u) => u.abandon(),
            Backend::Epoll(e) => e.abandon_threads(),
        }
    }
}
