// SPDX-License-Identifier: MIT OR Apache-2.0
//! ThreadSanitizer sees a C program's mallocs and frees but not this
//! library's (uninstrumented) atomics, so a post allocated by one thread and
//! freed by the consumer looks like a race to it. When the program runs
//! under TSan, its runtime exports `__tsan_release`/`__tsan_acquire`: the
//! posts queue tells it about the happens-before edge it creates. Elsewhere
//! the symbols are absent and this costs one relaxed load (the posts
//! queue asks [`active`] once and keeps the calls out of its hot path).
use std::sync::atomic::{AtomicUsize, Ordering};

type Annotate = unsafe extern "C" fn(*const libc::c_void);

/// 0: not looked up yet; 1: absent; else the two function addresses.
static RELEASE: AtomicUsize = AtomicUsize::new(0);
static ACQUIRE: AtomicUsize = AtomicUsize::new(0);

/// The annotation function in `slot`, looked up on first use.
#[inline(always)]
fn lookup(slot: &AtomicUsize, name: &core::ffi::CStr) -> Option<Annotate> {
    let addr = match slot.load(Ordering::Relaxed) {
        0 => look_up_first(slot, name),
        addr => addr,
    };
    if addr == 1 {
        None
    } else {
        // SAFETY: the address is TSan's exported function of this type.
        Some(unsafe { core::mem::transmute::<usize, Annotate>(addr) })
    }
}

#[cold]
#[inline(never)]
fn look_up_first(slot: &AtomicUsize, name: &core::ffi::CStr) -> usize {
    // dlsym may set errno even when it finds nothing to complain about;
    // the calls this runs in leave errno alone on success.
    let saved = crate::errno::get();
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
    // whole process.
    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize;
    crate::errno::set(saved);
    let addr = if found == 0 { 1 } else { found };
    slot.store(addr, Ordering::Relaxed);
    addr
}

/// Whether the program runs under TSan (the annotations do something).
pub fn active() -> bool {
    lookup(&RELEASE, c"__tsan_release").is_some() && lookup(&ACQUIRE, c"__tsan_acquire").is_some()
}

/// [`active`] once it has been asked (false before): one load, no call,
/// for a hot path that keeps the annotations out of line and asked
/// [`active`] when it was set up.
#[inline(always)]
pub fn known_active() -> bool {
    RELEASE.load(Ordering::Relaxed) > 1
}

#[inline(always)]
pub fn release<T>(addr: &T) {
    if let Some(f) = lookup(&RELEASE, c"__tsan_release") {
        // SAFETY: TSan only uses the address as a key.
        unsafe { f((addr as *const T).cast()) }
    }
}

#[inline(always)]
pub fn acquire<T>(addr: &T) {
    if let Some(f) = lookup(&ACQUIRE, c"__tsan_acquire") {
        // SAFETY: as in `release`.
        unsafe { f((addr as *const T).cast()) }
    }
}

/// A mutex ThreadSanitizer can see. std's `Mutex` is built on atomics and
/// futex calls in this (uninstrumented) library, so to TSan two threads
/// that take turns under it look like a race. This one tells TSan about
/// each hand-over: acquire after locking, release before unlocking.
pub struct Lock<T>(std::sync::Mutex<T>);

pub struct Guard<'a, T>(std::sync::MutexGuard<'a, T>, &'a std::sync::Mutex<T>);

impl<T> Lock<T> {
    pub fn new(value: T) -> Lock<T> {
        Lock(std::sync::Mutex::new(value))
    }

    /// Whether another thread holds the lock now (for tests).
    #[cfg(test)]
    pub fn is_held(&self) -> bool {
        matches!(self.0.try_lock(), Err(std::sync::TryLockError::WouldBlock))
    }

    pub fn lock(&self) -> Guard<'_, T> {
        // A poisoned lock would mean a panic while holding it, which aborts
        // in this library: the data is intact.
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        acquire(&self.0);
        Guard(guard, &self.0)
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        release(self.1);
    }
}

impl<T> core::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> core::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
