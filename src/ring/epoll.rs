// SPDX-License-Identifier: MIT OR Apache-2.0
//! The epoll backend, used where io_uring is refused (container seccomp
//! profiles, `kernel.io_uring_disabled`): fds in one level-triggered epoll
//! set, futex waits through helper threads in `futex_waitv`
//! ([`super::futex_waiters`]). Timers and signals need nothing of their own
//! here: the engine's clock timerfds and signalfd are fds like any other.

use super::completion::{Completion, Outcome};
use super::fd_identity::same_file_in;
use super::futex_waiters::FutexWaiters;
use super::sources::Token;
use crate::errno::Errno;
use crate::sys;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// The futex helpers' eventfd in the epoll set (a token no source has:
/// below the engine's first internal token's range end, reserved for
/// backends).
const TOKEN_FUTEX_RESULTS: Token = 15;

pub struct Epoll {
    epfd: OwnedFd,
    buf: Vec<libc::epoll_event>,
    /// Reports taken by `wait` and not yet reaped.
    ready: usize,
    futexes: Option<FutexWaiters>,
    futex_results: Vec<(Token, i32)>,
}

impl Epoll {
    pub fn new(entries: u32) -> Result<Epoll, Errno> {
        let cap = usize::try_from(entries.clamp(16, 4096)).unwrap_or(4096);
        Ok(Epoll {
            epfd: sys::epoll::epoll_create()?,
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; cap],
            ready: 0,
            futexes: None,
            futex_results: Vec::new(),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.epfd.as_raw_fd()
    }

    /// Watches `fd` for `events` (poll and epoll share the bit values on
    /// Linux), level-triggered.
    pub fn watch(&mut self, token: Token, fd: RawFd, events: u32) -> Result<(), Errno> {
        sys::epoll::epoll_add_or_take(self.fd(), fd, events, token)
    }

    /// The futex helpers' eventfd, once they exist.
    pub fn helper_fd(&self) -> Option<RawFd> {
        self.futexes.as_ref().map(FutexWaiters::wake_fd)
    }

    /// Whether `fd` is one of this backend's own descriptors.
    pub fn owns(&self, fd: RawFd) -> bool {
        fd == self.fd() || self.helper_fd() == Some(fd)
    }

    pub fn unwatch(&mut self, fd: RawFd) {
        // The caller may have closed the fd already (then the kernel removed
        // it from the set, or the number now names another file that is not
        // in the set): either way there is nothing left to undo.
        let _ = sys::epoll::epoll_ctl(self.fd(), libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    /// Whether `fd` still names the file watched under `token`.
    pub fn same_file(&self, token: Token, fd: RawFd, events: u32) -> bool {
        same_file_in(self.fd(), fd, events, token)
    }

    pub fn wait_futex(
        &mut self,
        token: Token,
        uaddr: *const u32,
        expected: u32,
    ) -> Result<(), Errno> {
        if self.futexes.is_none() {
            let waiters = FutexWaiters::new()?;
            sys::epoll::epoll_ctl(
                self.fd(),
                libc::EPOLL_CTL_ADD,
                waiters.wake_fd(),
                libc::EPOLLIN as u32,
                TOKEN_FUTEX_RESULTS,
            )?;
            self.futexes = Some(waiters);
        }
        match &mut self.futexes {
            Some(w) => w.add(token, uaddr, expected),
            None => Err(Errno::ENOMEM),
        }
    }

    pub fn cancel_futex(&mut self, token: Token) {
        if let Some(w) = &mut self.futexes {
            w.cancel(token);
        }
    }

    /// Moves up to `max` readiness reports into `out` without blocking.
    pub fn reap(&mut self, out: &mut Vec<Completion>, max: usize) -> Result<u64, Errno> {
        if self.ready == 0 {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let cap = max.clamp(1, self.buf.len());
            let buf = self.buf.get_mut(..cap).unwrap_or_default();
            self.ready = loop {
                match sys::epoll::epoll_wait(self.epfd.as_raw_fd(), buf, Some(&zero)) {
                    Err(Errno::EINTR) => continue,
                    other => break other?,
                }
            };
        }
        for ev in self.buf.get(..self.ready).unwrap_or_default() {
            if ev.u64 == TOKEN_FUTEX_RESULTS {
                if let Some(w) = &self.futexes {
                    w.take_results(&mut self.futex_results);
                }
                continue;
            }
            out.push(Completion {
                token: ev.u64,
                outcome: Outcome::Ready(ev.events),
            });
        }
        self.ready = 0;
        for (token, result) in self.futex_results.drain(..) {
            let outcome = if result == 0 {
                Outcome::Woken
            } else {
                Outcome::Failed(Errno(result))
            };
            out.push(Completion { token, outcome });
        }
        Ok(0)
    }

    /// Sleeps until a source is ready or the timeout; `EINTR` on a signal.
    pub fn wait(&mut self, timeout: Option<&libc::timespec>) -> Result<(), Errno> {
        self.ready = sys::epoll::epoll_wait(self.epfd.as_raw_fd(), &mut self.buf, timeout)?;
        Ok(())
    }

    /// In a child after `fork`: the helper threads are the parent's.
    pub fn abandon_threads(&mut self) {
        if let Some(w) = &mut self.futexes {
            w.abandon();
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        if let Some(w) = &mut self.futexes {
            w.stop();
        }
    }
}
