//! The epoll backend, used where io_uring is refused: the ring is an epoll
//! set (level-triggered), timers are timerfds private to the ring, and
//! futex waits are not offered (`ENOSYS`: a helper thread per wait would be
//! the only way, and it could not be cancelled without waking other
//! waiters).

use super::{Completion, Source, SourceKind, TimerKind};
use crate::errno::Errno;
use crate::sys;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

pub(crate) struct Epoll {
    epfd: OwnedFd,
    buf: Vec<libc::epoll_event>,
    /// Reports taken by `wait` and not yet reaped.
    ready: usize,
}

impl Epoll {
    pub fn new(entries: u32) -> Result<Epoll, Errno> {
        Ok(Epoll {
            epfd: sys::epoll::epoll_create()?,
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; entries.clamp(16, 4096) as usize],
            ready: 0,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.epfd.as_raw_fd()
    }

    fn add(&self, fd: RawFd, events: u32, token: u64) -> Result<(), Errno> {
        sys::epoll::epoll_ctl(self.fd(), libc::EPOLL_CTL_ADD, fd, events, token)
    }

    pub fn arm(
        &mut self,
        token: u64,
        source: &mut Source,
        notify: RawFd,
        signalfd: RawFd,
    ) -> Result<(), Errno> {
        let pollin = libc::EPOLLIN as u32;
        match source.kind {
            SourceKind::Notify => self.add(notify, pollin, token),
            SourceKind::SignalFd => self.add(signalfd, pollin, token),
            // poll(2) and epoll share the bit values on Linux.
            SourceKind::Fd { fd, events, .. } => self.add(fd, events, token),
            SourceKind::Timer { clock, kind, when } => {
                let tfd = sys::kernel_objects::timerfd_create(
                    clock,
                    libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
                )?;
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                let spec = libc::itimerspec {
                    it_interval: if kind == TimerKind::Seq { when } else { zero },
                    it_value: when,
                };
                let flags = if kind == TimerKind::Abs {
                    libc::TFD_TIMER_ABSTIME
                } else {
                    0
                };
                sys::kernel_objects::timerfd_settime(tfd.as_raw_fd(), flags, &spec)?;
                self.add(tfd.as_raw_fd(), pollin, token)?;
                source.timer_fd = Some(tfd);
                Ok(())
            }
            SourceKind::Futex { .. } => Err(Errno::ENOSYS),
            SourceKind::Signal { .. } => Ok(()),
        }
    }

    pub fn disarm(&mut self, _token: u64, source: &Source) {
        let fd = match source.kind {
            SourceKind::Fd { fd, .. } => fd,
            SourceKind::Timer { .. } => match &source.timer_fd {
                // Closing the ring's own timerfd takes it out of the set.
                Some(_) => return,
                None => return,
            },
            _ => return,
        };
        // The caller may have closed the fd already (then the kernel removed
        // it from the set, or the number now names another file that is not
        // in the set): either way there is nothing left to undo.
        let _ = sys::epoll::epoll_ctl(self.fd(), libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    /// Moves up to `max` readiness reports into `out` without blocking.
    pub fn reap(&mut self, out: &mut Vec<Completion>, max: usize) -> Result<u64, Errno> {
        if self.ready == 0 {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let cap = max.min(self.buf.len());
            self.ready = loop {
                match sys::epoll::epoll_wait(self.fd(), &mut self.buf[..cap], Some(&zero)) {
                    Err(Errno::EINTR) => continue,
                    other => break other?,
                }
            };
        }
        for ev in &self.buf[..self.ready] {
            out.push(Completion {
                token: ev.u64,
                result: ev.events as i32,
                more: true,
                data: None,
            });
        }
        self.ready = 0;
        Ok(0)
    }

    /// Sleeps until a source is ready or the timeout; `EINTR` on a signal.
    pub fn wait(&mut self, timeout: Option<&libc::timespec>) -> Result<(), Errno> {
        let n = sys::epoll::epoll_wait(self.fd(), &mut self.buf, timeout)?;
        self.ready = n;
        Ok(())
    }
}
