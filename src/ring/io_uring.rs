// SPDX-License-Identifier: MIT OR Apache-2.0
//! The io_uring backend: fd readiness through polls (multishot where the
//! ring reads the fd, one-shot and re-armed after each report otherwise,
//! for level semantics), eventfd and timerfd counts read by the kernel
//! (`IORING_OP_READ_MULTISHOT` into a ring of provided buffers), and futex
//! waits through `IORING_OP_FUTEX_WAIT`.
//!
//! Completions are read from the mapped completion queue through the
//! `io-uring` crate, which only loads the kernel's tail and stores the head
//! (atomics, no system call). Re-arms are queued and go to the kernel with
//! the next `io_uring_enter` the ring makes anyway (a wait, or a peek that
//! found nothing).

use super::completion::{Completion, Outcome};
use super::fd_identity::Identity;
use super::fd_reads::Reader;
use super::sources::{IntMap, Token};
use crate::errno::Errno;
use crate::sys;
use io_uring::types::BufRingEntry;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};

/// user_data of the ring's own cancellation requests, whose results are
/// not events.
const CANCEL: u64 = 0;

const FUTEX2_SIZE_U32: u32 = 0x02;
const FUTEX2_PRIVATE: u32 = 128;
const FUTEX_BITSET_MATCH_ANY: u64 = 0xffff_ffff;

/// One kernel-read count: an eventfd's or timerfd's 8 bytes.
const KBUF_LEN: usize = 8;
const BGID: u16 = 0;

/// The provided-buffer ring multishot reads take their buffers from: the
/// kernel picks a buffer per read and names it in the completion; the ring
/// copies the bytes out and hands the buffer back by advancing the tail
/// (a release store, no system call). There are as many buffers as
/// completion queue entries, so a burst of ready counters no larger than
/// the queue never runs out (`ENOBUFS` would end the multishot reads, each
/// then costing a re-arm).
struct BufRing {
    entries: *mut BufRingEntry,
    /// `count` buffers of `KBUF_LEN` bytes.
    bufs: *mut u8,
    /// A power of two, at most 32,768 (the kernel's limit).
    count: u16,
    tail: u16,
}

fn map_anonymous(len: usize) -> Result<*mut u8, Errno> {
    // SAFETY: a fresh private anonymous mapping; no existing memory touched.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(p.cast())
    }
}

impl BufRing {
    fn entries_len(count: u16) -> usize {
        usize::from(count).saturating_mul(core::mem::size_of::<BufRingEntry>())
    }

    fn bufs_len(count: u16) -> usize {
        usize::from(count).saturating_mul(KBUF_LEN)
    }

    /// A ring of `count` buffers (a power of two, 1..=32768).
    fn new(count: u16) -> Result<BufRing, Errno> {
        let entries = map_anonymous(BufRing::entries_len(count))?;
        let bufs = match map_anonymous(BufRing::bufs_len(count)) {
            Ok(b) => b,
            Err(e) => {
                // SAFETY: unmapping the mapping made just above.
                unsafe { libc::munmap(entries.cast(), BufRing::entries_len(count)) };
                return Err(e);
            }
        };
        let mut ring = BufRing {
            entries: entries.cast(),
            bufs,
            count,
            tail: 0,
        };
        for bid in 0..count {
            ring.put(bid);
        }
        ring.publish();
        Ok(ring)
    }

    fn tail_atomic(&self) -> &AtomicU16 {
        // SAFETY: the tail overlays entry 0's `resv` field (the crate's
        // `BufRingEntry::tail`), 2-byte aligned, inside the mapping, alive
        // as long as `self`; the kernel reads it, only we write it.
        unsafe { &*(BufRingEntry::tail(self.entries).cast::<AtomicU16>()) }
    }

    /// Writes buffer `bid` at the (private) tail; the kernel sees it after
    /// the next `publish`.
    fn put(&mut self, bid: u16) {
        let slot = usize::from(self.tail & self.count.wrapping_sub(1));
        let addr = self
            .bufs
            .wrapping_add(usize::from(bid).saturating_mul(KBUF_LEN)) as u64;
        // SAFETY: `slot` < count, so the entry is inside the mapping; the
        // setters write addr, len and bid, not `resv` (the tail in entry
        // 0); the kernel reads this entry only after the tail store in
        // `publish`.
        let entry = unsafe { &mut *self.entries.add(slot) };
        entry.set_addr(addr);
        entry.set_len(KBUF_LEN as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Hands every buffer put back since the last call to the kernel: one
    /// release store per batch of completions.
    fn publish(&self) {
        self.tail_atomic().store(self.tail, Ordering::Release);
    }

    /// Copies buffer `bid` out and puts it back (published by the caller).
    fn take(&mut self, bid: u16) -> Option<u64> {
        if bid >= self.count {
            return None;
        }
        let mut out = [0u8; KBUF_LEN];
        // SAFETY: buffer `bid` is inside the mapping; the kernel finished
        // writing it before posting the completion we read (acquire load of
        // the CQ tail).
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.bufs.add(usize::from(bid).saturating_mul(KBUF_LEN)),
                out.as_mut_ptr(),
                KBUF_LEN,
            )
        };
        self.put(bid);
        Some(u64::from_ne_bytes(out))
    }
}

impl Drop for Uring {
    /// Closing an io_uring cancels its requests only later, in a kernel
    /// worker: until then a futex wait of a freed ring would still take a
    /// FUTEX_WAKE meant for another waiter of the word. Cancelling every
    /// request now ends those waits before `evfd_ring_free` returns (futex
    /// and poll requests are cancelled during the submission itself), as
    /// the epoll backend's helper threads are joined. Before 5.19 the
    /// kernel refuses "any" (and has no io_uring futex waits either).
    fn drop(&mut self) {
        if self.forked {
            return;
        }
        let all = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL);
        // Not `push`: a drop must not loop on a full queue. One submit
        // makes room if the queue is full; then it is best effort.
        // SAFETY: a cancel entry carries no pointer.
        if unsafe { self.ring.submission().push(&all) }.is_err() {
            let _ = self.submit();
            // SAFETY: as above.
            let _ = unsafe { self.ring.submission().push(&all) };
        }
        let _ = self.submit();
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: our own mappings, with the sizes they were made with; the
        // io_uring (which may still use them) is closed before this runs
        // (field order in `Uring`).
        unsafe {
            libc::munmap(self.entries.cast(), BufRing::entries_len(self.count));
            libc::munmap(self.bufs.cast(), BufRing::bufs_len(self.count));
        }
    }
}

/// How an fd source is watched.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// The kernel reads the counter (multishot read).
    KernelRead,
    /// Multishot poll: the ring reads the fd, which ends its readiness.
    MultiPoll,
    /// One-shot poll, re-armed after each report.
    OneShotPoll,
}

#[derive(Clone, Copy)]
struct Armed {
    fd: RawFd,
    events: u32,
    watch: Watch,
}

pub struct Uring {
    ring: IoUring,
    /// Where multishot reads put their bytes; None where the kernel cannot
    /// (then the ring reads after a multishot poll). Declared after `ring`
    /// so the io_uring is closed first.
    bufs: Option<BufRing>,
    /// What each fd source is armed as (to re-arm and to cancel).
    armed: IntMap<Token, Armed>,
    /// Which file each watched fd number names (for closed-fd detection).
    identity: Identity,
    /// The kernel's count of completions it had to drop, last seen.
    dropped_seen: u32,
    /// Completion entries copied out of the queue, kept for reuse.
    cqes: Vec<(u64, i32, u32)>,
    /// In a child after `fork`: the in-flight requests are the parent's.
    forked: bool,
}

/// Whether `io_uring_setup` failed because io_uring is unavailable here
/// (disabled by sysctl, refused by seccomp, not built), rather than for a
/// resource shortage the epoll backend would hit too.
pub fn means_unavailable(e: Errno) -> bool {
    matches!(
        e.0,
        libc::EPERM | libc::ENOSYS | libc::EACCES | libc::EINVAL
    )
}

/// Linux 6.16+ gives each process a private futex hash, made when the
/// process gets its second thread (and resized as threads are added). An
/// io_uring futex wait armed before that sits in the global hash, and a
/// private FUTEX_WAKE issued after it looks in the new private hash: the
/// wake-up is lost (seen on 6.18). While the process has no private hash
/// yet (the prctl reports 0 slots), pinning it to the global hash, as every
/// kernel before 6.16 did, keeps waits and wakes in one table. Kernels
/// without the prctl (EINVAL) have only the global hash: nothing to do. A
/// process that already has a private hash keeps it.
fn avoid_futex_hash_trap() {
    if sys::futex::futex_hash_slots() == Ok(0) {
        // Best effort: if the kernel refuses, futex waits behave as the
        // kernel makes them behave; every other source is unaffected.
        let _ = sys::futex::set_futex_hash_slots(0);
    }
}

fn io_err(e: std::io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(libc::EIO))
}

const POLLIN_ONLY: u32 = (libc::POLLIN | libc::POLLRDNORM) as u32;

impl Uring {
    pub fn new(entries: u32) -> Result<Uring, Errno> {
        let ring = IoUring::builder()
            .setup_cqsize(entries.saturating_mul(2))
            .setup_clamp()
            .setup_submit_all()
            .build(entries)
            .map_err(io_err)?;
        if !ring.params().is_feature_nodrop() || !ring.params().is_feature_ext_arg() {
            // Too old a kernel to keep every completion and wait with a
            // timeout: treat like io_uring being unavailable.
            return Err(Errno::ENOSYS);
        }
        avoid_futex_hash_trap();
        let count = ring.params().cq_entries().clamp(256, 32768);
        let count = 1u16
            .checked_shl(31u32.saturating_sub(count.leading_zeros()).min(15))
            .unwrap_or(256);
        let bufs = BufRing::new(count).ok().filter(|b| {
            // SAFETY: the entries mapping stays valid until the io_uring is
            // closed (Uring's field order) and holds `b.count` entries.
            unsafe {
                ring.submitter()
                    .register_buf_ring_with_flags(b.entries as u64, b.count, BGID, 0)
                    .is_ok()
            }
        });
        Ok(Uring {
            ring,
            bufs,
            armed: IntMap::default(),
            identity: Identity::new()?,
            dropped_seen: 0,
            cqes: Vec::new(),
            forked: false,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// Whether `fd` is one of this backend's own descriptors.
    pub fn owns(&self, fd: RawFd) -> bool {
        fd == self.fd() || self.identity.owns(fd)
    }

    fn push(&mut self, entry: squeue::Entry) -> Result<(), Errno> {
        loop {
            // SAFETY: every pointer an entry carries (futex words) stays
            // valid until the request completes or is cancelled: the
            // caller's promise (evfd_ring_add_futex).
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            self.submit()?;
        }
    }

    pub fn submit(&mut self) -> Result<(), Errno> {
        {
            let sq = self.ring.submission();
            if sq.is_empty() && !sq.cq_overflow() && !sq.taskrun() {
                // Nothing to hand over or flush: no system call.
                return Ok(());
            }
        }
        loop {
            match self.ring.submit() {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                // The completion queue is full and its overflow list cannot
                // take more: the caller reaps first, submission waits.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => return Ok(()),
                Err(e) => return Err(io_err(e)),
            }
        }
    }

    fn arm_entry(&self, a: Armed) -> squeue::Entry {
        match a.watch {
            Watch::KernelRead => opcode::ReadMulti::new(types::Fd(a.fd), 0, BGID).build(),
            Watch::MultiPoll => opcode::PollAdd::new(types::Fd(a.fd), a.events)
                .multi(true)
                .build(),
            Watch::OneShotPoll => opcode::PollAdd::new(types::Fd(a.fd), a.events).build(),
        }
    }

    /// Watches `fd` for `events` under `token`.
    pub fn watch(
        &mut self,
        token: Token,
        fd: RawFd,
        events: u32,
        reader: Reader,
    ) -> Result<(), Errno> {
        let only_in = events & !POLLIN_ONLY == 0;
        let watch = match reader {
            // The kernel reads for us, one completion per read. (Not for
            // signalfds: a signalfd reads the signals of the task that
            // reads, and a multishot read may not run in ours.)
            Reader::Counter | Reader::NonblockingEventfd | Reader::Semaphore
                if only_in && self.bufs.is_some() =>
            {
                Watch::KernelRead
            }
            // A source the ring reads stops being ready when read, so a
            // multishot poll (one completion per wake-up) is level
            // semantics already.
            r if r.reads() && only_in => Watch::MultiPoll,
            _ => Watch::OneShotPoll,
        };
        let armed = Armed { fd, events, watch };
        self.armed.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        self.identity.add(fd, token, reader.reads())?;
        if let Err(e) = self.push(self.arm_entry(armed).user_data(token)) {
            self.identity.remove(fd, token, false);
            return Err(e);
        }
        self.armed.insert(token, armed);
        Ok(())
    }

    /// Stops watching the fd of `token` (`taken`: as `Backend::unwatch`).
    pub fn unwatch(&mut self, token: Token, taken: bool) {
        if let Some(a) = self.armed.remove(&token) {
            self.identity.remove(a.fd, token, taken);
            self.cancel(token);
        }
    }

    /// Whether `fd` still names the file watched under `token`.
    pub fn same_file(&mut self, token: Token, fd: RawFd) -> Result<bool, Errno> {
        self.identity.same_file(fd, token)
    }

    /// In a child after `fork`: leave the parent's requests alone.
    pub fn abandon(&mut self) {
        self.forked = true;
        self.identity.abandon();
    }

    fn cancel(&mut self, token: Token) {
        let entry = opcode::AsyncCancel::new(token).build().user_data(CANCEL);
        if self.push(entry).is_ok() {
            let _ = self.submit();
        }
    }

    /// Waits once for a private `FUTEX_WAKE` on `uaddr`.
    pub fn wait_futex(
        &mut self,
        token: Token,
        uaddr: *const u32,
        expected: u32,
    ) -> Result<(), Errno> {
        let entry = opcode::FutexWait::new(
            uaddr,
            u64::from(expected),
            FUTEX_BITSET_MATCH_ANY,
            FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
        )
        .build()
        .user_data(token);
        self.push(entry)?;
        self.submit()
    }

    pub fn cancel_futex(&mut self, token: Token) {
        self.cancel(token);
    }

    /// Turns one completion queue entry into what the engine hears, if
    /// anything; re-arms what the kernel ended and level semantics need.
    fn translate(&mut self, token: Token, result: i32, flags: u32, out: &mut Vec<Completion>) {
        let more = cqueue::more(flags);
        let Some(a) = self.armed.get(&token).copied() else {
            // A futex wait (not in `armed`): woken, refused, or cancelled.
            let outcome = match result {
                r if r >= 0 => Outcome::Woken,
                r if r == -libc::ECANCELED => return,
                r => Outcome::Failed(Errno(r.saturating_neg())),
            };
            out.push(Completion { token, outcome });
            return;
        };
        // Ends the kernel chose (out of buffers, cancelled by the kernel:
        // ours are unwatched first): nothing to report, re-armed below.
        let transient = matches!(
            result.saturating_neg(),
            libc::ENOBUFS | libc::EAGAIN | libc::ECANCELED | libc::EINTR
        );
        let outcome = if result < 0 {
            if transient {
                None
            } else {
                self.armed.remove(&token);
                self.identity.remove(a.fd, token, false);
                out.push(Completion {
                    token,
                    outcome: Outcome::Failed(Errno(result.saturating_neg())),
                });
                return;
            }
        } else if a.watch == Watch::KernelRead {
            match (cqueue::buffer_select(flags), &mut self.bufs) {
                (Some(bid), Some(bufs)) if result == 8 => bufs.take(bid).map(Outcome::Count),
                (Some(bid), Some(bufs)) => {
                    let _ = bufs.take(bid);
                    None
                }
                _ => None,
            }
        } else {
            Some(Outcome::Ready(result as u32))
        };
        if let Some(outcome) = outcome {
            out.push(Completion { token, outcome });
        }
        if !more {
            // A one-shot poll reported, or the kernel ended a multishot
            // request: watch again (submitted with the next enter).
            let _ = self.push(self.arm_entry(a).user_data(token));
        }
    }

    /// Moves up to `max` completions into `out`; returns how many the
    /// kernel reports it had to drop since the last call (only when it ran
    /// out of memory for its overflow list).
    pub fn reap(&mut self, out: &mut Vec<Completion>, max: usize) -> Result<u64, Errno> {
        let mut raw = std::mem::take(&mut self.cqes);
        raw.clear();
        loop {
            {
                let mut cq = self.ring.completion();
                for cqe in &mut cq {
                    // The cancellations' own results, and what a removed
                    // source's request says when cancelled, are not
                    // completions to count against `max`: a peek after many
                    // removals must still reach the events behind them.
                    let gone = cqe.result() == -libc::ECANCELED
                        && !self.armed.contains_key(&cqe.user_data());
                    if cqe.user_data() != CANCEL && !gone {
                        raw.push((cqe.user_data(), cqe.result(), cqe.flags()));
                    }
                    if raw.len() >= max {
                        break;
                    }
                }
            }
            let cq_overflow = self.ring.submission().cq_overflow();
            if raw.len() >= max || !cq_overflow {
                break;
            }
            // The queue is drained and the kernel holds overflowed
            // completions: an enter with GETEVENTS moves them in.
            self.submit()?;
            if self.ring.completion().is_empty() {
                break;
            }
        }
        for &(token, result, flags) in &raw {
            self.translate(token, result, flags, out);
        }
        self.cqes = raw;
        if let Some(bufs) = &self.bufs {
            bufs.publish();
        }
        let dropped = self.ring.completion().overflow();
        let lost = dropped.wrapping_sub(self.dropped_seen);
        self.dropped_seen = dropped;
        Ok(u64::from(lost))
    }

    /// Submits queued requests and sleeps until one completion or the
    /// timeout. `EINTR` when a signal handler ran.
    pub fn wait(&mut self, timeout: Option<&libc::timespec>) -> Result<(), Errno> {
        let result = match timeout {
            None => self.ring.submit_and_wait(1),
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(u64::try_from(t.tv_sec).unwrap_or(0))
                    .nsec(u32::try_from(t.tv_nsec).unwrap_or(0));
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIME) | Some(libc::EBUSY) => Ok(()),
                _ => Err(io_err(e)),
            },
        }
    }
}
