//! The event ring (DESIGN §4, man/man3/evfd_ring.3): decodes the bytes into
//! a sequence of ring operations on one ring, on the io_uring backend, the
//! epoll backend, or both in turn (the first byte chooses), and checks:
//!
//! - no crash, no ASan report;
//! - every call fails exactly when the model says a documented error
//!   applies, with an errno from that set, and leaves errno alone on success;
//! - every event is well-formed: kind 1..5 matching what its udata was
//!   registered as (or the documented kind-0 EOVERFLOW record), reserved
//!   bytes zero, error 0 (or EAGAIN for a futex armed on a changed word),
//!   a udata whose source is still registered (events of removed sources
//!   are discarded) or that was posted;
//! - every post arrives exactly once with its value (never lost, never
//!   coalesced, never duplicated), also after other sources were removed;
//! - after evfd_ring_free and closing the harness's descriptors, the
//!   process has exactly the descriptors, signal mask and dispositions it
//!   had before.
#![no_main]

use evfd::ffi::fdcalls::evfd_eventfd;
use evfd::ffi::ring::*;
use evfd_fuzz::{Bytes, ProcessState};
use libc::c_int;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Once;

const SENTINEL: c_int = 0x5eed;
const MAX_OPS: usize = 48;
const BUF: usize = 64;

fn errno() -> c_int {
    // SAFETY: the thread's errno location is always valid.
    unsafe { *libc::__errno_location() }
}

fn set_errno(v: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = v };
}

/// The signals this target blocks for its whole run and raises at itself:
/// harmless ones (SIGURG, SIGWINCH are ignored by default) and two realtime
/// ones; never SIGUSR1/2 or SIGALRM (libFuzzer's).
fn signals() -> [c_int; 4] {
    [
        libc::SIGURG,
        libc::SIGWINCH,
        libc::SIGRTMIN() + 4,
        libc::SIGRTMIN() + 5,
    ]
}

fn init_once() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: plain signal-mask calls on a local set.
        unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in signals() {
                libc::sigaddset(&mut set, s);
            }
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, core::ptr::null_mut()),
                0
            );
        }
    });
}

/// Takes every pending harness signal so the next input starts clean.
fn drain_signals() {
    // SAFETY: sigtimedwait with a zero timeout on a local set of signals
    // that are blocked.
    unsafe {
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals() {
            libc::sigaddset(&mut set, s);
        }
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut info: libc::siginfo_t = core::mem::zeroed();
        while libc::sigtimedwait(&set, &mut info, &zero) > 0 {}
    }
}

/// Asserts a call's outcome: success iff `errs` is empty, else -1 and an
/// errno from `errs`. Returns whether it succeeded.
fn check(name: &str, ret: c_int, err: c_int, errs: &[c_int]) -> bool {
    if errs.is_empty() {
        assert!(ret >= 0, "{name}: expected success, got errno {err}");
        assert_eq!(err, SENTINEL, "{name}: success changed errno");
        true
    } else {
        assert_eq!(ret, -1, "{name}: expected one of {errs:?}, got {ret}");
        assert!(errs.contains(&err), "{name}: errno {err} not in {errs:?}");
        false
    }
}

/// Like [`check`] but some outcomes are allowed both ways (a one-shot
/// source may or may not have fired and gone).
fn check_maybe(name: &str, ret: c_int, err: c_int, errs: &[c_int]) -> bool {
    if ret >= 0 {
        assert_eq!(err, SENTINEL, "{name}: success changed errno");
        true
    } else {
        assert_eq!(ret, -1);
        assert!(errs.contains(&err), "{name}: errno {err} not in {errs:?}");
        false
    }
}

fn call(f: impl FnOnce() -> c_int) -> (c_int, c_int) {
    set_errno(SENTINEL);
    let r = f();
    (r, errno())
}

/// The descriptors an input may hand to evfd_ring_add_fd.
struct Fds {
    pipe: [c_int; 2],
    eventfd: c_int,
    evfd_eventfd: c_int,
    timerfd: c_int,
    signalfd: c_int,
    file: c_int,
    dir: c_int,
}

impl Fds {
    fn open() -> Fds {
        // SAFETY: plain descriptor-creating syscalls into locals.
        unsafe {
            let mut pipe = [0; 2];
            assert_eq!(libc::pipe2(pipe.as_mut_ptr(), libc::O_NONBLOCK), 0);
            let eventfd = libc::syscall(libc::SYS_eventfd2, 0, libc::EFD_NONBLOCK) as c_int;
            let evfd_eventfd = evfd_eventfd(0);
            let timerfd = libc::syscall(
                libc::SYS_timerfd_create,
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK,
            ) as c_int;
            let mut mask: u64 = 1 << (libc::SIGRTMIN() + 5 - 1);
            let signalfd = libc::syscall(
                libc::SYS_signalfd4,
                -1,
                &mut mask as *mut u64,
                8usize,
                libc::SFD_NONBLOCK,
            ) as c_int;
            let file = libc::memfd_create(c"evfd-ring-fuzz".as_ptr(), 0);
            let dir = libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            let f = Fds {
                pipe,
                eventfd,
                evfd_eventfd,
                timerfd,
                signalfd,
                file,
                dir,
            };
            for fd in f.all() {
                assert!(fd >= 0, "creating the harness descriptors");
            }
            f
        }
    }

    fn all(&self) -> [c_int; 8] {
        [
            self.pipe[0],
            self.pipe[1],
            self.eventfd,
            self.evfd_eventfd,
            self.timerfd,
            self.signalfd,
            self.file,
            self.dir,
        ]
    }

    fn close(&self) {
        for fd in self.all() {
            // SAFETY: closing descriptors this harness opened.
            unsafe { libc::close(fd) };
        }
    }
}

/// What a udata was registered as (the kinds its events may have).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Src {
    Fd,
    SignalFd,
    Signal,
    Timer,
    OneShotTimer,
    Futex,
}

struct Model {
    epoll: bool,
    /// udata → kinds of sources registered under it and not removed.
    live: BTreeMap<u64, BTreeSet<Src>>,
    /// Descriptors watched (EEXIST on a second add).
    watched: BTreeMap<c_int, u64>,
    /// Posts not yet received: (udata, value).
    posts: BTreeSet<(u64, u64)>,
    next_value: u64,
    received_posts: u64,
    sent_posts: u64,
}

impl Model {
    fn check_events(&mut self, evs: &[evfd_event]) {
        for ev in evs {
            assert!(
                ev.reserved.iter().all(|&b| b == 0),
                "reserved bytes: {}",
                show(ev)
            );
            if ev.kind == 0 {
                assert_eq!(ev.error, libc::EOVERFLOW, "kind-0 event: {}", show(ev));
                continue;
            }
            if ev.kind == EVFD_KIND_USER {
                assert_eq!(ev.error, 0);
                assert!(
                    self.posts.remove(&(ev.udata, ev.value)),
                    "a USER event that was not posted or came twice: {}",
                    show(ev)
                );
                self.received_posts += 1;
                continue;
            }
            let kinds = self.live.get(&ev.udata).unwrap_or_else(|| {
                panic!("an event for a udata with no live source: {}", show(ev))
            });
            let ok = kinds.iter().any(|s| match s {
                Src::Fd => ev.kind == EVFD_KIND_FD && ev.error == 0,
                Src::SignalFd => {
                    (ev.kind == EVFD_KIND_FD || ev.kind == EVFD_KIND_SIGNAL) && ev.error == 0
                }
                Src::Signal => ev.kind == EVFD_KIND_SIGNAL && ev.error == 0,
                Src::Timer | Src::OneShotTimer => {
                    ev.kind == EVFD_KIND_TIMER && ev.error == 0 && ev.value >= 1
                }
                Src::Futex => {
                    ev.kind == EVFD_KIND_FUTEX && (ev.error == 0 || ev.error == libc::EAGAIN)
                }
            });
            assert!(
                ok,
                "event does not match its sources {kinds:?}: {}",
                show(ev)
            );
            if ev.kind == EVFD_KIND_SIGNAL {
                assert!(
                    signals().contains(&(ev.signo as c_int)),
                    "a signal the harness never raised: {}",
                    show(ev)
                );
            }
            if ev.kind == EVFD_KIND_FD {
                assert_ne!(ev.revents, 0, "an FD event with no revents: {}", show(ev));
            }
        }
    }
}

fn zero_event() -> evfd_event {
    // SAFETY: evfd_event is plain integers; all-zero is a valid value.
    unsafe { core::mem::zeroed() }
}

fn show(ev: &evfd_event) -> String {
    format!(
        "udata {} kind {} error {} value {} revents {:#x} signo {} code {} reserved {:?}",
        ev.udata, ev.kind, ev.error, ev.value, ev.revents, ev.signo, ev.code, ev.reserved
    )
}

fn decode_udata(input: &mut Bytes) -> u64 {
    match input.u8() % 8 {
        0 => u64::MAX,
        1 => input.u64(),
        n => n as u64,
    }
}

fn decode_timespec(input: &mut Bytes) -> libc::timespec {
    const SECS: [i64; 8] = [0, 1, -1, i64::MAX, i64::MIN, 1 << 33, 9_223_372_036, 3600];
    const NSECS: [i64; 8] = [
        0,
        1,
        999_999_999,
        1_000_000_000,
        -1,
        i64::MAX,
        5_000_000,
        100_000,
    ];
    let (s, ns) = match input.u8() % 4 {
        0 => (0, 1_000_000 * (1 + input.u8() as i64 % 30)), // short real timers
        1 => (
            SECS[input.u8() as usize % 8],
            NSECS[input.u8() as usize % 8],
        ),
        _ => (input.u64() as i64, input.u64() as i64),
    };
    libc::timespec {
        tv_sec: s,
        tv_nsec: ns,
    }
}

fn valid_ts(t: &libc::timespec) -> bool {
    t.tv_sec >= 0 && (0..1_000_000_000).contains(&t.tv_nsec)
}

fn now(clock: c_int) -> libc::timespec {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes a local.
    unsafe { libc::clock_gettime(clock, &mut t) };
    t
}

fn run_one(data: &[u8], epoll: bool) {
    let backend = if epoll { c"epoll" } else { c"io_uring" };
    // SAFETY: the fuzzer is single-threaded while the target runs.
    unsafe { libc::setenv(c"EVFD_RING_BACKEND".as_ptr(), backend.as_ptr(), 1) };

    let before = ProcessState::capture();
    let mut input = Bytes::new(data);

    // evfd_ring_new with odd entries/flags; a refused one is followed by
    // a sensible one so the sequence runs.
    const ENTRIES: [u32; 8] = [0, 1, 2, 3, 7, 4096, 32769, u32::MAX];
    let entries = ENTRIES[input.u8() as usize % 8];
    let flags = match input.u8() % 8 {
        0 => input.u32(),
        1 => 1,
        _ => 0,
    };
    set_errno(SENTINEL);
    let mut ring = evfd_ring_new(entries, flags);
    let err = errno();
    if flags != 0 {
        assert!(ring.is_null(), "flags {flags} accepted");
        assert_eq!(err, libc::EINVAL);
    } else if ring.is_null() {
        assert!(
            [libc::ENOMEM, libc::EMFILE, libc::ENFILE].contains(&err),
            "evfd_ring_new({entries}, 0): errno {err}"
        );
    } else {
        assert_eq!(err, SENTINEL, "evfd_ring_new success changed errno");
    }
    if ring.is_null() {
        ring = evfd_ring_new(8, 0);
        assert!(!ring.is_null(), "evfd_ring_new(8, 0): errno {}", errno());
    }
    // SAFETY: `ring` is a live ring; the returned string is static.
    let name = unsafe { std::ffi::CStr::from_ptr(evfd_ring_backend(ring)) };
    assert_eq!(name, backend);
    // SAFETY: a live ring.
    let ring_fd = unsafe { evfd_ring_fd(ring) };
    assert!(ring_fd >= 0);

    let fds = Fds::open();
    // Futex words: stay mapped until the ring is freed (boxed, not moved).
    let words: Box<[u32; 4]> = Box::new([0; 4]);
    let words_ptr = words.as_ptr() as *mut u32;
    let mut m = Model {
        epoll,
        live: BTreeMap::new(),
        watched: BTreeMap::new(),
        posts: BTreeSet::new(),
        next_value: 0,
        received_posts: 0,
        sent_posts: 0,
    };
    let mut out: Vec<evfd_event> = vec![zero_event(); BUF];
    let null_ring: *mut evfd_ring = core::ptr::null_mut();

    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        match input.u8() % 14 {
            0 => {
                // add_fd on a descriptor of some kind.
                let pick = input.u8() % 12;
                let fd = match pick {
                    0..=7 => fds.all()[pick as usize],
                    8 => 900 + (input.u8() % 50) as c_int, // certainly closed
                    9 => -1,
                    10 => ring_fd,
                    _ => c_int::MIN,
                };
                let events = match input.u8() % 6 {
                    0 => 0,
                    1 => input.u32(),
                    2 => libc::POLLOUT as u32,
                    3 => (libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP) as u32,
                    _ => libc::POLLIN as u32,
                };
                let udata = decode_udata(&mut input);
                let known = (libc::POLLIN
                    | libc::POLLPRI
                    | libc::POLLOUT
                    | libc::POLLRDNORM
                    | libc::POLLRDBAND
                    | libc::POLLWRNORM
                    | libc::POLLWRBAND
                    | libc::POLLRDHUP) as u32;
                let mut errs = vec![];
                if !(0..=7).contains(&pick) && pick != 10 {
                    errs.push(libc::EBADF);
                }
                if events == 0 || events & !known != 0 {
                    errs.push(libc::EINVAL);
                }
                if pick == 6 || pick == 7 {
                    errs.push(libc::EPERM);
                }
                if pick == 10 {
                    errs.push(libc::EINVAL);
                }
                if m.watched.contains_key(&fd) {
                    errs.push(libc::EEXIST);
                }
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_add_fd(ring, fd, events, udata) });
                if check("evfd_ring_add_fd", r, e, &errs) {
                    m.watched.insert(fd, udata);
                    let s = if fd == fds.signalfd {
                        Src::SignalFd
                    } else {
                        Src::Fd
                    };
                    m.live.entry(udata).or_default().insert(s);
                }
            }
            1 => {
                let signo = match input.u8() % 8 {
                    0..=3 => signals()[input.u8() as usize % 4],
                    4 => [0, 65, -1, libc::SIGKILL, libc::SIGSTOP][input.u8() as usize % 5],
                    5 => input.u32() as c_int,
                    _ => 1 + (input.u8() % 64) as c_int,
                };
                let udata = decode_udata(&mut input);
                let bad =
                    !(1..=64).contains(&signo) || signo == libc::SIGKILL || signo == libc::SIGSTOP;
                let errs = if bad { vec![libc::EINVAL] } else { vec![] };
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_add_signal(ring, signo, udata) });
                if check("evfd_ring_add_signal", r, e, &errs) {
                    m.live.entry(udata).or_default().insert(Src::Signal);
                }
            }
            2 => {
                const CLOCKS: [c_int; 8] = [
                    libc::CLOCK_MONOTONIC,
                    libc::CLOCK_REALTIME,
                    libc::CLOCK_BOOTTIME,
                    libc::CLOCK_PROCESS_CPUTIME_ID,
                    libc::CLOCK_REALTIME_ALARM,
                    libc::CLOCK_MONOTONIC_RAW,
                    -1,
                    libc::CLOCK_MONOTONIC,
                ];
                let clock = CLOCKS[input.u8() as usize % 8];
                let ttype = match input.u8() % 8 {
                    0 => 3,
                    1 => input.u32() as c_int,
                    n => (n % 3) as c_int,
                };
                let null_when = input.u8() % 16 == 0;
                let mut when = decode_timespec(&mut input);
                if ttype == 1 && input.u8() % 2 == 0 && valid_ts(&when) && when.tv_sec < 1 << 40 {
                    // An absolute time near now (past or soon).
                    let n = now(clock);
                    when.tv_sec = when.tv_sec.saturating_add(n.tv_sec);
                }
                let udata = decode_udata(&mut input);
                let mut errs = vec![];
                if !(0..=2).contains(&ttype) {
                    errs.push(libc::EINVAL);
                }
                if null_when {
                    errs.push(libc::EFAULT);
                }
                let good_clock = [
                    libc::CLOCK_MONOTONIC,
                    libc::CLOCK_REALTIME,
                    libc::CLOCK_BOOTTIME,
                ]
                .contains(&clock);
                if !good_clock || !valid_ts(&when) || (when.tv_sec == 0 && when.tv_nsec == 0) {
                    errs.push(libc::EINVAL);
                }
                let p: *const libc::timespec = if null_when { core::ptr::null() } else { &when };
                // SAFETY: a live ring; `p` is NULL or a local.
                let (r, e) = call(|| unsafe { evfd_ring_add_timer(ring, clock, ttype, p, udata) });
                // The epoll backend needs a descriptor per timer; the
                // harness is far from the limit, so none is accepted.
                if check("evfd_ring_add_timer", r, e, &errs) {
                    let s = if ttype == 2 {
                        Src::Timer
                    } else {
                        Src::OneShotTimer
                    };
                    m.live.entry(udata).or_default().insert(s);
                }
            }
            3 => {
                let which = input.u8();
                let idx = (which % 4) as usize;
                // SAFETY: inside the boxed array (or deliberately NULL /
                // misaligned by one byte, which evfd must refuse unread).
                let addr: *const u32 = match which % 8 {
                    4 => core::ptr::null(),
                    5 => (unsafe { (words_ptr as *const u8).add(1) }) as *const u32,
                    _ => unsafe { words_ptr.add(idx) },
                };
                // SAFETY: a valid word of the box.
                let cur = unsafe { core::ptr::read_volatile(words_ptr.add(idx)) };
                let expected = if input.u8() % 2 == 0 {
                    cur
                } else {
                    cur.wrapping_add(1)
                };
                let udata = decode_udata(&mut input);
                let mut errs = vec![];
                if addr.is_null() {
                    errs.push(libc::EFAULT);
                } else if which % 8 == 5 {
                    errs.push(libc::EINVAL);
                } else if m.epoll {
                    errs.push(libc::ENOSYS);
                }
                // SAFETY: a live ring; the words outlive it.
                let (r, e) = call(|| unsafe { evfd_ring_add_futex(ring, addr, expected, udata) });
                if check("evfd_ring_add_futex", r, e, &errs) {
                    m.live.entry(udata).or_default().insert(Src::Futex);
                }
            }
            4 => {
                // Wake (and maybe change) a futex word.
                let idx = (input.u8() % 4) as usize;
                let change = input.u8() % 2 == 0;
                // SAFETY: a word of the box; FUTEX_WAKE_PRIVATE on it.
                unsafe {
                    let w = words_ptr.add(idx);
                    if change {
                        core::ptr::write_volatile(w, core::ptr::read_volatile(w).wrapping_add(1));
                    }
                    libc::syscall(
                        libc::SYS_futex,
                        w,
                        libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                        i32::MAX,
                    );
                }
            }
            5 => {
                let udata = decode_udata(&mut input);
                let value = m.next_value;
                m.next_value += 1;
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_post(ring, udata, value) });
                check("evfd_ring_post", r, e, &[]);
                m.posts.insert((udata, value));
                m.sent_posts += 1;
            }
            6 => {
                let udata = decode_udata(&mut input);
                let kinds = m.live.get(&udata).cloned().unwrap_or_default();
                let certain = kinds
                    .iter()
                    .any(|s| !matches!(s, Src::OneShotTimer | Src::Futex));
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_remove(ring, udata) });
                let ok = if certain {
                    check("evfd_ring_remove", r, e, &[])
                } else if kinds.is_empty() {
                    check("evfd_ring_remove", r, e, &[libc::ENOENT])
                } else {
                    check_maybe("evfd_ring_remove", r, e, &[libc::ENOENT])
                };
                let _ = ok;
                // Either way nothing is registered under udata any more.
                m.live.remove(&udata);
                m.watched.retain(|_, u| *u != udata);
            }
            7 | 8 => {
                // peek, or wait with a zero (or bad) timeout.
                let max: u32 = match input.u8() % 8 {
                    0 => 0,
                    1 => u32::MAX,
                    2 => c_int::MAX as u32 + 1,
                    n => [1, 2, 3, 64, 17][n as usize % 5],
                };
                let null_out = input.u8() % 16 == 0;
                let is_wait = input.u8() % 2 == 0;
                let timeout = match input.u8() % 8 {
                    0 => libc::timespec {
                        tv_sec: -1,
                        tv_nsec: 0,
                    },
                    1 => libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 1_000_000_000,
                    },
                    2 => libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 1_000_000,
                    },
                    _ => libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    },
                };
                let mut errs = vec![];
                if max == 0 || max > c_int::MAX as u32 {
                    errs.push(libc::EINVAL);
                }
                if null_out {
                    errs.push(libc::EFAULT);
                }
                if is_wait && !valid_ts(&timeout) {
                    errs.push(libc::EINVAL);
                }
                let p = if null_out {
                    core::ptr::null_mut()
                } else {
                    out.as_mut_ptr()
                };
                // SAFETY: a live ring; `out` holds BUF events and every
                // valid max is ≤ BUF.
                let (r, e) = call(|| unsafe {
                    if is_wait {
                        evfd_ring_wait(ring, p, max, &timeout)
                    } else {
                        evfd_ring_peek(ring, p, max)
                    }
                });
                if is_wait && r == -1 && e == libc::EINTR {
                    continue;
                }
                if check("evfd_ring_peek/wait", r, e, &errs) {
                    assert!(r as u32 <= max);
                    let n = r as usize;
                    let evs = out[..n].to_vec();
                    m.check_events(&evs);
                }
            }
            9 => {
                // Raise a harness signal (blocked) at this thread.
                let s = signals()[input.u8() as usize % 4];
                // SAFETY: tgkill to this thread with a blocked signal.
                unsafe {
                    libc::syscall(libc::SYS_tgkill, libc::getpid(), libc::gettid(), s);
                }
            }
            10 => {
                // Make a watched descriptor ready, or drain it.
                let one: u64 = 1 + (input.u8() as u64);
                // SAFETY: writes/reads on the harness's own descriptors.
                unsafe {
                    match input.u8() % 4 {
                        0 => {
                            libc::write(fds.pipe[1], b"xyz".as_ptr().cast(), 3);
                        }
                        1 => {
                            libc::write(fds.eventfd, (&one as *const u64).cast(), 8);
                        }
                        2 => {
                            libc::write(fds.evfd_eventfd, (&one as *const u64).cast(), 8);
                        }
                        _ => {
                            let mut b = [0u8; 64];
                            libc::read(fds.pipe[0], b.as_mut_ptr().cast(), 64);
                        }
                    }
                }
            }
            11 => {
                // Arm the kernel timerfd (short or disarm).
                let ms = input.u8() as i64 % 20;
                let spec = libc::itimerspec {
                    it_interval: libc::timespec {
                        tv_sec: 0,
                        tv_nsec: ms * 1_000_000,
                    },
                    it_value: libc::timespec {
                        tv_sec: 0,
                        tv_nsec: ms * 1_000_000,
                    },
                };
                // SAFETY: timerfd_settime on the harness's timerfd.
                unsafe {
                    libc::syscall(
                        libc::SYS_timerfd_settime,
                        fds.timerfd,
                        0,
                        &spec,
                        core::ptr::null_mut::<libc::itimerspec>(),
                    )
                };
            }
            12 => {
                // Every call with a NULL ring: EFAULT, nothing else touched.
                let t = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                let w = 0u32;
                // SAFETY: NULL ring pointers are part of the contract
                // (EFAULT); `out`, `t` and `w` are locals.
                unsafe {
                    let calls: [(&str, (c_int, c_int)); 10] = [
                        (
                            "add_fd",
                            call(|| evfd_ring_add_fd(null_ring, fds.pipe[0], 1, 1)),
                        ),
                        (
                            "add_signal",
                            call(|| evfd_ring_add_signal(null_ring, libc::SIGURG, 1)),
                        ),
                        (
                            "add_timer",
                            call(|| evfd_ring_add_timer(null_ring, 1, 0, &t, 1)),
                        ),
                        (
                            "add_futex",
                            call(|| evfd_ring_add_futex(null_ring, &w, 0, 1)),
                        ),
                        ("post", call(|| evfd_ring_post(null_ring, 1, 1))),
                        ("remove", call(|| evfd_ring_remove(null_ring, 1))),
                        (
                            "peek",
                            call(|| evfd_ring_peek(null_ring, out.as_mut_ptr(), 1)),
                        ),
                        (
                            "wait",
                            call(|| evfd_ring_wait(null_ring, out.as_mut_ptr(), 1, &t)),
                        ),
                        ("fd", call(|| evfd_ring_fd(null_ring))),
                        ("free", {
                            set_errno(SENTINEL);
                            evfd_ring_free(null_ring);
                            (0, errno())
                        }),
                    ];
                    for (name, (r, e)) in calls {
                        if name == "free" {
                            assert_eq!(e, SENTINEL, "evfd_ring_free(NULL) changed errno");
                        } else {
                            check(name, r, e, &[libc::EFAULT]);
                        }
                    }
                    set_errno(SENTINEL);
                    assert!(evfd_ring_backend(null_ring).is_null());
                    assert_eq!(errno(), libc::EFAULT);
                }
            }
            _ => {
                // evfd_ring_fd is stable and open.
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_fd(ring) });
                check("evfd_ring_fd", r, e, &[]);
                assert_eq!(r, ring_fd);
            }
        }
    }

    // Remove every source, then drain: every post must come back exactly
    // once and no event of a removed source may appear.
    let udatas: Vec<u64> = m.live.keys().copied().collect();
    for u in udatas {
        // SAFETY: a live ring.
        let (r, e) = call(|| unsafe { evfd_ring_remove(ring, u) });
        let kinds = &m.live[&u];
        if kinds
            .iter()
            .any(|s| !matches!(s, Src::OneShotTimer | Src::Futex))
        {
            check("evfd_ring_remove (final)", r, e, &[]);
        } else {
            check_maybe("evfd_ring_remove (final)", r, e, &[libc::ENOENT]);
        }
    }
    m.live.clear();
    let mut rounds = 0;
    while !m.posts.is_empty() {
        let t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 10_000_000,
        };
        // SAFETY: a live ring; `out` holds BUF events.
        let n = unsafe { evfd_ring_wait(ring, out.as_mut_ptr(), BUF as u32, &t) };
        if n < 0 {
            assert_eq!(errno(), libc::EINTR);
            continue;
        }
        let evs = out[..n as usize].to_vec();
        m.check_events(&evs);
        rounds += 1;
        assert!(
            rounds < 500,
            "posts lost: {} sent, {} received, missing {:?}",
            m.sent_posts,
            m.received_posts,
            m.posts
        );
    }
    // Nothing further: no duplicate post, no event from a removed source.
    // SAFETY: a live ring.
    let n = unsafe { evfd_ring_peek(ring, out.as_mut_ptr(), BUF as u32) };
    assert!(n >= 0);
    let evs = out[..n as usize].to_vec();
    m.check_events(&evs);
    assert_eq!(m.received_posts, m.sent_posts);

    // SAFETY: the ring is freed once; the words outlive it.
    unsafe { evfd_ring_free(ring) };
    drop(words);
    fds.close();
    drain_signals();
    ProcessState::capture().assert_same(&before);
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    init_once();
    if data.is_empty() {
        return;
    }
    match data[0] % 3 {
        0 => run_one(&data[1..], false),
        1 => run_one(&data[1..], true),
        _ => {
            run_one(&data[1..], false);
            run_one(&data[1..], true);
        }
    }
});
