// SPDX-License-Identifier: MIT OR Apache-2.0
//! The engine: sources, level semantics, signals, timers and event
//! assembly, over a backend that only arms kernel requests and reports
//! backend-neutral completions. One consumer thread drives it (see
//! `Ring::consumer`).
//!
//! Where events come from, in the order `collect` takes them: events made
//! earlier that did not fit in the caller's array, due timers, posts,
//! sources with more to read, then kernel completions. Timers and posts go
//! straight into the caller's array; only kernel completions, which can
//! make several events each, may leave some for the next call.

use super::backend::{Backend, BackendKind};
use super::completion::{Completion, Outcome};
use super::delivery::Delivery;
use super::event::{Event, KIND_FD, KIND_FUTEX};
use super::fd_reads::{read_ready, ReadEnd, Reader};
use super::posts::PostQueue;
use super::sources::{SourceKind, Sources, Token};
use super::timers::{base_of, Base, Deadline, Expired, TimerSpec, Timers, BASES};
use crate::errno::Errno;
use crate::sys;
use crate::timer_spec::{Clock, TimerType, When};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Internal sources' tokens (user tokens are at least 2^32).
const TOKEN_NOTIFY: Token = 1;
const TOKEN_SIGNALFD: Token = 2;
/// `TOKEN_CLOCK + base`: the kernel timer of each clock.
const TOKEN_CLOCK: Token = 3;

/// At most this many events are taken from user memory (posts, due
/// timers, held events) between two looks at the kernel's reports, where a
/// look costs a system call (epoll_wait on the epoll backend).
const KERNEL_POLL_EVERY: usize = 1024;

/// The signals a ring may deliver: 1..=64 but for SIGKILL and SIGSTOP
/// (which cannot be caught) and glibc's reserved 32 and 33 (as eventfs).
fn valid_signal(signo: i32) -> bool {
    (1..=64).contains(&signo)
        && signo != libc::SIGKILL
        && signo != libc::SIGSTOP
        && signo != 32
        && signo != 33
}

const POLL_BITS: u32 = (libc::POLLIN
    | libc::POLLPRI
    | libc::POLLOUT
    | libc::POLLRDNORM
    | libc::POLLRDBAND
    | libc::POLLWRNORM
    | libc::POLLWRBAND
    | libc::POLLRDHUP) as u32;

pub struct Engine {
    backend: Backend,
    sources: Sources,
    timers: Timers,
    /// Events made from kernel completions that did not fit.
    pending: VecDeque<Event>,
    /// Sources the ring reads with more to read than one report allowed.
    reread: VecDeque<Token>,
    /// Written by producers (posts) and by the engine to keep
    /// `evfd_ring_fd` readable.
    notify: OwnedFd,
    signalfd: Option<OwnedFd>,
    sigmask: u64,
    /// Each signal's registrations, oldest first (index: signal number).
    signal_regs: Vec<Vec<Token>>,
    /// The kernel timer of each clock, made on first use.
    clock_fds: [Option<OwnedFd>; 3],
    /// Whether the caller asked for `evfd_ring_fd`.
    fd_exported: bool,
    /// The notify eventfd was written by the engine and not seen yet.
    kicked: bool,
    completions: Vec<Completion>,
    expired: Vec<Expired>,
    tokens: Vec<Token>,
    /// Events taken from user memory since the kernel was last asked.
    user_events_since_poll: usize,
}

impl Engine {
    pub fn new(entries: u32) -> Result<Engine, Errno> {
        let notify = sys::kernel_objects::eventfd2(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)?;
        let mut backend = Backend::new(entries)?;
        backend.watch(
            TOKEN_NOTIFY,
            notify.as_raw_fd(),
            libc::POLLIN as u32,
            Reader::Counter,
        )?;
        backend.submit()?;
        let mut engine = Engine {
            backend,
            sources: Sources::new()?,
            timers: Timers::new(),
            pending: VecDeque::new(),
            reread: VecDeque::new(),
            notify,
            signalfd: None,
            sigmask: 0,
            signal_regs: Vec::new(),
            clock_fds: [None, None, None],
            fd_exported: false,
            kicked: false,
            completions: Vec::new(),
            expired: Vec::new(),
            tokens: Vec::new(),
            user_events_since_poll: 0,
        };
        // Made now, so that handing out `evfd_ring_fd` (which then needs it)
        // cannot fail, and adding a timer never makes a descriptor.
        engine.clock_fd(Base::Monotonic)?;
        Ok(engine)
    }

    pub fn kind(&self) -> BackendKind {
        self.backend.kind()
    }

    pub fn notify_fd(&self) -> RawFd {
        self.notify.as_raw_fd()
    }

    /// In a child after `fork`: threads the backend runs are the parent's.
    pub fn abandon_threads(&mut self) {
        self.backend.abandon_threads();
    }

    // ---- registration ---------------------------------------------------

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
        if self.owns_number(fd) {
            // The ring's own descriptor (its `evfd_ring_fd` or another).
            return Err(Errno::EINVAL);
        }
        let stale = match self.sources.by_fd(fd) {
            Some(old) => {
                let old_events = match self.sources.get(old).map(|s| &s.kind) {
                    Some(SourceKind::Fd { events, .. }) => u32::from(*events),
                    _ => 0,
                };
                if self.backend.same_file(old, fd, old_events)? {
                    return Err(Errno(libc::EEXIST));
                }
                Some(old)
            }
            None => None,
        };
        let reader = Reader::of(fd)?;
        let watched_events = u16::try_from(events).map_err(|_| Errno::EINVAL)?;
        let token = self.sources.insert(
            udata,
            SourceKind::Fd {
                fd,
                events: watched_events,
                reader,
            },
        )?;
        let watched = self
            .backend
            .watch(token, fd, events, reader)
            .and_then(|_| self.backend.submit());
        if let Err(e) = watched {
            self.backend.unwatch(token, fd, false);
            self.sources.remove(token);
            if let Some(old) = stale {
                // A failed call changes nothing: the number is the stale
                // source's again.
                self.sources.point_fd(fd, old);
            }
            return Err(e);
        }
        if let Some(old) = stale {
            // The caller closed it without removing it, and the number now
            // names another file: that source is gone (its watch is undone
            // by token only: the number is the new source's).
            self.drop_failed(old, Errno::EBADF);
        }
        Ok(())
    }

    pub fn add_signal(&mut self, signo: i32, udata: u64) -> Result<(), Errno> {
        if !valid_signal(signo) {
            return Err(Errno::EINVAL);
        }
        let small_signo = u8::try_from(signo).map_err(|_| Errno::EINVAL)?;
        let bit = 1u64 << signo.saturating_sub(1).clamp(0, 63);
        let new_mask = self.sigmask | bit;
        if self.signalfd.is_none() {
            let fd = sys::kernel_objects::signalfd4(
                -1,
                &new_mask,
                libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
            )?;
            // SAFETY: the kernel just created this descriptor for us.
            let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            self.evict_stale(fd.as_raw_fd());
            let watched = self
                .backend
                .watch(
                    TOKEN_SIGNALFD,
                    fd.as_raw_fd(),
                    libc::POLLIN as u32,
                    Reader::Signalfd,
                )
                .and_then(|_| self.backend.submit());
            if let Err(e) = watched {
                self.backend.unwatch(TOKEN_SIGNALFD, fd.as_raw_fd(), false);
                return Err(e);
            }
            self.signalfd = Some(fd);
        } else if new_mask != self.sigmask {
            let fd = self.signalfd.as_ref().map_or(-1, |f| f.as_raw_fd());
            sys::kernel_objects::signalfd4(fd, &new_mask, 0)?;
        }
        let index = usize::try_from(signo).unwrap_or(0);
        if self.signal_regs.len() <= index {
            self.signal_regs.resize_with(65, Vec::new);
        }
        let token = self
            .sources
            .insert(udata, SourceKind::Signal { signo: small_signo })?;
        self.sigmask = new_mask;
        if let Some(regs) = self.signal_regs.get_mut(index) {
            regs.push(token);
        }
        Ok(())
    }

    pub fn add_timer(
        &mut self,
        clock: Clock,
        kind: TimerType,
        when: When,
        udata: u64,
    ) -> Result<(), Errno> {
        let deadline = Deadline::of(clock, kind, when);
        let spec = TimerSpec::new(clock, deadline.as_ref());
        let token = self.sources.insert(udata, SourceKind::Timer(spec))?;
        let slot = Sources::slot_of(token);
        let armed = match deadline {
            Some(d) => self.timers.arm_new(&mut self.sources, slot, d),
            None => Ok(()),
        };
        if let Err(e) = armed.and_then(|_| self.sync_kernel_timers()) {
            self.timers.disarm(&mut self.sources, slot);
            self.sources.remove(token);
            return Err(e);
        }
        Ok(())
    }

    fn arm_timer(&mut self, token: Token, kind: TimerType, when: When) -> Result<(), Errno> {
        let spec = match self.sources.get(token).map(|s| &s.kind) {
            Some(SourceKind::Timer(spec)) => *spec,
            _ => return Err(Errno::ENOENT),
        };
        let slot = Sources::slot_of(token);
        let deadline = Deadline::of(spec.clock(), kind, when);
        if let Some(d) = &deadline {
            self.kernel_timer_for(&spec, d.base())?;
        }
        let armed = self.timers.arm(&mut self.sources, slot, spec, deadline)?;
        // Its settings hold its real deadline: new after every re-arm.
        if let Some(SourceKind::Timer(s)) = self.sources.get_mut(token).map(|s| &mut s.kind) {
            *s = armed;
        }
        Ok(())
    }

    /// A timer moved to another clock may need that clock's kernel timer,
    /// made on first use: the re-arm makes it before anything changes, so
    /// that a failure (EMFILE) leaves the timer as it was, not armed on a
    /// clock whose kernel timer every later call would fail to make.
    fn kernel_timer_for(&mut self, spec: &TimerSpec, base: Base) -> Result<(), Errno> {
        if !spec.on(base) && self.timers.in_kernel(base) {
            self.clock_fd(base)?;
        }
        Ok(())
    }

    /// Makes whatever re-arming the timers `tokens` as `kind`/`when` could
    /// fail for (a clock's kernel timer, heap and period room), so that
    /// they are all re-armed or, on failure, none is. Only the clocks the
    /// deadlines will be on matter here, not the deadlines (no clock read).
    fn prepare_rearm(
        &mut self,
        tokens: &[Token],
        kind: TimerType,
        when: When,
    ) -> Result<(), Errno> {
        if when.is_zero() {
            // Disarming: nothing to make room for.
            return Ok(());
        }
        let periodic = kind == TimerType::Sequential;
        for token in tokens {
            let spec = match self.sources.get(*token).map(|s| &s.kind) {
                Some(SourceKind::Timer(spec)) => *spec,
                _ => continue,
            };
            let base = base_of(spec.clock(), kind);
            self.kernel_timer_for(&spec, base)?;
            self.timers.reserve(base, tokens.len(), periodic)?;
        }
        Ok(())
    }

    /// Re-arms every timer registered under `udata` (DESIGN §4).
    pub fn rearm_timer(&mut self, udata: u64, kind: TimerType, when: When) -> Result<(), Errno> {
        // The common case, one source under `udata`, without the list.
        if let Some(token) = self.sources.sole_token_of(udata) {
            return self
                .arm_timer(token, kind, when)
                .and_then(|_| self.sync_kernel_timers());
        }
        let mut tokens = std::mem::take(&mut self.tokens);
        self.sources.tokens_of(udata, &mut tokens);
        tokens.retain(|t| {
            matches!(
                self.sources.get(*t).map(|s| &s.kind),
                Some(SourceKind::Timer(_))
            )
        });
        let result = if tokens.is_empty() {
            Err(Errno::ENOENT)
        } else {
            self.prepare_rearm(&tokens, kind, when)
                .and_then(|_| {
                    tokens
                        .iter()
                        .try_for_each(|t| self.arm_timer(*t, kind, when))
                })
                .and_then(|_| self.sync_kernel_timers())
        };
        self.tokens = tokens;
        result
    }

    pub fn add_futex(&mut self, uaddr: *const u32, expected: u32, udata: u64) -> Result<(), Errno> {
        if uaddr.is_null() {
            return Err(Errno::EFAULT);
        }
        if (uaddr as usize) % 4 != 0 {
            return Err(Errno::EINVAL);
        }
        let token = self.sources.insert(udata, SourceKind::Futex)?;
        if let Err(e) = self.backend.wait_futex(token, uaddr, expected) {
            self.sources.remove(token);
            return Err(e);
        }
        // The first wait may have made the helpers' descriptor.
        if let Some(fd) = self.backend.helper_fd() {
            self.evict_stale(fd);
        }
        Ok(())
    }

    pub fn remove(&mut self, udata: u64) -> Result<(), Errno> {
        let mut tokens = std::mem::take(&mut self.tokens);
        self.sources.tokens_of(udata, &mut tokens);
        let found = !tokens.is_empty();
        for token in &tokens {
            self.remove_source(*token);
        }
        self.tokens = tokens;
        // Events of its sources not delivered yet are not delivered: after
        // remove() returns, the udata is silent. A one-shot source whose
        // event is still held (a small `max`) is not gone for the caller
        // until then, so removing it succeeds. Posts are not sources.
        let held = self.pending.len();
        self.pending.retain(|e| !e.is_from_source(udata));
        if !found && self.pending.len() == held {
            return Err(Errno::ENOENT);
        }
        self.backend.submit()
    }

    /// Unregisters one source and stops its kernel request.
    fn remove_source(&mut self, token: Token) {
        if let Some(SourceKind::Timer(_)) = self.sources.get(token).map(|s| &s.kind) {
            // While the slot still holds the timer's heap position.
            self.timers
                .disarm(&mut self.sources, Sources::slot_of(token));
        }
        let Some(source) = self.sources.remove(token) else {
            return;
        };
        match source.kind {
            SourceKind::Fd { fd, .. } => {
                // The number may name another source's file now, or one of
                // the ring's own: then nothing is undone by number.
                let taken = self.owns_number(fd) || self.sources.by_fd(fd).is_some();
                self.backend.unwatch(token, fd, taken);
                self.reread.retain(|t| *t != token);
            }
            SourceKind::Signal { signo } => {
                if let Some(regs) = self.signal_regs.get_mut(signo as usize) {
                    regs.retain(|t| *t != token);
                }
                self.refresh_sigmask();
            }
            SourceKind::Timer(_) => {}
            SourceKind::Futex => self.backend.cancel_futex(token),
        }
    }

    /// Whether `fd` is the number of one of the ring's own descriptors: a
    /// source registered under it is then stale (the caller closed it and
    /// the ring got the number), and undoing its watch by number would undo
    /// the ring's own.
    fn owns_number(&self, fd: RawFd) -> bool {
        self.backend.owns(fd)
            || self.notify.as_raw_fd() == fd
            || self.signalfd.as_ref().is_some_and(|s| s.as_raw_fd() == fd)
            || self.clock_fds.iter().flatten().any(|c| c.as_raw_fd() == fd)
    }

    /// The ring just made a descriptor numbered `fd`: a source still
    /// registered under that number is stale (the caller closed it without
    /// removing it). It is dropped now, with its `EBADF` event, so that
    /// nothing of it is watched again on the ring's own file (io_uring
    /// re-arms a one-shot poll by number).
    fn evict_stale(&mut self, fd: RawFd) {
        if let Some(old) = self.sources.by_fd(fd) {
            self.drop_failed(old, Errno::EBADF);
        }
    }

    /// A source failed: one event with `errno`, and it is gone.
    fn drop_failed(&mut self, token: Token, errno: Errno) {
        let Some(source) = self.sources.get(token) else {
            return;
        };
        let kind = match source.kind {
            SourceKind::Futex => KIND_FUTEX,
            _ => KIND_FD,
        };
        self.pending
            .push_back(Event::failed(source.udata, kind, errno.0));
        self.remove_source(token);
    }

    fn refresh_sigmask(&mut self) {
        let mut mask = 0u64;
        for (signo, regs) in self.signal_regs.iter().enumerate() {
            if !regs.is_empty() && signo >= 1 {
                mask |= 1u64 << (signo.saturating_sub(1) & 63);
            }
        }
        if let Some(fd) = &self.signalfd {
            // Narrowing a mask cannot fail for a valid signalfd; a failure
            // would only leave extra signals read and dropped.
            let _ = sys::kernel_objects::signalfd4(fd.as_raw_fd(), &mask, 0);
        }
        self.sigmask = mask;
    }

    /// Sets each clock's kernel timer to its earliest deadline where that
    /// changed; makes the timer on the clock's first use.
    #[inline]
    fn sync_kernel_timers(&mut self) -> Result<(), Errno> {
        if !self.timers.kernel_may_change() {
            // The common case on every add, re-arm and remove of a timer.
            return Ok(());
        }
        self.set_kernel_timers()
    }

    #[inline(never)]
    fn set_kernel_timers(&mut self) -> Result<(), Errno> {
        let changes = self.timers.kernel_changes();
        for (base, change) in BASES.iter().zip(changes) {
            let Some(deadline) = change else {
                continue;
            };
            if let Err(e) = self.set_kernel_timer(*base, deadline) {
                self.timers.kernel_unknown(*base);
                return Err(e);
            }
        }
        Ok(())
    }

    fn set_kernel_timer(&mut self, base: Base, deadline: u64) -> Result<(), Errno> {
        if deadline == 0
            && self
                .clock_fds
                .get(base as usize)
                .is_some_and(|f| f.is_none())
        {
            return Ok(());
        }
        let tfd = self.clock_fd(base)?;
        let zero = sys::clock::ns_timespec(0);
        let spec = libc::itimerspec {
            it_interval: zero,
            it_value: sys::clock::ns_timespec(deadline),
        };
        sys::kernel_objects::timerfd_settime(tfd, libc::TFD_TIMER_ABSTIME, &spec)
    }

    /// The kernel timer of `base`, made and watched on first use.
    fn clock_fd(&mut self, base: Base) -> Result<RawFd, Errno> {
        let i = base as usize;
        if let Some(Some(tfd)) = self.clock_fds.get(i) {
            return Ok(tfd.as_raw_fd());
        }
        let tfd = sys::kernel_objects::timerfd_create(
            base.clockid(),
            libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
        )?;
        let token = TOKEN_CLOCK.saturating_add(i as u64);
        self.evict_stale(tfd.as_raw_fd());
        self.backend
            .watch(token, tfd.as_raw_fd(), libc::POLLIN as u32, Reader::None)?;
        if let Err(e) = self.backend.submit() {
            self.backend.unwatch(token, tfd.as_raw_fd(), false);
            return Err(e);
        }
        let raw = tfd.as_raw_fd();
        if let Some(slot) = self.clock_fds.get_mut(i) {
            *slot = Some(tfd);
        }
        Ok(raw)
    }

    // ---- delivery ---------------------------------------------------------

    /// Fills `out`; returns how many events it holds. No system call while
    /// events are pending in user memory (or, on io_uring, in the mapped
    /// completion queue), except for the reads of ready sources the ring
    /// reads itself.
    pub fn collect(&mut self, out: &mut [Event], posts: &PostQueue) -> Result<usize, Errno> {
        let mut d = Delivery::new(out);
        // Events from user memory are returned without a system call; the
        // kernel is asked too when there is room, unless that costs one.
        // Then it is asked first at least once per KERNEL_POLL_EVERY events
        // taken from user memory, so a stream of posts or timers never
        // starves fd readiness.
        if self.user_events_since_poll >= KERNEL_POLL_EVERY {
            d.take_pending(&mut self.pending);
            // Re-arms queued since the ring last entered the kernel (a
            // one-shot poll that reported: on io_uring they go in with the
            // next enter, which a stream that never runs dry never makes)
            // go in now, or a level-triggered fd would be reported once
            // and then not again until the stream paused. One system call
            // per KERNEL_POLL_EVERY events at most, as epoll's wait here.
            let polled = self.backend.submit().and_then(|_| self.poll_kernel(&mut d));
            d.kept_on_failure(&mut self.pending, polled)?;
        }
        d.take_pending(&mut self.pending);
        if !d.is_full() {
            let n = self.deliver_due_timers(d.rest());
            d.advance(n);
        }
        if !d.is_full() {
            let n = posts.take(d.rest());
            d.advance(n);
        }
        self.user_events_since_poll = self.user_events_since_poll.saturating_add(d.taken());
        let from_user_memory = d.taken() > 0;
        if !d.is_full() {
            let polled = if !from_user_memory {
                self.poll_kernel(&mut d)
            } else if self.backend.reaps_without_syscall() {
                self.reap(&mut d)
            } else {
                Ok(())
            };
            d.kept_on_failure(&mut self.pending, polled)?;
            d.take_pending(&mut self.pending);
        }
        Ok(d.taken())
    }

    /// Sources to read again, then the kernel's reports.
    fn poll_kernel(&mut self, d: &mut Delivery<'_>) -> Result<(), Errno> {
        self.user_events_since_poll = 0;
        self.process_rereads(d);
        if !d.is_full() {
            self.reap(d)?;
        }
        Ok(())
    }

    /// Before the caller sleeps or is told nothing is pending (when a
    /// system call is fine): moves each clock's kernel timer to its
    /// earliest deadline where that changed, and hands queued requests to
    /// the kernel.
    pub fn settle(&mut self) -> Result<(), Errno> {
        self.sync_kernel_timers()?;
        // Completions reaped before may have queued re-arms (a kernel
        // timer that fired is watched again): a caller polling
        // `evfd_ring_fd` sleeps next, so they must be in the kernel now.
        // Nothing queued: no system call.
        self.backend.submit()
    }

    /// Whether events are held in user memory (not counting due timers).
    pub fn holds_events(&self) -> bool {
        !self.pending.is_empty() || !self.reread.is_empty()
    }

    /// Due timers, straight into `out`.
    fn deliver_due_timers(&mut self, out: &mut [Event]) -> usize {
        if out.is_empty() || !self.timers.any_armed() {
            return 0;
        }
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        self.timers
            .pop_due(&mut self.sources, out.len(), &mut expired);
        let mut n = 0;
        for e in &expired {
            let Some(token) = self.sources.token_of_slot(e.slot) else {
                continue;
            };
            let Some(source) = self.sources.get(token) else {
                continue;
            };
            let Some(slot) = out.get_mut(n) else {
                break;
            };
            *slot = Event::timer(source.udata, e.expirations);
            n = n.saturating_add(1);
            if !e.periodic {
                // Fired and delivered: a one-shot timer is gone.
                self.sources.remove(token);
            }
        }
        self.expired = expired;
        n
    }

    /// Reads again the sources that had more than one report's worth.
    fn process_rereads(&mut self, d: &mut Delivery<'_>) {
        let rounds = self.reread.len();
        for _ in 0..rounds {
            if d.is_full() {
                break;
            }
            let Some(token) = self.reread.pop_front() else {
                break;
            };
            self.read_source(d, token);
        }
    }

    /// Takes up to `want` kernel completions and turns them into events
    /// (one round: a level-triggered source must not be reported twice in
    /// one call).
    fn reap(&mut self, d: &mut Delivery<'_>) -> Result<(), Errno> {
        let mut completions = std::mem::take(&mut self.completions);
        completions.clear();
        let lost = self.backend.reap(&mut completions, d.room().max(16));
        let lost = match lost {
            Ok(lost) => lost,
            Err(e) => {
                self.completions = completions;
                return Err(e);
            }
        };
        if lost > 0 {
            d.push(&mut self.pending, Event::overflow(lost));
        }
        for c in &completions {
            self.complete(d, c.token, c.outcome);
        }
        self.completions = completions;
        Ok(())
    }

    /// One completion.
    fn complete(&mut self, d: &mut Delivery<'_>, token: Token, outcome: Outcome) {
        match token {
            TOKEN_NOTIFY => {
                self.kicked = false;
                if let Outcome::Ready(_) = outcome {
                    // Level-triggered there: reset it (on io_uring the
                    // kernel read it).
                    let mut buf = [0u8; 8];
                    let _ = sys::io::read_nowait(self.notify.as_raw_fd(), &mut buf);
                }
                return;
            }
            TOKEN_SIGNALFD => {
                if let Outcome::Ready(_) = outcome {
                    self.read_source(d, token);
                }
                return;
            }
            t if (TOKEN_CLOCK..TOKEN_CLOCK.saturating_add(3)).contains(&t) => {
                if let Some(base) =
                    BASES.get(usize::try_from(t.saturating_sub(TOKEN_CLOCK)).unwrap_or(3))
                {
                    self.timers.kernel_timer_fired(*base);
                }
                return;
            }
            _ => {}
        }
        let Some(source) = self.sources.get(token) else {
            // A removed source's last words.
            return;
        };
        let udata = source.udata;
        match (&source.kind, outcome) {
            (SourceKind::Futex, Outcome::Woken) => {
                d.push(&mut self.pending, Event::futex(udata, 0));
                self.sources.remove(token);
            }
            (SourceKind::Futex, Outcome::Failed(e)) => {
                d.push(&mut self.pending, Event::futex(udata, e.0));
                self.sources.remove(token);
            }
            (SourceKind::Fd { .. }, Outcome::Failed(e)) => {
                // The backend watches it no more.
                d.push(&mut self.pending, Event::failed(udata, KIND_FD, e.0));
                self.reread.retain(|t| *t != token);
                self.sources.remove(token);
            }
            (SourceKind::Fd { .. }, Outcome::Count(value)) => {
                d.push(&mut self.pending, Event::fd_count(udata, value));
            }
            (SourceKind::Fd { reader, .. }, Outcome::Ready(revents)) => {
                if reader.reads() && revents & libc::POLLIN as u32 != 0 {
                    self.read_source(d, token);
                } else {
                    d.push(&mut self.pending, Event::fd_ready(udata, revents));
                }
            }
            _ => {}
        }
    }

    /// Reads what a ready source the ring reads holds: an eventfd, timerfd
    /// or signalfd added with `add_fd`, or the ring's own signalfd, whose
    /// records go to every registration of their signal, oldest first.
    #[inline(always)]
    fn read_source(&mut self, d: &mut Delivery<'_>, token: Token) {
        let pending = &mut self.pending;
        let end = if token == TOKEN_SIGNALFD {
            let Some(fd) = &self.signalfd else {
                return;
            };
            let (sources, regs) = (&self.sources, &self.signal_regs);
            read_ready(fd.as_raw_fd(), Reader::Signalfd, 0, |event| {
                let targets = regs
                    .get(event.signo as usize)
                    .map_or(&[][..], |r| r.as_slice());
                for t in targets {
                    if let Some(s) = sources.get(*t) {
                        d.push(
                            pending,
                            Event {
                                udata: s.udata,
                                ..event
                            },
                        );
                    }
                }
            })
        } else {
            let Some(source) = self.sources.get(token) else {
                return;
            };
            let SourceKind::Fd { fd, reader, .. } = source.kind else {
                return;
            };
            read_ready(fd, reader, source.udata, |event| d.push(pending, event))
        };
        match end {
            ReadEnd::Drained => {}
            ReadEnd::More => self.reread.push_back(token),
            ReadEnd::Failed(e) if token != TOKEN_SIGNALFD => self.drop_failed(token, e),
            ReadEnd::Failed(_) => {}
        }
    }

    /// Events held in user memory must keep `evfd_ring_fd` readable for a
    /// caller who polls it: make the notify eventfd (watched by the
    /// backend) readable once.
    pub fn keep_fd_readable(&mut self, posts: &PostQueue) -> Result<(), Errno> {
        if !self.fd_exported || self.kicked {
            return Ok(());
        }
        if self.holds_events() || !posts.is_empty() || self.timers.any_due() {
            sys::io::write_u64(self.notify.as_raw_fd(), 1)?;
            self.kicked = true;
        }
        Ok(())
    }

    /// Hands queued requests to the kernel.
    pub fn submit(&mut self) -> Result<(), Errno> {
        self.backend.submit()
    }

    /// Sleeps in the kernel until something completes or `timeout`.
    pub fn sleep(&mut self, timeout: Option<&libc::timespec>) -> Result<(), Errno> {
        self.backend.wait(timeout)
    }

    /// The descriptor that polls readable while events are pending.
    pub fn export_fd(&mut self) -> RawFd {
        self.fd_exported = true;
        // A caller polling the descriptor does not call `wait`, so the
        // monotonic kernel timer must keep the earliest deadline from now
        // on. Its descriptor exists (made with the engine), so setting it
        // cannot fail for want of one; were it to fail, it stays marked
        // for setting and the next call retries.
        self.timers.keep_monotonic_in_kernel();
        let _ = self.sync_kernel_timers();
        self.backend.fd()
    }

    /// The earliest monotonic timer deadline: `wait` sleeps no later
    /// (only a caller polling `evfd_ring_fd` has a kernel timer for it).
    pub fn next_monotonic_deadline(&self) -> Option<u64> {
        self.timers.earliest(Base::Monotonic)
    }
}
