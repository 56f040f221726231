// SPDX-License-Identifier: MIT OR Apache-2.0
//! Futex waits on the epoll backend (DESIGN §4 `add_futex`): helper threads
//! the ring owns, each sleeping in `futex_waitv(2)` on up to 127 of the
//! caller's words plus one word of its own, the *control word*. The ring
//! changes a thread's set (a new wait, a removal, the ring's end) by bumping
//! that thread's control word and waking it with `FUTEX_WAKE` on that word:
//! no wake-up meant for another waiter of the caller's words is ever taken
//! to cancel a wait. A woken or refused wait is handed to the ring through
//! a list and one write of an eventfd the epoll set watches.
//!
//! Semantics, as io_uring's `FUTEX_WAIT` has them, with one window. The
//! word is compared with `expected` when `add` is called, by the kernel (a
//! `futex_waitv` that does not sleep): if it differs, the event has
//! `error = EAGAIN` (`EFAULT` for an unmapped word), as io_uring reports
//! at submission. Otherwise a helper thread sleeps on it. If the word has
//! changed by the time the thread enters `futex_waitv`, the change came
//! after the wait was armed, and in the protocol of every futex user a
//! `FUTEX_WAKE` follows such a change: the thread reports the wait woken
//! (`error = 0`; like any futex wake-up, callers re-check the word). So a
//! wake-up that follows a change of the word is never lost. A `FUTEX_WAKE`
//! without a change of the word, issued between `add` returning and the
//! thread's sleep (microseconds), finds no waiter and is missed.
//!
//! Removal is synchronous: `cancel` returns only after the thread has left
//! the `futex_waitv` that held the word, so no wait of a removed source
//! lingers on a word the caller may reuse or unmap.
//!
//! Threads block every signal (they never take one meant for the program),
//! are made on the first wait, and are joined when the ring is freed.

use super::sources::Token;
use super::tsan::{Guard, Lock};
use crate::errno::Errno;
use crate::sys;
use crate::sys::futex::{FutexWaitv, FUTEX2_U32_PRIVATE, FUTEX_WAITV_MAX};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Caller's words per thread (one entry is the control word).
const WAITS_PER_THREAD: usize = FUTEX_WAITV_MAX - 1;

#[derive(Clone, Copy)]
struct Wait {
    token: Token,
    uaddr: usize,
    expected: u32,
}

/// What one helper thread and the ring share.
struct Helper {
    /// Bumped (and woken) by the ring whenever `waits` or `stop` changes.
    control: AtomicU32,
    /// The control value the thread last entered `futex_waitv` with, or
    /// saw on leaving it: the ring waits on this word for `cancel`.
    seen: AtomicU32,
    stop: AtomicBool,
    waits: Lock<Vec<Wait>>,
}

/// Results for the ring: (token, 0 or an errno).
struct Done {
    list: Lock<Vec<(Token, i32)>>,
    wake: OwnedFd,
}

pub struct FutexWaiters {
    done: Arc<Done>,
    helpers: Vec<(Arc<Helper>, Option<JoinHandle<()>>)>,
}

fn lock<T>(m: &Lock<T>) -> Guard<'_, T> {
    m.lock()
}

/// Whether this kernel has `futex_waitv` (checked once per process with a
/// wait that is refused at once).
pub fn supported() -> bool {
    static ANSWER: AtomicU32 = AtomicU32::new(0);
    match ANSWER.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let word = 0u32;
            let probe = [FutexWaitv {
                val: 1,
                uaddr: &word as *const u32 as u64,
                flags: FUTEX2_U32_PRIVATE,
                reserved: 0,
            }];
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let ok = !matches!(
                sys::futex::futex_waitv(&probe, Some(&zero)),
                Err(Errno::ENOSYS)
            );
            ANSWER.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
            ok
        }
    }
}

impl FutexWaiters {
    pub fn new() -> Result<FutexWaiters, Errno> {
        let wake = sys::kernel_objects::eventfd2(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)?;
        Ok(FutexWaiters {
            done: Arc::new(Done {
                list: Lock::new(Vec::new()),
                wake,
            }),
            helpers: Vec::new(),
        })
    }

    /// The eventfd that turns readable when results are waiting.
    pub fn wake_fd(&self) -> RawFd {
        self.done.wake.as_raw_fd()
    }

    /// Starts waiting on `uaddr` for `token`.
    pub fn add(&mut self, token: Token, uaddr: *const u32, expected: u32) -> Result<(), Errno> {
        if !supported() {
            return Err(Errno::ENOSYS);
        }
        let wait = Wait {
            token,
            uaddr: uaddr as usize,
            expected,
        };
        // Armed now: the kernel compares the word (without sleeping).
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match sys::futex::futex_waitv(&[entry(&wait)], Some(&zero)) {
            Err(Errno(libc::ETIMEDOUT)) | Err(Errno::EINTR) | Ok(_) => {}
            Err(e) => {
                let mut refused = vec![(token, e.0)];
                report(&self.done, &mut refused);
                return Ok(());
            }
        }
        let free = self
            .helpers
            .iter()
            .position(|(h, _)| lock(&h.waits).len() < WAITS_PER_THREAD);
        let index = match free {
            Some(i) => i,
            None => self.spawn()?,
        };
        let Some((helper, _)) = self.helpers.get(index) else {
            return Err(Errno::ENOMEM);
        };
        {
            let mut waits = lock(&helper.waits);
            waits.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            waits.push(wait);
        }
        // Return once the helper is about to sleep on the new set: what is
        // left of the window is the few instructions into the kernel.
        wait_seen(helper, poke(helper));
        Ok(())
    }

    /// Stops waiting for `token`; returns once no helper waits on its word.
    pub fn cancel(&mut self, token: Token) {
        for (helper, _) in &self.helpers {
            let had = {
                let mut waits = lock(&helper.waits);
                let before = waits.len();
                waits.retain(|w| w.token != token);
                waits.len() != before
            };
            if had {
                // Until the thread has seen the new control value it may
                // still sleep on the removed word.
                wait_seen(helper, poke(helper));
            }
        }
        // A result already reported for it is dropped by the ring (the
        // token is stale once the source is removed).
    }

    /// Moves the results reported so far into `out`; resets the eventfd.
    pub fn take_results(&self, out: &mut Vec<(Token, i32)>) {
        let mut buf = [0u8; 8];
        let _ = sys::io::read_nowait(self.done.wake.as_raw_fd(), &mut buf);
        out.append(&mut lock(&self.done.list));
    }

    fn spawn(&mut self) -> Result<usize, Errno> {
        let helper = Arc::new(Helper {
            control: AtomicU32::new(0),
            seen: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            waits: Lock::new(Vec::new()),
        });
        self.helpers.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        let (h, done) = (Arc::clone(&helper), Arc::clone(&self.done));
        // The thread inherits the mask in force when it is made: block
        // everything around the spawn so it never takes a signal.
        let all = all_signals();
        let old = sys::signals::thread_sigmask(libc::SIG_BLOCK, &all)?;
        let spawned = std::thread::Builder::new()
            .name("evfd-futex".into())
            .stack_size(64 * 1024)
            .spawn(move || run(&h, &done));
        let _ = sys::signals::thread_sigmask(libc::SIG_SETMASK, &old);
        let handle = spawned.map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EAGAIN)))?;
        self.helpers.push((helper, Some(handle)));
        Ok(self.helpers.len().saturating_sub(1))
    }

    /// Ends and joins every helper thread.
    pub fn stop(&mut self) {
        for (helper, handle) in &mut self.helpers {
            helper.stop.store(true, Ordering::Release);
            poke(helper);
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }

    /// In a child after `fork`: the threads do not exist here; forget them.
    pub fn abandon(&mut self) {
        for (_, handle) in &mut self.helpers {
            if let Some(h) = handle.take() {
                std::mem::forget(h);
            }
        }
    }
}

fn all_signals() -> libc::sigset_t {
    // SAFETY: sigfillset initialises the set it is given.
    unsafe {
        let mut set = core::mem::zeroed::<libc::sigset_t>();
        libc::sigfillset(&mut set);
        set
    }
}

/// The `futex_waitv` entry of a caller's wait.
fn entry(w: &Wait) -> FutexWaitv {
    FutexWaitv {
        val: u64::from(w.expected),
        uaddr: w.uaddr as u64,
        flags: FUTEX2_U32_PRIVATE,
        reserved: 0,
    }
}

/// Bumps a helper's control word and wakes it; returns the new value.
fn poke(helper: &Helper) -> u32 {
    let next = helper
        .control
        .fetch_add(1, Ordering::AcqRel)
        .wrapping_add(1);
    sys::futex::futex_wake_private(helper.control.as_ptr(), 1);
    next
}

/// Sleeps until the helper has seen control value `target` (it publishes
/// each value it is about to sleep with, or leaves with).
fn wait_seen(helper: &Helper, target: u32) {
    loop {
        let seen = helper.seen.load(Ordering::Acquire);
        if seen == target || helper.stop.load(Ordering::Acquire) {
            return;
        }
        let word = [FutexWaitv {
            val: u64::from(seen),
            uaddr: helper.seen.as_ptr() as u64,
            flags: FUTEX2_U32_PRIVATE,
            reserved: 0,
        }];
        let _ = sys::futex::futex_waitv(&word, None);
    }
}

/// Marks `value` as seen and wakes a `cancel` waiting for it.
fn see(helper: &Helper, value: u32) {
    helper.seen.store(value, Ordering::Release);
    sys::futex::futex_wake_private(helper.seen.as_ptr(), 1);
}

fn report(done: &Done, results: &mut Vec<(Token, i32)>) {
    if results.is_empty() {
        return;
    }
    lock(&done.list).append(results);
    let _ = sys::io::write_u64(done.wake.as_raw_fd(), 1);
}

/// A helper thread's loop.
fn run(helper: &Helper, done: &Done) {
    let mut entries: Vec<FutexWaitv> = Vec::with_capacity(FUTEX_WAITV_MAX);
    let mut tokens: Vec<Token> = Vec::with_capacity(FUTEX_WAITV_MAX);
    let mut results: Vec<(Token, i32)> = Vec::new();
    loop {
        let control = helper.control.load(Ordering::Acquire);
        if helper.stop.load(Ordering::Acquire) {
            see(helper, control);
            return;
        }
        entries.clear();
        tokens.clear();
        entries.push(FutexWaitv {
            val: u64::from(control),
            uaddr: helper.control.as_ptr() as u64,
            flags: FUTEX2_U32_PRIVATE,
            reserved: 0,
        });
        for w in lock(&helper.waits).iter() {
            entries.push(entry(w));
            tokens.push(w.token);
        }
        see(helper, control);
        match sys::futex::futex_waitv(&entries, None) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(i) => {
                if let Some(&token) = tokens.get(i.saturating_sub(1)) {
                    let mut waits = lock(&helper.waits);
                    let before = waits.len();
                    waits.retain(|w| w.token != token);
                    // Removed meanwhile: the ring no longer wants it.
                    if waits.len() != before {
                        results.push((token, 0));
                    }
                }
            }
            Err(Errno::EAGAIN) => {
                // Some word did not hold its value: the control word (the
                // set changed) or a caller's word, changed since its wait
                // was armed, which counts as woken. The words read here
                // are those of waits still registered (under the lock, so
                // a cancelled one is never touched).
                let mut waits = lock(&helper.waits);
                waits.retain(|w| {
                    // SAFETY: the caller keeps a registered wait's word
                    // mapped until its event or its removal, and removal
                    // takes this lock first.
                    let now =
                        unsafe { AtomicU32::from_ptr(w.uaddr as *mut u32) }.load(Ordering::Relaxed);
                    if now != w.expected {
                        results.push((w.token, 0));
                        false
                    } else {
                        true
                    }
                });
            }
            Err(_) => {
                // EFAULT (an unmapped word) or the like, which entry is not
                // said: ask the kernel about each word alone, at once.
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                let mut waits = lock(&helper.waits);
                waits.retain(|w| {
                    match sys::futex::futex_waitv(&[entry(w)], Some(&zero)) {
                        Err(Errno(libc::ETIMEDOUT)) | Err(Errno::EINTR) | Ok(_) => true,
                        // Changed since armed: woken, as above.
                        Err(Errno::EAGAIN) => {
                            results.push((w.token, 0));
                            false
                        }
                        Err(e) => {
                            results.push((w.token, e.0));
                            false
                        }
                    }
                });
            }
        }
        report(done, &mut results);
    }
}
