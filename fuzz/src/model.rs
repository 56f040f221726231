// SPDX-License-Identifier: MIT OR Apache-2.0
//! The descriptor table a fuzz input plays with, and the model of what each
//! descriptor is. Slots that were `dup2`ed share one object, as the kernel's
//! open file descriptions do.

use crate::bytes::Bytes;
use crate::process;
use evfd::ffi::fdcalls::{evfd_eventfd, evfd_signalfd, evfd_timerfd};
use libc::c_int;

/// Number of slots; inputs address them modulo this.
pub const SLOTS: usize = 6;

/// A slot that holds nothing uses this number plus its index: a descriptor
/// number that is certainly not open (nothing here opens 900 files).
const CLOSED_BASE: c_int = 900;

/// What an open descriptor is, as far as the checks care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Read end of a pipe whose write end is closed (reads EOF).
    Pipe,
    /// A regular file (memfd) or `/dev/null`: empty, reads EOF.
    File,
    /// An unconnected datagram socket: never readable.
    Socket,
    /// An empty epoll instance (a foreign kind for every evfd call, as the
    /// ring's own descriptor is): never readable.
    Epoll,
    /// A signalfd (evfd's or the kernel's) and its mask.
    Signalfd { mask: u64 },
    /// A timerfd and its clock.
    Timerfd { clock: c_int },
    /// An eventfd, its counter and whether it is in semaphore mode.
    Eventfd { count: u64, semaphore: bool },
    /// An eventfs descriptor (`evfd_eventfs_signalfd`): its signal, mode,
    /// the deliveries counted since the last read, and the descriptor
    /// number its registration belongs to (None once that number was
    /// closed or reused: the registration has ended, the count stays).
    Eventfs {
        signal: c_int,
        exclusive: bool,
        count: u64,
        registered: Option<c_int>,
    },
}

/// What `Make` puts in a slot.
#[derive(Clone, Copy, Debug)]
pub enum NewKind {
    Closed,
    Pipe,
    Memfd,
    DevNull,
    Socket,
    Epoll,
    EvfdSignalfd(u64),
    EvfdTimerfd(c_int, libc::timespec),
    EvfdEventfd(u32),
    KernelSignalfd(u64, c_int),
    KernelTimerfd(c_int, c_int),
    KernelEventfd(u32, c_int),
}

pub fn decode_kind(input: &mut Bytes) -> NewKind {
    let clocks = [
        libc::CLOCK_MONOTONIC,
        libc::CLOCK_REALTIME,
        libc::CLOCK_BOOTTIME,
    ];
    match input.u8() % 12 {
        0 => NewKind::Closed,
        1 => NewKind::Pipe,
        2 => NewKind::Memfd,
        3 => NewKind::DevNull,
        4 => NewKind::Socket,
        5 => NewKind::EvfdSignalfd(input.u64()),
        6 => {
            let clock = clocks[input.u8() as usize % 3];
            let nsec = if input.u8().is_multiple_of(2) {
                0
            } else {
                1 + input.u32() as i64 % 1_000_000
            };
            let when = libc::timespec {
                tv_sec: 0,
                tv_nsec: nsec as libc::c_long,
            };
            NewKind::EvfdTimerfd(clock, when)
        }
        7 => NewKind::EvfdEventfd(input.u32()),
        8 => {
            let flags = [0, libc::SFD_NONBLOCK, libc::SFD_CLOEXEC][input.u8() as usize % 3];
            NewKind::KernelSignalfd(input.u64(), flags)
        }
        9 => {
            let clock = [
                libc::CLOCK_MONOTONIC,
                libc::CLOCK_REALTIME,
                libc::CLOCK_BOOTTIME,
                libc::CLOCK_REALTIME_ALARM,
                libc::CLOCK_BOOTTIME_ALARM,
            ][input.u8() as usize % 5];
            let flags = [0, libc::TFD_NONBLOCK, libc::TFD_CLOEXEC][input.u8() as usize % 3];
            NewKind::KernelTimerfd(clock, flags)
        }
        10 => {
            let flags = [
                0,
                libc::EFD_SEMAPHORE,
                libc::EFD_NONBLOCK | libc::EFD_CLOEXEC,
            ][input.u8() as usize % 3];
            NewKind::KernelEventfd(input.u32(), flags)
        }
        _ => NewKind::Epoll,
    }
}

#[derive(Clone, Copy)]
struct Slot {
    fd: c_int,
    object: usize,
}

pub struct Table {
    slots: [Option<Slot>; SLOTS],
    objects: Vec<Kind>,
    /// The signals of eventfs registrations that ended since the last evfd
    /// call: evfd still holds their internal duplicates (and the handler)
    /// until its next call reclaims them (README "One descriptor per
    /// signal": lazy reclaim), so they are counted exactly.
    unreclaimed: Vec<c_int>,
    /// Those same registrations as (object, number): if `dup2` makes the
    /// number name the registration's file again before evfd's next call,
    /// evfd finds it naming its file and the registration goes on.
    released: Vec<(usize, c_int)>,
    /// See `take_restored`.
    restored: Vec<c_int>,
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

impl Table {
    pub fn new() -> Table {
        Table {
            slots: [None; SLOTS],
            objects: Vec::new(),
            unreclaimed: Vec::new(),
            released: Vec::new(),
            restored: Vec::new(),
        }
    }

    /// The slot an input byte names.
    pub fn slot(&self, byte: u8) -> usize {
        byte as usize % SLOTS
    }

    /// The descriptor number of a slot (a closed number if it is empty).
    pub fn fd(&self, slot: usize) -> c_int {
        match self.slots[slot] {
            Some(s) => s.fd,
            None => CLOSED_BASE + slot as c_int,
        }
    }

    pub fn kind(&self, slot: usize) -> Option<&Kind> {
        self.slots[slot].map(|s| &self.objects[s.object])
    }

    /// Changes the object behind `slot` (and so behind its duplicates).
    pub fn set_kind(&mut self, slot: usize, kind: Kind) {
        let s = self.slots[slot].expect("set_kind on an empty slot");
        self.objects[s.object] = kind;
    }

    /// Puts the new descriptor `fd` of `kind` in `slot`, closing what was
    /// there.
    pub fn adopt(&mut self, slot: usize, fd: c_int, kind: Kind) {
        self.close(slot);
        self.objects.push(kind);
        self.slots[slot] = Some(Slot {
            fd,
            object: self.objects.len() - 1,
        });
    }

    /// The descriptor number `fd` stops naming what it named: an eventfs
    /// registration made with that number ends (DESIGN §2.4: a plain
    /// `close()` ends it, a `dup` keeps only the count).
    fn release_number(&mut self, fd: c_int) {
        for (index, obj) in self.objects.iter_mut().enumerate() {
            if let Kind::Eventfs {
                registered, signal, ..
            } = obj
            {
                if *registered == Some(fd) {
                    *registered = None;
                    self.unreclaimed.push(*signal);
                    self.released.push((index, fd));
                }
            }
        }
    }

    /// `fd` names `object` again (through `dup2`): a registration made with
    /// that number that ended since evfd's last call goes on, because evfd
    /// only ever sees (at a delivery or at its next call) that the number
    /// names its file. While the number named something else it neither
    /// counted nor held the signal exclusive, as the model already says.
    fn revive_number(&mut self, object: usize, fd: c_int) {
        let Some(at) = self
            .released
            .iter()
            .position(|&(o, n)| o == object && n == fd)
        else {
            return;
        };
        self.released.remove(at);
        if let Kind::Eventfs {
            registered, signal, ..
        } = &mut self.objects[object]
        {
            *registered = Some(fd);
            if let Some(i) = self.unreclaimed.iter().position(|s| s == signal) {
                self.unreclaimed.remove(i);
            }
        }
    }

    /// Every evfd function starts by reclaiming ended registrations: call
    /// this just before calling one.
    pub fn evfd_called(&mut self) {
        self.released.clear();
        for sig in core::mem::take(&mut self.unreclaimed) {
            let live = self.objects.iter().any(|k| {
                matches!(k, Kind::Eventfs { signal, registered: Some(_), .. } if *signal == sig)
            });
            if !live && !self.restored.contains(&sig) {
                self.restored.push(sig);
            }
        }
    }

    /// The signals whose previous disposition evfd has put back since the
    /// last call of this (their last registration was reclaimed).
    pub fn take_restored(&mut self) -> Vec<c_int> {
        core::mem::take(&mut self.restored)
    }

    /// Registrations ended but not yet reclaimed (their signals).
    pub fn unreclaimed(&self) -> &[c_int] {
        &self.unreclaimed
    }

    /// Every object, live or not (eventfs accounting walks them).
    pub fn objects(&self) -> &[Kind] {
        &self.objects
    }

    /// Every object still reachable through a slot, once each.
    pub fn open_objects_mut(&mut self) -> Vec<&mut Kind> {
        let mut ids: Vec<usize> = self.slots.iter().flatten().map(|s| s.object).collect();
        ids.sort_unstable();
        ids.dedup();
        self.objects
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| ids.binary_search(i).is_ok())
            .map(|(_, k)| k)
            .collect()
    }

    /// How many slots hold an open descriptor.
    pub fn open_count(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    pub fn close(&mut self, slot: usize) {
        if let Some(s) = self.slots[slot].take() {
            self.release_number(s.fd);
            // SAFETY: the table owns this descriptor.
            assert_eq!(unsafe { libc::close(s.fd) }, 0, "close");
        }
    }

    pub fn close_all(&mut self) {
        for slot in 0..SLOTS {
            self.close(slot);
        }
    }

    /// `dup2(fd(from), fd(to))`; checks the kernel's answer against the
    /// model (EBADF from an empty slot).
    pub fn dup2(&mut self, from: usize, to: usize) {
        let (src, dst) = (self.fd(from), self.fd(to));
        // SAFETY: both numbers belong to the table (or are known closed).
        let r = unsafe { libc::dup2(src, dst) };
        match self.slots[from] {
            None => assert_eq!((r, process::errno()), (-1, libc::EBADF), "dup2 from closed"),
            Some(s) if from == to => assert_eq!(r, s.fd),
            Some(s) => {
                assert_eq!(r, dst, "dup2");
                // The number now names `from`'s file. If that is the file
                // it named already (a duplicate of it), an eventfs
                // registration made with the number goes on: evfd checks
                // that the number names its file, and it does.
                let same = self.slots[to].is_some_and(|t| t.object == s.object);
                if !same {
                    self.release_number(dst);
                }
                // dup2 closed whatever `to` held; the number now shares
                // `from`'s object.
                self.slots[to] = Some(Slot {
                    fd: dst,
                    object: s.object,
                });
                self.revive_number(s.object, dst);
            }
        }
    }

    /// Fills `slot` with a fresh descriptor of `kind`.
    pub fn make(&mut self, slot: usize, kind: NewKind) {
        if matches!(
            kind,
            NewKind::EvfdSignalfd(..) | NewKind::EvfdTimerfd(..) | NewKind::EvfdEventfd(..)
        ) {
            self.evfd_called();
        }
        let (fd, k) = match kind {
            NewKind::Closed => {
                self.close(slot);
                return;
            }
            NewKind::Pipe => {
                let mut p = [0; 2];
                // SAFETY: `p` has room for two descriptors.
                assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
                // SAFETY: we own the write end and drop it: reads see EOF.
                unsafe { libc::close(p[1]) };
                (p[0], Kind::Pipe)
            }
            NewKind::Memfd => {
                // SAFETY: NUL-terminated name.
                let fd = unsafe { libc::memfd_create(c"evfd-fuzz".as_ptr(), 0) };
                (fd, Kind::File)
            }
            NewKind::DevNull => {
                // SAFETY: NUL-terminated path.
                let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
                (fd, Kind::File)
            }
            NewKind::Socket => {
                // SAFETY: plain integer arguments.
                let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) };
                (fd, Kind::Socket)
            }
            NewKind::Epoll => {
                // SAFETY: plain integer argument.
                let fd = unsafe { libc::epoll_create1(0) };
                (fd, Kind::Epoll)
            }
            NewKind::EvfdSignalfd(mask) => {
                let set = mask.to_ne_bytes();
                // SAFETY: 8 readable bytes.
                let fd = unsafe { evfd_signalfd(-1, set.as_ptr().cast(), 8) };
                let mask = mask & !((1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1)));
                (fd, Kind::Signalfd { mask })
            }
            NewKind::EvfdTimerfd(clock, when) => {
                // SAFETY: `when` is a live timespec.
                let fd = unsafe { evfd_timerfd(-1, clock, 2, &when) };
                (fd, Kind::Timerfd { clock })
            }
            NewKind::EvfdEventfd(count) => (
                evfd_eventfd(count),
                Kind::Eventfd {
                    count: count.into(),
                    semaphore: false,
                },
            ),
            NewKind::KernelSignalfd(mask, flags) => {
                let set = mask.to_ne_bytes();
                // SAFETY: 8 readable bytes for the kernel to copy.
                let fd = unsafe { libc::syscall(libc::SYS_signalfd4, -1, set.as_ptr(), 8, flags) }
                    as c_int;
                let mask = mask & !((1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1)));
                (fd, Kind::Signalfd { mask })
            }
            NewKind::KernelTimerfd(clock, flags) => {
                // SAFETY: plain integer arguments.
                let mut fd =
                    unsafe { libc::syscall(libc::SYS_timerfd_create, clock, flags) } as c_int;
                let mut clock = clock;
                if fd < 0 {
                    // The alarm clocks need CAP_WAKE_ALARM.
                    clock = libc::CLOCK_MONOTONIC;
                    // SAFETY: as above.
                    fd = unsafe { libc::syscall(libc::SYS_timerfd_create, clock, flags) } as c_int;
                }
                (fd, Kind::Timerfd { clock })
            }
            NewKind::KernelEventfd(count, flags) => {
                // SAFETY: plain integer arguments.
                let fd = unsafe { libc::syscall(libc::SYS_eventfd2, count, flags) } as c_int;
                let semaphore = flags & libc::EFD_SEMAPHORE != 0;
                (
                    fd,
                    Kind::Eventfd {
                        count: count.into(),
                        semaphore,
                    },
                )
            }
        };
        assert!(fd >= 0, "making {kind:?}: errno {}", process::errno());
        self.adopt(slot, fd, k);
    }
}
