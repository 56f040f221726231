//! The io_uring backend: multishot polls for fds (one-shot, re-armed, where
//! level semantics need it), multishot timeouts for periodic timers (no fd
//! per timer), `IORING_OP_FUTEX_WAIT` for futexes.
//!
//! Completions are read from the mapped completion queue through the
//! `io-uring` crate, which only loads the kernel's tail and stores the head
//! (atomics, no system call). Re-arms are queued and go to the kernel with
//! the next `io_uring_enter` the ring makes anyway (a wait, or a peek that
//! found nothing).

use super::{Completion, Reader, Source, SourceKind, TimerKind};
use crate::errno::Errno;
use crate::sys;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};

/// user_data of the ring's own cancellation requests, whose results are
/// not events.
const CANCEL: u64 = 0;

const FUTEX2_SIZE_U32: u32 = 0x02;
const FUTEX2_PRIVATE: u32 = 128;
const FUTEX_BITSET_MATCH_ANY: u64 = 0xffff_ffff;

/// The provided-buffer ring multishot reads take their buffers from: the
/// kernel picks a buffer per read and names it in the completion; the ring
/// copies the bytes out and hands the buffer back by advancing the tail
/// (a release store, no system call).
///
/// Only eventfd and timerfd counts are read this way (signalfds are polled,
/// see `arm`), so a buffer is [`KBUF_LEN`] bytes. There are as many buffers
/// as completion queue entries: a burst of ready sources larger than the
/// buffer count ends the multishot reads it cannot serve (`ENOBUFS`), and
/// each then costs a re-arm (a new request, a poll and a system call),
/// which with a fixed 256 buffers made a 1,024-source burst twice as slow
/// per event; a burst larger than the completion queue overflows it anyway.
struct BufRing {
    /// `count` `io_uring_buf` entries (16 bytes each); the tail is the
    /// `resv` field of entry 0 (offset 14).
    entries: *mut u8,
    /// `count` buffers of `KBUF_LEN` bytes.
    bufs: *mut u8,
    /// A power of two, at most 32,768 (the kernel's limit).
    count: u16,
    tail: u16,
}

/// One kernel-read count: an eventfd's or timerfd's 8 bytes.
const KBUF_LEN: usize = 8;
const BGID: u16 = 0;

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
    /// A ring of `count` buffers (a power of two, 1..=32768).
    fn new(count: u16) -> Result<BufRing, Errno> {
        debug_assert!(count.is_power_of_two());
        let entries = map_anonymous(count as usize * 16)?;
        let bufs = match map_anonymous(count as usize * KBUF_LEN) {
            Ok(b) => b,
            Err(e) => {
                // SAFETY: unmapping the mapping made just above.
                unsafe { libc::munmap(entries.cast(), count as usize * 16) };
                return Err(e);
            }
        };
        let mut ring = BufRing {
            entries,
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

    fn tail_ptr(&self) -> &AtomicU16 {
        // SAFETY: offset 14 of the page-aligned entries mapping is the
        // kernel-shared tail, 2-byte aligned, alive as long as `self`.
        unsafe { &*(self.entries.add(14) as *const AtomicU16) }
    }

    /// Writes buffer `bid` at the (private) tail; the kernel sees it after
    /// the next `publish`.
    fn put(&mut self, bid: u16) {
        let slot = (self.tail & (self.count - 1)) as usize;
        // SAFETY: `slot` < count, so the 14 bytes written (addr, len, bid;
        // not `resv`, which in entry 0 is the tail) are inside the mapping;
        // the kernel reads this entry only after the tail store in
        // `publish`.
        unsafe {
            let e = self.entries.add(slot * 16);
            let addr = self.bufs.add(bid as usize * KBUF_LEN) as u64;
            core::ptr::write_unaligned(e as *mut u64, addr);
            core::ptr::write_unaligned(e.add(8) as *mut u32, KBUF_LEN as u32);
            core::ptr::write_unaligned(e.add(12) as *mut u16, bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Hands every buffer put back since the last call to the kernel: one
    /// release store per batch of completions, not one per buffer.
    fn publish(&self) {
        self.tail_ptr().store(self.tail, Ordering::Release);
    }

    /// Copies buffer `bid` out and puts it back (published by the caller).
    fn take(&mut self, bid: u16) -> [u8; KBUF_LEN] {
        let mut out = [0u8; KBUF_LEN];
        if bid < self.count {
            // SAFETY: buffer `bid` is inside the mapping; the kernel
            // finished writing it before posting the completion we read
            // (acquire load of the CQ tail).
            unsafe {
                core::ptr::copy_nonoverlapping(
                    self.bufs.add(bid as usize * KBUF_LEN),
                    out.as_mut_ptr(),
                    KBUF_LEN,
                )
            };
            self.put(bid);
        }
        out
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: our own mappings, with the sizes they were made with; the
        // io_uring (which may still use them) is closed before this runs
        // (field order in `Uring`).
        unsafe {
            libc::munmap(self.entries.cast(), self.count as usize * 16);
            libc::munmap(self.bufs.cast(), self.count as usize * KBUF_LEN);
        }
    }
}

pub(crate) struct Uring {
    ring: IoUring,
    /// Where multishot reads put their bytes; None where the kernel cannot
    /// (then the ring reads after a multishot poll). Declared after `ring`
    /// so the io_uring is closed first.
    bufs: Option<BufRing>,
    /// Timeout specs the kernel reads at submission, kept per token.
    timespecs: HashMap<u64, Box<types::Timespec>>,
    /// The kernel's count of completions it had to drop, last seen.
    dropped_seen: u32,
}

/// Whether `io_uring_setup` failed because io_uring is unavailable here
/// (disabled by sysctl, refused by seccomp, not built), rather than for a
/// resource shortage the epoll backend would hit too.
pub(crate) fn means_unavailable(e: Errno) -> bool {
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
        let count = 1u16 << (31 - count.leading_zeros()).min(15);
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
            timespecs: HashMap::new(),
            dropped_seen: 0,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    fn push(&mut self, entry: squeue::Entry) -> Result<(), Errno> {
        loop {
            // SAFETY: every pointer an entry carries (timespecs, futex
            // words) stays valid until the request completes or is
            // cancelled: timespecs live in `self.timespecs`, futex words are
            // the caller's promise (evfd_ring_add_futex).
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

    pub fn arm(
        &mut self,
        token: u64,
        source: &mut Source,
        notify: RawFd,
        signalfd: RawFd,
    ) -> Result<(), Errno> {
        let pollin = libc::POLLIN as u32;
        let entry = match source.kind {
            SourceKind::Notify => opcode::PollAdd::new(types::Fd(notify), pollin)
                .multi(true)
                .build(),
            SourceKind::SignalFd => opcode::PollAdd::new(types::Fd(signalfd), pollin)
                .multi(true)
                .build(),
            SourceKind::Fd { fd, events, reader }
                if matches!(reader, Reader::Counter | Reader::Semaphore)
                    && self.bufs.is_some()
                    && events & !((libc::POLLIN | libc::POLLRDNORM) as u32) == 0 =>
            {
                // The kernel reads for us, one completion per read. (Not for
                // signalfds: a signalfd reads the signals of the task that
                // reads, and a multishot read may not run in ours.)
                opcode::ReadMulti::new(types::Fd(fd), 0, BGID).build()
            }
            SourceKind::Fd { fd, events, reader } => {
                // A source the ring reads stops being ready when read, so a
                // multishot poll (one completion per wake-up) is level
                // semantics already; anything else is re-armed per report.
                let multi = reader != Reader::None
                    && events & !((libc::POLLIN | libc::POLLRDNORM) as u32) == 0;
                opcode::PollAdd::new(types::Fd(fd), events)
                    .multi(multi)
                    .build()
            }
            SourceKind::Timer { clock, kind, when } => {
                let mut flags = match clock {
                    libc::CLOCK_REALTIME => types::TimeoutFlags::REALTIME,
                    libc::CLOCK_BOOTTIME => types::TimeoutFlags::BOOTTIME,
                    _ => types::TimeoutFlags::empty(),
                };
                match kind {
                    TimerKind::Abs => flags |= types::TimeoutFlags::ABS,
                    TimerKind::Seq => flags |= types::TimeoutFlags::MULTISHOT,
                    TimerKind::Rel => {}
                }
                let spec = Box::new(
                    types::Timespec::new()
                        .sec(when.tv_sec as u64)
                        .nsec(when.tv_nsec as u32),
                );
                let ptr: *const types::Timespec = &*spec;
                self.timespecs.insert(token, spec);
                opcode::Timeout::new(ptr).count(0).flags(flags).build()
            }
            SourceKind::Futex { uaddr, expected } => opcode::FutexWait::new(
                uaddr,
                expected as u64,
                FUTEX_BITSET_MATCH_ANY,
                FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
            )
            .build(),
            SourceKind::Signal { .. } => return Ok(()),
        };
        self.push(entry.user_data(token))
    }

    pub fn disarm(&mut self, token: u64, source: &Source) {
        if matches!(source.kind, SourceKind::Signal { .. }) {
            return;
        }
        // The timespec may still be needed if the timeout is not submitted
        // yet; keeping it until the ring is freed would leak per timer, so
        // it is dropped only after the cancel is submitted (below).
        let entry = opcode::AsyncCancel::new(token).build().user_data(CANCEL);
        if self.push(entry).is_ok() {
            let _ = self.submit();
        }
        self.timespecs.remove(&token);
    }

    pub fn reads_in_kernel(&self) -> bool {
        self.bufs.is_some()
    }

    /// Drops what the ring kept for a request that has ended by itself.
    pub fn forget(&mut self, token: u64) {
        self.timespecs.remove(&token);
    }

    /// Moves up to `max` completions into `out`; returns how many the
    /// kernel reports it had to drop since the last call (only when it ran
    /// out of memory for its overflow list).
    pub fn reap(&mut self, out: &mut Vec<Completion>, max: usize) -> Result<u64, Errno> {
        loop {
            {
                let mut cq = self.ring.completion();
                for cqe in &mut cq {
                    if cqe.user_data() == CANCEL {
                        continue;
                    }
                    let data = match (cqueue::buffer_select(cqe.flags()), &mut self.bufs) {
                        (Some(bid), Some(bufs)) => Some(bufs.take(bid)),
                        _ => None,
                    };
                    out.push(Completion {
                        token: cqe.user_data(),
                        result: cqe.result(),
                        more: cqueue::more(cqe.flags()),
                        data,
                    });
                    if out.len() >= max {
                        break;
                    }
                }
            }
            if let Some(bufs) = &self.bufs {
                bufs.publish();
            }
            if out.len() >= max || !self.ring.submission().cq_overflow() {
                break;
            }
            // The queue is drained and the kernel holds overflowed
            // completions: an enter with GETEVENTS moves them in.
            self.submit()?;
            if self.ring.completion().is_empty() {
                break;
            }
        }
        let dropped = self.ring.completion().overflow();
        let lost = dropped.wrapping_sub(self.dropped_seen);
        self.dropped_seen = dropped;
        Ok(lost as u64)
    }

    /// Submits queued requests and sleeps until one completion or the
    /// timeout. `EINTR` when a signal handler ran.
    pub fn wait(&mut self, timeout: Option<&libc::timespec>) -> Result<(), Errno> {
        let result = match timeout {
            None => self.ring.submit_and_wait(1),
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.tv_sec as u64)
                    .nsec(t.tv_nsec as u32);
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
