//! The event ring (DESIGN §4): one queue for fd readiness, signals, timers,
//! futex wake-ups and user posts, consumed from user memory.
//!
//! This file holds everything that does not depend on the backend: the
//! sources and what their completions mean, the buffered events, the posts
//! queue, fork detection. A backend ([`io_uring`] or [`epoll`]) only arms
//! sources in the kernel and hands back raw completions (`token`, `result`,
//! `more`).
//!
//! Threads: one consumer thread calls everything except [`Ring::post`],
//! which any thread may call. The consumer's state sits in an `UnsafeCell`
//! that only [`Ring::consumer`] hands out, under that contract.

mod epoll;
mod io_uring;

use crate::errno::Errno;
use crate::sys;
use std::cell::UnsafeCell;
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const KIND_FD: u32 = 1;
pub const KIND_SIGNAL: u32 = 2;
pub const KIND_TIMER: u32 = 3;
pub const KIND_FUTEX: u32 = 4;
pub const KIND_USER: u32 = 5;

/// One delivered event; the C boundary's `struct evfd_event` has the same
/// layout (checked at compile time there).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Event {
    pub udata: u64,
    pub kind: u32,
    pub error: i32,
    pub value: u64,
    pub revents: u32,
    pub signo: u32,
    pub code: i32,
    pub pid: u32,
    pub uid: u32,
    pub status: i32,
    pub reserved: [u8; 16],
}

const _: () = assert!(core::mem::size_of::<Event>() == 64);
const _: () = assert!(core::mem::align_of::<Event>() == 8);

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
}

/// One-shot or periodic, as in §2.2.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimerKind {
    Rel,
    Abs,
    Seq,
}

/// A completion as a backend reports it: the source's token, the kernel's
/// result (poll mask, or negative errno), and whether the kernel request
/// stays armed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Completion {
    pub token: u64,
    pub result: i32,
    pub more: bool,
    /// The count the kernel read for the ring (io_uring multishot reads of
    /// eventfds and timerfds): `result` of these bytes are valid.
    pub data: Option<[u8; 8]>,
}

/// How the ring treats an fd source once it is ready.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Reader {
    /// Report readiness only.
    None,
    /// eventfd or timerfd: read the 8-byte count into `value`; one read
    /// empties it.
    Counter,
    /// An `EFD_SEMAPHORE` eventfd: each read takes 1, so read until empty.
    Semaphore,
    /// signalfd: read `signalfd_siginfo` records, one event each.
    Signalfd,
}

pub(crate) enum SourceKind {
    Fd {
        fd: RawFd,
        events: u32,
        reader: Reader,
    },
    Signal {
        signo: u32,
    },
    Timer {
        clock: libc::clockid_t,
        kind: TimerKind,
        when: libc::timespec,
    },
    Futex {
        uaddr: *const u32,
        expected: u32,
    },
    /// The ring's own signalfd serving every `Signal` source.
    SignalFd,
    /// The eventfd posts and buffered events make readable.
    Notify,
}

pub(crate) struct Source {
    pub udata: u64,
    pub kind: SourceKind,
    /// Backend state (the epoll backend's timerfd for a timer).
    pub timer_fd: Option<OwnedFd>,
}

/// Tokens below this are the ring's own sources.
const TOKEN_NOTIFY: u64 = 1;
const TOKEN_SIGNALFD: u64 = 2;
const FIRST_USER_TOKEN: u64 = 16;

/// Reads per readiness report before the rest is left for the next call,
/// so one busy semaphore eventfd cannot starve everything else.
const READS_PER_REPORT: usize = 64;

// ---- fork detection ---------------------------------------------------------

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

fn fork_generation() -> u64 {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic; it never
        // fails except with ENOMEM, in which case fork detection is lost
        // (nothing else), so the result is ignored deliberately.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

// ---- ThreadSanitizer annotations --------------------------------------------

/// ThreadSanitizer sees a C program's mallocs and frees but not this
/// library's (uninstrumented) atomics, so a post allocated by one thread and
/// freed by the consumer looks like a race to it. When the program runs
/// under TSan, its runtime exports `__tsan_release`/`__tsan_acquire`: the
/// posts queue tells it about the happens-before edge it creates. Elsewhere
/// the symbols are absent and this costs one relaxed load.
mod tsan {
    use std::sync::atomic::{AtomicUsize, Ordering};

    type Annotate = unsafe extern "C" fn(*const libc::c_void);

    /// 0: not looked up yet; 1: absent; else the two function addresses.
    static RELEASE: AtomicUsize = AtomicUsize::new(0);
    static ACQUIRE: AtomicUsize = AtomicUsize::new(0);

    fn lookup(slot: &AtomicUsize, name: &core::ffi::CStr) -> Option<Annotate> {
        let mut addr = slot.load(Ordering::Relaxed);
        if addr == 0 {
            // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches
            // the whole process.
            let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize;
            addr = if found == 0 { 1 } else { found };
            slot.store(addr, Ordering::Relaxed);
        }
        if addr == 1 {
            None
        } else {
            // SAFETY: the address is TSan's exported function of this type.
            Some(unsafe { core::mem::transmute::<usize, Annotate>(addr) })
        }
    }

    pub fn release<T>(addr: &T) {
        if let Some(f) = lookup(&RELEASE, c"__tsan_release") {
            // SAFETY: TSan only uses the address as a key.
            unsafe { f((addr as *const T).cast()) }
        }
    }

    pub fn acquire<T>(addr: &T) {
        if let Some(f) = lookup(&ACQUIRE, c"__tsan_acquire") {
            // SAFETY: as in `release`.
            unsafe { f((addr as *const T).cast()) }
        }
    }
}

// ---- posts: a lock-free multi-producer stack, drained whole ---------------

struct PostNode {
    udata: u64,
    value: u64,
    next: *mut PostNode,
}

/// Producers push with a CAS; the consumer takes the whole stack with one
/// swap and reverses it, so there is no ABA problem and order per producer
/// is kept.
struct PostQueue {
    head: AtomicPtr<PostNode>,
}

impl PostQueue {
    /// Pushes one post; true if the queue was empty before (the producer
    /// then owes the consumer a wake-up).
    fn push(&self, udata: u64, value: u64) -> bool {
        let node = Box::into_raw(Box::new(PostNode {
            udata,
            value,
            next: core::ptr::null_mut(),
        }));
        tsan::release(&self.head);
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` is ours until the CAS publishes it.
            unsafe { (*node).next = head };
            match self
                .head
                .compare_exchange_weak(head, node, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return head.is_null(),
                Err(now) => head = now,
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.head.load(Ordering::SeqCst).is_null()
    }

    /// Takes every post, oldest first, into `out`.
    fn drain_into(&self, out: &mut VecDeque<Event>) {
        if self.is_empty() {
            return;
        }
        let mut node = self.head.swap(core::ptr::null_mut(), Ordering::SeqCst);
        tsan::acquire(&self.head);
        let start = out.len();
        while !node.is_null() {
            // SAFETY: the swap gave us exclusive ownership of the whole list;
            // each node came from Box::into_raw in `push`.
            let boxed = unsafe { Box::from_raw(node) };
            out.push_back(Event {
                udata: boxed.udata,
                kind: KIND_USER,
                value: boxed.value,
                ..Event::default()
            });
            node = boxed.next;
        }
        // The stack gave newest first.
        out.make_contiguous()[start..].reverse();
    }
}

impl Drop for PostQueue {
    fn drop(&mut self) {
        let mut sink = VecDeque::new();
        self.drain_into(&mut sink);
    }
}

// ---- the ring ---------------------------------------------------------------

/// A ring: the part any thread may touch (posts) and the consumer's part.
pub struct Ring {
    posts: PostQueue,
    /// The notify eventfd's number, for producers (owned by the consumer).
    notify_fd: RawFd,
    generation: u64,
    backend_kind: BackendKind,
    consumer: UnsafeCell<Consumer>,
}

// SAFETY: `posts` is a lock-free structure and `notify_fd` a plain number;
// the consumer part is only reached through `consumer()`, whose contract
// (one consumer thread, never concurrently) the C API documents.
unsafe impl Sync for Ring {}
// SAFETY: nothing in a ring is tied to the creating thread except the
// io_uring task-work target, which the C API documents (the consumer is one
// thread; it may be another than the creator only if it is the only one).
unsafe impl Send for Ring {}

#[allow(clippy::large_enum_variant)] // one per ring, never moved in a hot path
pub(crate) enum Backend {
    IoUring(io_uring::Uring),
    Epoll(epoll::Epoll),
}

pub struct Consumer {
    backend: Backend,
    sources: HashMap<u64, Source>,
    next_token: u64,
    /// Events taken from the kernel or the posts queue, not yet delivered.
    pending: VecDeque<Event>,
    /// Reader sources with more to read than one report allowed.
    reread: VecDeque<u64>,
    notify: OwnedFd,
    signalfd: Option<OwnedFd>,
    sigmask: u64,
    /// Whether the caller asked for `evfd_ring_fd` (only then must leftover
    /// buffered events keep that descriptor readable).
    fd_exported: bool,
    /// The notify eventfd was written by the consumer and its report not
    /// seen yet.
    kicked: bool,
    completions: Vec<Completion>,
}

fn backend_choice() -> Result<Option<BackendKind>, Errno> {
    match std::env::var_os("EVFD_RING_BACKEND") {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v == "io_uring" => Ok(Some(BackendKind::IoUring)),
        Some(v) if v == "epoll" => Ok(Some(BackendKind::Epoll)),
        Some(_) => Err(Errno::EINVAL),
    }
}

impl Ring {
    /// Creates a ring. `entries` is a capacity hint (0 = default), `flags`
    /// must be 0.
    pub fn new(entries: u32, flags: u32) -> Result<Box<Ring>, Errno> {
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        let entries = if entries == 0 {
            256
        } else {
            entries.min(32768)
        };
        let generation = fork_generation();
        let notify = sys::kernel_objects::eventfd2(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)?;
        let backend = match backend_choice()? {
            Some(BackendKind::IoUring) => Backend::IoUring(io_uring::Uring::new(entries)?),
            Some(BackendKind::Epoll) => Backend::Epoll(epoll::Epoll::new(entries)?),
            None => match io_uring::Uring::new(entries) {
                Ok(u) => Backend::IoUring(u),
                Err(e) if io_uring::means_unavailable(e) => {
                    Backend::Epoll(epoll::Epoll::new(entries)?)
                }
                Err(e) => return Err(e),
            },
        };
        let backend_kind = match backend {
            Backend::IoUring(_) => BackendKind::IoUring,
            Backend::Epoll(_) => BackendKind::Epoll,
        };
        let mut consumer = Consumer {
            backend,
            sources: HashMap::new(),
            next_token: FIRST_USER_TOKEN,
            pending: VecDeque::new(),
            reread: VecDeque::new(),
            notify,
            signalfd: None,
            sigmask: 0,
            fd_exported: false,
            kicked: false,
            completions: Vec::new(),
        };
        let notify_fd = consumer.notify.as_raw_fd();
        consumer.sources.insert(
            TOKEN_NOTIFY,
            Source {
                udata: 0,
                kind: SourceKind::Notify,
                timer_fd: None,
            },
        );
        consumer.arm(TOKEN_NOTIFY)?;
        consumer.backend_submit()?;
        Ok(Box::new(Ring {
            posts: PostQueue {
                head: AtomicPtr::new(core::ptr::null_mut()),
            },
            notify_fd,
            generation,
            backend_kind,
            consumer: UnsafeCell::new(consumer),
        }))
    }

    fn check_fork(&self) -> Result<(), Errno> {
        if FORK_GENERATION.load(Ordering::Relaxed) != self.generation {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    }

    /// Whether this ring was created in another process (before a fork).
    pub fn inherited(&self) -> bool {
        self.check_fork().is_err()
    }

    pub fn backend(&self) -> BackendKind {
        self.backend_kind
    }

    /// Queues one user event; any thread. Wakes the consumer only when the
    /// queue was empty.
    pub fn post(&self, udata: u64, value: u64) -> Result<(), Errno> {
        self.check_fork()?;
        if self.posts.push(udata, value) {
            sys::io::write_u64(self.notify_fd, 1)?;
        }
        Ok(())
    }

    /// The consumer's side, checked against use after fork.
    ///
    /// # Safety
    /// Only the one consumer thread may call this, and never while a
    /// reference it returned earlier is still in use.
    #[allow(clippy::mut_from_ref)] // the consumer contract above
    pub unsafe fn consumer(&self) -> Result<ConsumerRef<'_>, Errno> {
        self.check_fork()?;
        Ok(ConsumerRef {
            // SAFETY: exclusive by the caller's contract.
            c: unsafe { &mut *self.consumer.get() },
            posts: &self.posts,
        })
    }
}

/// The consumer state together with the posts queue it drains.
pub struct ConsumerRef<'a> {
    c: &'a mut Consumer,
    posts: &'a PostQueue,
}

fn timespec_to_duration(t: &libc::timespec) -> Duration {
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn valid_timespec(t: &libc::timespec) -> bool {
    t.tv_sec >= 0 && (0..1_000_000_000).contains(&t.tv_nsec)
}

/// The `Reader` for `fd`, from the kind of object it is.
fn reader_for(fd: RawFd) -> Result<Reader, Errno> {
    let mut buf = [0u8; 64];
    let n = sys::fd_info::fd_link(fd, &mut buf).unwrap_or(0);
    Ok(match &buf[..n] {
        b"anon_inode:[eventfd]" => {
            if sys::fd_info::fdinfo_value(fd, b"eventfd-semaphore:")? == Some(1) {
                Reader::Semaphore
            } else {
                Reader::Counter
            }
        }
        b"anon_inode:[timerfd]" => Reader::Counter,
        b"anon_inode:[signalfd]" => Reader::Signalfd,
        _ => Reader::None,
    })
}

const POLL_BITS: u32 = (libc::POLLIN
    | libc::POLLPRI
    | libc::POLLOUT
    | libc::POLLRDNORM
    | libc::POLLRDBAND
    | libc::POLLWRNORM
    | libc::POLLWRBAND
    | libc::POLLRDHUP) as u32;

impl ConsumerRef<'_> {
    pub fn add_fd(&mut self, fd: RawFd, events: u32, udata: u64) -> Result<(), Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        sys::fd_info::fd_flags(fd)?;
        if events == 0 || events & !POLL_BITS != 0 {
            return Err(Errno::EINVAL);
        }
        // epoll refuses regular files and directories (always "ready");
        // both backends do, so they behave alike.
        let mode = sys::fd_info::fd_mode(fd)?;
        if matches!(mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR) {
            return Err(Errno(libc::EPERM));
        }
        if fd == self.c.backend_fd() {
            return Err(Errno::EINVAL);
        }
        let taken = self
            .c
            .sources
            .values()
            .any(|s| matches!(s.kind, SourceKind::Fd { fd: f, .. } if f == fd));
        if taken {
            return Err(Errno(libc::EEXIST));
        }
        let reader = reader_for(fd)?;
        self.c
            .add_source(udata, SourceKind::Fd { fd, events, reader })
            .map(drop)
    }

    pub fn add_signal(&mut self, signo: i32, udata: u64) -> Result<(), Errno> {
        if !(1..=64).contains(&signo) || signo == libc::SIGKILL || signo == libc::SIGSTOP {
            return Err(Errno::EINVAL);
        }
        let c = &mut *self.c;
        let new_mask = c.sigmask | 1u64 << (signo - 1);
        if c.signalfd.is_none() {
            let fd = sys::kernel_objects::signalfd4(
                -1,
                &new_mask,
                libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
            )?;
            // SAFETY: the kernel just created this descriptor for us.
            let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            c.signalfd = Some(fd);
            c.sigmask = new_mask;
            c.sources.insert(
                TOKEN_SIGNALFD,
                Source {
                    udata: 0,
                    kind: SourceKind::SignalFd,
                    timer_fd: None,
                },
            );
            if let Err(e) = c.arm(TOKEN_SIGNALFD).and_then(|_| c.backend_submit()) {
                c.sources.remove(&TOKEN_SIGNALFD);
                c.signalfd = None;
                c.sigmask = 0;
                return Err(e);
            }
        } else if new_mask != c.sigmask {
            let fd = c.signalfd.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
            sys::kernel_objects::signalfd4(fd, &new_mask, 0)?;
            c.sigmask = new_mask;
        }
        c.sources.insert(
            c.next_token,
            Source {
                udata,
                kind: SourceKind::Signal {
                    signo: signo as u32,
                },
                timer_fd: None,
            },
        );
        c.next_token += 1;
        Ok(())
    }

    pub fn add_timer(
        &mut self,
        clock: libc::clockid_t,
        kind: TimerKind,
        when: libc::timespec,
        udata: u64,
    ) -> Result<(), Errno> {
        if !matches!(
            clock,
            libc::CLOCK_MONOTONIC | libc::CLOCK_REALTIME | libc::CLOCK_BOOTTIME
        ) || !valid_timespec(&when)
            || (when.tv_sec == 0 && when.tv_nsec == 0)
        {
            return Err(Errno::EINVAL);
        }
        self.c
            .add_source(udata, SourceKind::Timer { clock, kind, when })
            .map(drop)
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
        if uaddr.is_null() {
            return Err(Errno::EFAULT);
        }
        if (uaddr as usize) % 4 != 0 {
            return Err(Errno::EINVAL);
        }
        if matches!(self.c.backend, Backend::Epoll(_)) {
            return Err(Errno::ENOSYS);
        }
        self.c
            .add_source(udata, SourceKind::Futex { uaddr, expected })
            .map(drop)
    }

    pub fn remove(&mut self, udata: u64) -> Result<(), Errno> {
        let c = &mut *self.c;
        let tokens: Vec<u64> = c
            .sources
            .iter()
            .filter(|(t, s)| **t >= FIRST_USER_TOKEN && s.udata == udata)
            .map(|(t, _)| *t)
            .collect();
        if tokens.is_empty() {
            // A one-shot source (REL/ABS timer, futex) leaves the table
            // when its completion is taken from the kernel, but until its
            // event is delivered it is not gone for the caller: discard the
            // event as for any removed source.
            let held = c.pending.len();
            c.pending.retain(|e| !from_source(e, udata));
            return if c.pending.len() < held {
                Ok(())
            } else {
                Err(Errno::ENOENT)
            };
        }
        let mut signals_changed = false;
        for token in &tokens {
            let source = c.sources.remove(token).expect("listed above");
            if matches!(source.kind, SourceKind::Signal { .. }) {
                signals_changed = true;
            } else {
                c.disarm(*token, &source);
            }
        }
        c.reread.retain(|t| !tokens.contains(t));
        // Events of removed sources that were already taken from the kernel
        // are not delivered: after remove() returns, the udata is silent.
        // Posts are not sources and stay.
        c.pending.retain(|e| !from_source(e, udata));
        if signals_changed {
            c.refresh_sigmask();
        }
        c.backend_submit()
    }

    /// Copies up to `out.len()` pending events; never blocks.
    pub fn peek(&mut self, out: &mut [Event]) -> Result<usize, Errno> {
        let mut n = self.collect_into(out)?;
        if n == 0 {
            // Nothing pending in user memory: now a system call is fine, to
            // submit queued re-arms and flush a kernel-side overflow list.
            self.c.backend_submit()?;
            n = self.collect_into(out)?;
        }
        self.c.keep_fd_readable(self.posts)?;
        Ok(n)
    }

    /// Like `peek`, but waits up to `timeout` (None: forever) for one event.
    pub fn wait(
        &mut self,
        out: &mut [Event],
        timeout: Option<libc::timespec>,
    ) -> Result<usize, Errno> {
        let deadline = timeout.map(|t| Instant::now() + timespec_to_duration(&t));
        loop {
            let n = self.peek(out)?;
            if n > 0 {
                return Ok(n);
            }
            let left = match deadline {
                None => None,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(0);
                    }
                    let left = d - now;
                    Some(libc::timespec {
                        tv_sec: left.as_secs() as libc::time_t,
                        tv_nsec: left.subsec_nanos() as libc::c_long,
                    })
                }
            };
            let c = &mut *self.c;
            match &mut c.backend {
                Backend::IoUring(u) => u.wait(left.as_ref())?,
                Backend::Epoll(e) => e.wait(left.as_ref())?,
            }
        }
    }

    /// The descriptor that polls readable while events are pending.
    pub fn fd(&mut self) -> RawFd {
        self.c.fd_exported = true;
        self.c.backend_fd()
    }

    /// Fills `out` from buffered events, posts and kernel completions,
    /// without a system call while something is pending (except the reads
    /// of signalfd records, and on epoll the epoll_wait and every read).
    fn collect_into(&mut self, out: &mut [Event]) -> Result<usize, Errno> {
        let want = out.len();
        let c = &mut *self.c;
        if c.pending.len() < want {
            self.posts.drain_into(&mut c.pending);
        }
        if c.pending.len() < want {
            c.process_rereads(want);
        }
        if c.pending.len() < want {
            c.reap(want, self.posts)?;
        }
        let n = want.min(c.pending.len());
        for (slot, event) in out.iter_mut().zip(c.pending.drain(..n)) {
            *slot = event;
        }
        Ok(n)
    }
}

impl Consumer {
    fn backend_fd(&self) -> RawFd {
        match &self.backend {
            Backend::IoUring(u) => u.fd(),
            Backend::Epoll(e) => e.fd(),
        }
    }

    fn backend_submit(&mut self) -> Result<(), Errno> {
        match &mut self.backend {
            Backend::IoUring(u) => u.submit(),
            Backend::Epoll(_) => Ok(()),
        }
    }

    fn add_source(&mut self, udata: u64, kind: SourceKind) -> Result<u64, Errno> {
        let token = self.next_token;
        self.next_token += 1;
        self.sources.insert(
            token,
            Source {
                udata,
                kind,
                timer_fd: None,
            },
        );
        let armed = self.arm(token).and_then(|_| self.backend_submit());
        if let Err(e) = armed {
            if let Some(source) = self.sources.remove(&token) {
                self.disarm(token, &source);
            }
            return Err(e);
        }
        Ok(token)
    }

    /// Arms (or re-arms) the kernel request of source `token`.
    fn arm(&mut self, token: u64) -> Result<(), Errno> {
        let notify = self.notify.as_raw_fd();
        let signalfd = self.signalfd.as_ref().map_or(-1, |f| f.as_raw_fd());
        let source = self.sources.get_mut(&token).ok_or(Errno::ENOENT)?;
        match &mut self.backend {
            Backend::IoUring(u) => u.arm(token, source, notify, signalfd),
            Backend::Epoll(e) => e.arm(token, source, notify, signalfd),
        }
    }

    fn disarm(&mut self, token: u64, source: &Source) {
        match &mut self.backend {
            Backend::IoUring(u) => u.disarm(token, source),
            Backend::Epoll(e) => e.disarm(token, source),
        }
    }

    fn forget(&mut self, token: u64) {
        if let Backend::IoUring(u) = &mut self.backend {
            u.forget(token);
        }
    }

    fn refresh_sigmask(&mut self) {
        let mask = self
            .sources
            .values()
            .filter_map(|s| match s.kind {
                SourceKind::Signal { signo } => Some(1u64 << (signo - 1)),
                _ => None,
            })
            .fold(0, |a, b| a | b);
        if let Some(fd) = &self.signalfd {
            // Narrowing a mask cannot fail for a valid signalfd; a failure
            // would only leave extra signals read and dropped below.
            let _ = sys::kernel_objects::signalfd4(fd.as_raw_fd(), &mask, 0);
        }
        self.sigmask = mask;
    }

    /// Takes up to `want` kernel completions and turns them into events.
    /// One round only: a level-triggered epoll source is reported again by
    /// every epoll_wait, and must not be reported twice in one call.
    fn reap(&mut self, want: usize, posts: &PostQueue) -> Result<(), Errno> {
        {
            let mut completions = std::mem::take(&mut self.completions);
            completions.clear();
            let lost = match &mut self.backend {
                Backend::IoUring(u) => u.reap(&mut completions, want.max(16))?,
                Backend::Epoll(e) => e.reap(&mut completions, want.max(16))?,
            };
            if lost > 0 {
                self.pending.push_back(Event {
                    kind: 0,
                    error: libc::EOVERFLOW,
                    value: lost,
                    ..Event::default()
                });
            }
            for comp in &completions {
                self.complete(*comp, posts)?;
            }
            self.completions = completions;
        }
        Ok(())
    }

    fn process_rereads(&mut self, want: usize) {
        let mut rounds = self.reread.len();
        while rounds > 0 && self.pending.len() < want {
            rounds -= 1;
            let Some(token) = self.reread.pop_front() else {
                break;
            };
            self.read_source(token);
        }
    }

    /// One completion of source `token`.
    fn complete(&mut self, comp: Completion, posts: &PostQueue) -> Result<(), Errno> {
        let Some(source) = self.sources.get(&comp.token) else {
            // A removed source's last words (cancellation, late completion).
            return Ok(());
        };
        let udata = source.udata;
        let mut rearm = !comp.more;
        let mut gone = false;
        match source.kind {
            SourceKind::Notify => {
                self.kicked = false;
                if let Backend::Epoll(_) = self.backend {
                    // Level-triggered there: reset, then take what the
                    // producers queued (a push after the reset writes again).
                    let mut buf = [0u8; 8];
                    let _ = sys::io::read_nowait(self.notify.as_raw_fd(), &mut buf);
                }
                posts.drain_into(&mut self.pending);
            }
            SourceKind::SignalFd => {
                // Polled, never read by the kernel (see io_uring::arm).
                if comp.result >= 0 {
                    self.read_source(comp.token);
                }
            }
            SourceKind::Fd { .. } if comp.data.is_some() => {
                let data = comp.data.expect("checked");
                self.push_read(udata, &data, comp.result);
            }
            SourceKind::Fd { reader, .. }
                if matches!(reader, Reader::Counter | Reader::Semaphore)
                    && self.reads_in_kernel() =>
            {
                // A multishot read ended: out of buffers (ENOBUFS) or the
                // queue overflowed; re-armed below. A real error ends the
                // source.
                if comp.result < 0
                    && !matches!(
                        -comp.result,
                        libc::ENOBUFS | libc::EAGAIN | libc::ECANCELED | libc::EINTR
                    )
                {
                    self.pending.push_back(Event {
                        udata,
                        kind: KIND_FD,
                        error: -comp.result,
                        ..Event::default()
                    });
                    gone = true;
                }
            }
            SourceKind::Fd { reader, .. } => {
                if comp.result < 0 {
                    if comp.result != -libc::ECANCELED {
                        self.pending.push_back(Event {
                            udata,
                            kind: KIND_FD,
                            error: -comp.result,
                            ..Event::default()
                        });
                        gone = true;
                    }
                } else if reader == Reader::None || comp.result as u32 & libc::POLLIN as u32 == 0 {
                    self.pending.push_back(Event {
                        udata,
                        kind: KIND_FD,
                        revents: comp.result as u32,
                        ..Event::default()
                    });
                    // Level semantics: a one-shot io_uring poll is re-armed
                    // (lazily, with the next submission) after each report.
                    rearm = rearm
                        || matches!(self.backend, Backend::IoUring(_)) && reader == Reader::None;
                } else {
                    self.read_source(comp.token);
                }
            }
            SourceKind::Timer { kind, .. } => {
                let expirations = match &self.backend {
                    Backend::IoUring(_) => {
                        if comp.result == -libc::ETIME {
                            Some(1)
                        } else if comp.result == -libc::ECANCELED {
                            None
                        } else if comp.result < 0 {
                            self.pending.push_back(Event {
                                udata,
                                kind: KIND_TIMER,
                                error: -comp.result,
                                ..Event::default()
                            });
                            gone = true;
                            None
                        } else {
                            None
                        }
                    }
                    Backend::Epoll(_) => {
                        let fd = source.timer_fd.as_ref().map_or(-1, |f| f.as_raw_fd());
                        let mut buf = [0u8; 8];
                        match sys::io::read_nowait(fd, &mut buf) {
                            Ok(8) => Some(u64::from_ne_bytes(buf)),
                            _ => None,
                        }
                    }
                };
                if let Some(value) = expirations {
                    self.pending.push_back(Event {
                        udata,
                        kind: KIND_TIMER,
                        value,
                        ..Event::default()
                    });
                    if kind != TimerKind::Seq {
                        gone = true;
                    }
                }
            }
            SourceKind::Futex { .. } => {
                if comp.result != -libc::ECANCELED {
                    self.pending.push_back(Event {
                        udata,
                        kind: KIND_FUTEX,
                        error: if comp.result < 0 { -comp.result } else { 0 },
                        ..Event::default()
                    });
                }
                gone = true;
            }
            SourceKind::Signal { .. } => {}
        }
        if gone {
            if let Some(source) = self.sources.remove(&comp.token) {
                if comp.more {
                    self.disarm(comp.token, &source);
                } else {
                    // The kernel request has ended: nothing to cancel.
                    self.forget(comp.token);
                }
            }
        } else if rearm {
            self.arm(comp.token)?;
        }
        Ok(())
    }

    /// Whether the backend reads eventfd/timerfd/signalfd sources itself
    /// (io_uring multishot reads into provided buffers).
    fn reads_in_kernel(&self) -> bool {
        match &self.backend {
            Backend::IoUring(u) => u.reads_in_kernel(),
            Backend::Epoll(_) => false,
        }
    }

    /// Turns the count the kernel read for a counter source into an event.
    fn push_read(&mut self, udata: u64, data: &[u8; 8], len: i32) {
        if len == 8 {
            self.pending.push_back(Event {
                udata,
                kind: KIND_FD,
                value: u64::from_ne_bytes(*data),
                revents: libc::POLLIN as u32,
                ..Event::default()
            });
        }
    }

    /// Reads what a ready eventfd/timerfd/signalfd source holds.
    fn read_source(&mut self, token: u64) {
        let Some(source) = self.sources.get(&token) else {
            return;
        };
        let udata = source.udata;
        let (fd, reader) = match source.kind {
            SourceKind::Fd { fd, reader, .. } => (fd, reader),
            SourceKind::SignalFd => (
                self.signalfd.as_ref().map_or(-1, |f| f.as_raw_fd()),
                Reader::Signalfd,
            ),
            _ => return,
        };
        let mut buf = [0u8; 128];
        let counter = reader != Reader::Signalfd;
        for _ in 0..READS_PER_REPORT {
            let want = if counter { 8 } else { 128 };
            match sys::io::read_nowait(fd, &mut buf[..want]) {
                Ok(8) if counter => {
                    self.pending.push_back(Event {
                        udata,
                        kind: KIND_FD,
                        value: u64::from_ne_bytes(buf[..8].try_into().expect("8 bytes")),
                        revents: libc::POLLIN as u32,
                        ..Event::default()
                    });
                    // One read empties an eventfd or timerfd: no second
                    // read just to hear EAGAIN.
                    if reader == Reader::Counter {
                        return;
                    }
                }
                Ok(128) if !counter => {
                    // SAFETY: the kernel wrote a whole signalfd_siginfo.
                    let si: libc::signalfd_siginfo =
                        unsafe { core::ptr::read_unaligned(buf.as_ptr().cast()) };
                    self.push_siginfo(token, udata, &si);
                }
                Ok(_) => return,
                Err(Errno::EAGAIN) => return,
                Err(e) => {
                    self.pending.push_back(Event {
                        udata,
                        kind: KIND_FD,
                        error: e.0,
                        ..Event::default()
                    });
                    if token >= FIRST_USER_TOKEN {
                        if let Some(source) = self.sources.remove(&token) {
                            self.disarm(token, &source);
                        }
                    }
                    return;
                }
            }
        }
        // More to read than one report allows: come back next call.
        self.reread.push_back(token);
    }

    fn push_siginfo(&mut self, token: u64, udata: u64, si: &libc::signalfd_siginfo) {
        let event = Event {
            udata,
            kind: KIND_SIGNAL,
            value: si.ssi_ptr,
            signo: si.ssi_signo,
            code: si.ssi_code,
            pid: si.ssi_pid,
            uid: si.ssi_uid,
            status: si.ssi_status,
            ..Event::default()
        };
        if token != TOKEN_SIGNALFD {
            self.pending.push_back(event);
            return;
        }
        // The ring's own signalfd: one event per registration of the signal,
        // in registration order.
        let mut regs: Vec<(u64, u64)> = self
            .sources
            .iter()
            .filter(
                |(_, s)| matches!(s.kind, SourceKind::Signal { signo } if signo == si.ssi_signo),
            )
            .map(|(t, s)| (*t, s.udata))
            .collect();
        regs.sort_unstable();
        for (_, udata) in regs {
            self.pending.push_back(Event { udata, ..event });
        }
    }

    /// If the caller polls `evfd_ring_fd` and events stay buffered in user
    /// memory, that descriptor must still poll readable: make the notify
    /// eventfd (watched by the kernel side) readable once.
    fn keep_fd_readable(&mut self, posts: &PostQueue) -> Result<(), Errno> {
        let leftover = !self.pending.is_empty() || !self.reread.is_empty() || !posts.is_empty();
        if self.fd_exported && leftover && !self.kicked {
            sys::io::write_u64(self.notify.as_raw_fd(), 1)?;
            self.kicked = true;
        }
        Ok(())
    }
}

/// Whether `e` is an event of a source registered with `udata`: not a post
/// (posts stay after remove) and not the kind-0 `EOVERFLOW` record (it
/// belongs to no source; its udata is 0).
fn from_source(e: &Event, udata: u64) -> bool {
    e.kind != KIND_USER && e.kind != 0 && e.udata == udata
}
