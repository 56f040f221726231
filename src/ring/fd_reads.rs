// SPDX-License-Identifier: MIT OR Apache-2.0
//! What the ring reads from a ready fd for the caller: the count of an
//! eventfd or timerfd, the records of a signalfd (DESIGN §4 `add_fd`), and
//! how it tells which of those an fd is.

use super::event::Event;
use crate::errno::Errno;
use crate::sys;
use std::os::fd::RawFd;

/// How the ring treats an fd source once it is ready.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reader {
    /// Report readiness only.
    None,
    /// eventfd or timerfd: read the 8-byte count into `value`; one read
    /// empties it.
    Counter,
    /// An eventfd in non-blocking mode when it was added: as `Counter`,
    /// read with `read(2)`, which costs less than `preadv2(RWF_NOWAIT)`
    /// (no iovec to import) and cannot block on such a descriptor. (A
    /// timerfd is never read this way: re-arming it between its readiness
    /// and the read would make a blocking one block.)
    NonblockingEventfd,
    /// An `EFD_SEMAPHORE` eventfd: each read takes 1, so read until empty.
    Semaphore,
    /// signalfd: read `signalfd_siginfo` records, one event each.
    Signalfd,
}

impl Reader {
    /// The `Reader` for `fd`, from the kind of object it is.
    pub fn of(fd: RawFd) -> Result<Reader, Errno> {
        let mut buf = [0u8; 64];
        let n = sys::fd_info::fd_link(fd, &mut buf).unwrap_or(0);
        Ok(match buf.get(..n).unwrap_or_default() {
            b"anon_inode:[eventfd]" => {
                if sys::fd_info::fdinfo_value(fd, b"eventfd-semaphore:")? == Some(1) {
                    Reader::Semaphore
                } else if sys::fd_info::status_flags(fd)? & libc::O_NONBLOCK != 0 {
                    Reader::NonblockingEventfd
                } else {
                    Reader::Counter
                }
            }
            b"anon_inode:[timerfd]" => Reader::Counter,
            b"anon_inode:[signalfd]" => Reader::Signalfd,
            _ => Reader::None,
        })
    }

    /// Whether the ring reads this fd (so reading, not re-polling, ends its
    /// readiness).
    pub fn reads(self) -> bool {
        self != Reader::None
    }
}

/// Reads per readiness report before the rest is left for the next call,
/// so one busy semaphore eventfd or signalfd cannot starve everything else.
pub const READS_PER_REPORT: usize = 64;

/// `signalfd_siginfo` records taken per signalfd read. A read returns as
/// many whole records as are pending and fit, so one that returns fewer
/// has emptied the signalfd: no second read just to hear EAGAIN (a system
/// call per signal saved when signals come one at a time).
const SIGINFOS_PER_READ: usize = 8;
const SIGINFO_BYTES: usize = core::mem::size_of::<libc::signalfd_siginfo>();

/// How a round of reads ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// Nothing more to read now.
    Drained,
    /// `READS_PER_REPORT` reads done and there may be more.
    More,
    /// The read failed: the source is gone.
    Failed(Errno),
}

/// Reads what ready `fd` holds, at most `READS_PER_REPORT` reads; each
/// read becomes one event through `emit` (a counter's `Event::fd_count`,
/// or for a signalfd the siginfo fields, with `udata`).
#[inline(always)]
pub fn read_ready(fd: RawFd, reader: Reader, udata: u64, mut emit: impl FnMut(Event)) -> ReadEnd {
    if reader == Reader::Signalfd {
        return read_signalfd(fd, udata, emit);
    }
    let mut count = [0u8; 8];
    for _ in 0..READS_PER_REPORT {
        let read = if reader == Reader::NonblockingEventfd {
            sys::io::read(fd, &mut count)
        } else {
            sys::io::read_nowait(fd, &mut count)
        };
        match read {
            Ok(8) => {
                emit(Event::fd_count(udata, u64::from_ne_bytes(count)));
                // One read empties an eventfd or timerfd: no second read
                // just to hear EAGAIN.
                if matches!(reader, Reader::Counter | Reader::NonblockingEventfd) {
                    return ReadEnd::Drained;
                }
            }
            Ok(_) | Err(Errno::EAGAIN) => return ReadEnd::Drained,
            Err(e) => return ReadEnd::Failed(e),
        }
    }
    ReadEnd::More
}

/// `read_ready` for a signalfd: up to `SIGINFOS_PER_READ` records a read,
/// one event each.
fn read_signalfd(fd: RawFd, udata: u64, mut emit: impl FnMut(Event)) -> ReadEnd {
    let mut buf = [0u8; SIGINFOS_PER_READ * SIGINFO_BYTES];
    for _ in 0..READS_PER_REPORT {
        let n = match sys::io::read_nowait(fd, &mut buf) {
            Ok(n) => n,
            Err(Errno::EAGAIN) => return ReadEnd::Drained,
            Err(e) => return ReadEnd::Failed(e),
        };
        for record in buf.get(..n).unwrap_or_default().chunks_exact(SIGINFO_BYTES) {
            // SAFETY: the kernel wrote whole signalfd_siginfo records;
            // `record` is one of them, `SIGINFO_BYTES` long.
            let si: libc::signalfd_siginfo =
                unsafe { core::ptr::read_unaligned(record.as_ptr().cast()) };
            emit(Event::signal(udata, &si));
        }
        if n < buf.len() {
            return ReadEnd::Drained;
        }
    }
    ReadEnd::More
}
