// SPDX-License-Identifier: MIT OR Apache-2.0
//! The public ring: the part any thread may touch (posts) and the
//! consumer's part (everything else), with the checks every call makes
//! (fork, the consumer contract) and `wait`'s clock.
//!
//! Threads: one consumer thread calls everything except [`Ring::post`],
//! which any thread may call. The consumer's state sits in an `UnsafeCell`
//! that only [`Ring::consumer`] hands out, under that contract.

use super::backend::BackendKind;
use super::engine::Engine;
use super::event::Event;
use super::fork;
use super::posts::PostQueue;
use crate::errno::Errno;
use crate::sys;
use crate::timer_spec::{Clock, TimerType, When};
use std::cell::UnsafeCell;
use std::os::fd::RawFd;

pub struct Ring {
    posts: PostQueue,
    fixed: Fixed,
    engine: UnsafeCell<Engine>,
}

/// What every post reads, set once, on cache lines of its own: the
/// consumer writes the engine all the time, and a line shared with it
/// would move between CPUs on every post (measured: two-CPU messages
/// 31 -> 42 ns when a change of the engine's size moved a hot field next
/// to `generation`).
#[repr(align(64))]
struct Fixed {
    /// The notify eventfd's number, for producers (owned by the engine).
    notify_fd: RawFd,
    generation: u64,
    backend_kind: BackendKind,
}

// SAFETY: `posts` is a thread-safe queue and `fixed` plain values;
// the engine is only reached through `consumer()`, whose contract (one
// consumer thread, never concurrently) the C API documents.
unsafe impl Sync for Ring {}
// SAFETY: nothing in a ring is tied to the creating thread (the io_uring
// has no task-bound setup flags; the futex helper threads are the ring's).
unsafe impl Send for Ring {}

/// The default capacity: 4,096 sources ready at once fit the kernel's
/// completion queue (twice the submission queue).
const DEFAULT_ENTRIES: u32 = 2048;
const MAX_ENTRIES: u32 = 32768;

impl Ring {
    /// Creates a ring. `entries` is a capacity hint (0 = default), `flags`
    /// must be 0.
    pub fn new(entries: u32, flags: u32) -> Result<Ring, Errno> {
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        let entries = match entries {
            0 => DEFAULT_ENTRIES,
            n => n.min(MAX_ENTRIES),
        };
        let generation = fork::generation();
        let engine = Engine::new(entries)?;
        Ok(Ring {
            posts: PostQueue::new()?,
            fixed: Fixed {
                notify_fd: engine.notify_fd(),
                generation,
                backend_kind: engine.kind(),
            },
            engine: UnsafeCell::new(engine),
        })
    }

    fn check_fork(&self) -> Result<(), Errno> {
        if fork::forked_since(self.fixed.generation) {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    }

    pub fn backend(&self) -> BackendKind {
        self.fixed.backend_kind
    }

    /// Queues one user event; any thread. Wakes the consumer only when it
    /// asked for it.
    #[inline(always)]
    pub fn post(&self, udata: u64, value: u64) -> Result<(), Errno> {
        self.check_fork()?;
        if self.posts.push(udata, value)? {
            return self.wake_consumer();
        }
        Ok(())
    }

    /// The consumer asked for a wake-up: one write of the notify eventfd.
    /// Out of line, so that a post that owes none saves no registers.
    #[cold]
    #[inline(never)]
    fn wake_consumer(&self) -> Result<(), Errno> {
        // `evfd_ring_post` leaves `errno` to the calls it makes on success:
        // a write interrupted and retried must not show.
        let saved = crate::errno::get();
        sys::io::write_u64(self.fixed.notify_fd, 1)?;
        crate::errno::set(saved);
        Ok(())
    }

    /// The consumer's side, checked against use after fork.
    ///
    /// # Safety
    /// Only the one consumer thread may call this, and never while a
    /// reference it returned earlier is still in use.
    #[allow(clippy::mut_from_ref)] // the consumer contract above
    pub unsafe fn consumer(&self) -> Result<Consumer<'_>, Errno> {
        self.check_fork()?;
        Ok(Consumer {
            // SAFETY: exclusive by the caller's contract.
            engine: unsafe { &mut *self.engine.get() },
            posts: &self.posts,
        })
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if fork::forked_since(self.fixed.generation) {
            // In a child after fork: release only the child's copies of
            // the descriptors; the helper threads are the parent's.
            self.engine.get_mut().abandon_threads();
        }
    }
}

/// The consumer state together with the posts queue it drains.
pub struct Consumer<'a> {
    engine: &'a mut Engine,
    posts: &'a PostQueue,
}

/// A relative timeout as an absolute `CLOCK_MONOTONIC` deadline in
/// nanoseconds; `None` (wait forever) when it is beyond what the clock can
/// represent.
fn deadline_after(timeout: When) -> Option<u64> {
    let now = sys::clock::now_ns(libc::CLOCK_MONOTONIC);
    let span = sys::clock::timespec_ns(timeout.sec, timeout.nsec);
    now.checked_add(span).filter(|d| *d != u64::MAX)
}

impl Consumer<'_> {
    pub fn add_fd(&mut self, fd: RawFd, events: u32, udata: u64) -> Result<(), Errno> {
        self.engine.add_fd(fd, events, udata)
    }

    pub fn add_signal(&mut self, signo: i32, udata: u64) -> Result<(), Errno> {
        self.engine.add_signal(signo, udata)
    }

    pub fn add_timer(
        &mut self,
        clock: Clock,
        kind: TimerType,
        when: When,
        udata: u64,
    ) -> Result<(), Errno> {
        self.engine.add_timer(clock, kind, when, udata)
    }

    pub fn rearm_timer(&mut self, udata: u64, kind: TimerType, when: When) -> Result<(), Errno> {
        self.engine.rearm_timer(udata, kind, when)
    }

    /// # Safety
    /// `uaddr` must stay valid (mapped) until the event arrives or the
    /// source is removed; the kernel reads it.
    pub unsafe fn add_futex(
        &mut self,
        uaddr: *const u32,
        expected: u32,
        udata: u64,
    ) -> Result<(), Errno> {
        self.engine.add_futex(uaddr, expected, udata)
    }

    pub fn remove(&mut self, udata: u64) -> Result<(), Errno> {
        self.engine.remove(udata)
    }

    /// Copies up to `out.len()` pending events; never blocks.
    pub fn peek(&mut self, out: &mut [Event]) -> Result<usize, Errno> {
        let mut n = self.engine.collect(out, self.posts)?;
        if n == 0 {
            // Nothing pending in user memory: now a system call is fine, to
            // submit queued re-arms and flush a kernel-side overflow list.
            self.engine.submit()?;
            n = self.engine.collect(out, self.posts)?;
        }
        if n == 0 && self.posts.consumer_idle() {
            // Posts arrived while we asked producers to wake us.
            n = self.engine.collect(out, self.posts)?;
        }
        if n == 0 {
            self.engine.settle()?;
        }
        self.engine.keep_fd_readable(self.posts)?;
        Ok(n)
    }

    /// Like `peek`, but waits up to `timeout` (None: forever) for one event.
    pub fn wait(&mut self, out: &mut [Event], timeout: Option<When>) -> Result<usize, Errno> {
        // None: forever (no timeout, or one beyond the clock's range).
        let deadline = timeout.and_then(deadline_after);
        let mut yielded = false;
        loop {
            let n = self.peek(out)?;
            if n > 0 {
                return Ok(n);
            }
            // The earliest monotonic timer ends the sleep too (the kernel
            // keeps no timer for it unless `evfd_ring_fd` was asked for).
            let until = match (deadline, self.engine.next_monotonic_deadline()) {
                (Some(d), Some(t)) => Some(d.min(t)),
                (d, t) => d.or(t),
            };
            let left = match until {
                None => None,
                Some(until) => {
                    let now = sys::clock::now_ns(libc::CLOCK_MONOTONIC);
                    if deadline.is_some_and(|d| now >= d) {
                        return Ok(0);
                    }
                    Some(sys::clock::ns_timespec(until.saturating_sub(now)))
                }
            };
            // Offer the CPU once before sleeping: a producer that shares
            // this CPU then fills the posts queue for a whole time slice
            // instead of being preempted by every wake-up it sends (on a
            // CPU with nothing else to run the yield returns at once).
            if !yielded {
                yielded = true;
                sys::signal_safe::yield_now();
                continue;
            }
            yielded = false;
            self.engine.sleep(left.as_ref())?;
        }
    }

    /// The descriptor that polls readable while events are pending.
    pub fn fd(&mut self) -> RawFd {
        let fd = self.engine.export_fd();
        // The caller may poll it before ever peeking (which is what asks
        // producers for a wake-up): ask now, and if posts came first, make
        // it readable. The notify eventfd cannot refuse a write of 1 unless
        // it is already readable.
        self.posts.consumer_idle();
        let _ = self.engine.keep_fd_readable(self.posts);
        fd
    }
}
