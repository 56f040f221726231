// SPDX-License-Identifier: MIT OR Apache-2.0
//! The posts queue: `evfd_ring_post` from any thread, taken by the one
//! consumer, every post one event, in order per producer.
//!
//! A bounded lock-free ring of slots takes posts without allocating: a
//! producer claims a position with one compare-and-swap on `enqueue` (after
//! checking, against the consumer's published `dequeue`, that the slot is
//! free), writes the slot, and publishes it by swapping the position into
//! the slot's sequence number. The consumer copies published slots straight
//! into the caller's array, writing nothing to them, and publishes how far
//! it got (`dequeue`) once per batch, so the slots' cache lines travel from
//! producer to consumer and not back. When the ring is full, producers
//! switch to a mutex-protected overflow list, and stay there until the
//! consumer has emptied it, so that a producer's posts are never reordered
//! (see `take`).
//!
//! Wake-ups: the consumer raises `waiting` when it has seen the queue empty
//! (it may sleep or return to a poll loop next); the first producer that
//! posts after that clears it and owes the consumer one write of the
//! ring's notify eventfd. A burst of posts therefore costs one wake-up, and
//! a stream to a consumer that keeps finding posts costs none. A producer's
//! claim (a SeqCst compare-and-swap) and the consumer's store of `waiting`
//! are sequentially consistent, so one side always sees the other; a post
//! claimed before the consumer looked is one the consumer waits for (a few
//! instructions) instead of sleeping. One locked instruction per post.

use super::event::Event;
use super::tsan;
use crate::errno::Errno;
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Slots in the lock-free part (a power of two).
const SLOTS: usize = 16384;
const MASK: u64 = (SLOTS as u64) - 1;

struct Slot {
    /// `position + 1` once the producer that claimed `position` published
    /// it (0: never written).
    seq: AtomicU64,
    post: UnsafeCell<(u64, u64)>,
}

/// A value alone on its cache line, so producers and the consumer do not
/// share lines they write.
#[repr(align(64))]
struct Line<T>(T);

pub struct PostQueue {
    slots: Box<[Slot]>,
    /// Positions claimed by producers so far.
    enqueue: Line<AtomicU64>,
    /// Positions the consumer has read, published once per batch.
    dequeue: Line<AtomicU64>,
    /// The consumer saw the queue empty and wants a wake-up.
    waiting: Line<AtomicBool>,
    /// Set while producers must append to `overflow`.
    overflowing: AtomicBool,
    overflow: tsan::Lock<VecDeque<(u64, u64)>>,
    /// The consumer's own position (consumer only).
    head: UnsafeCell<u64>,
    /// Posts the consumer took from `overflow` and has not delivered yet
    /// (consumer only).
    spill: UnsafeCell<VecDeque<(u64, u64)>>,
}

// SAFETY: a slot's `post` is written only by the producer that claimed its
// position (the compare-and-swap on `enqueue` makes the claim exclusive,
// and the check against `dequeue` that the consumer has read the slot's
// previous lap) before the swap that publishes it, and read only by the
// consumer after the acquire load that sees that swap; `head` and `spill`
// are touched only by the one consumer (the contract of `take`, `is_empty`
// and `consumer_idle`).
unsafe impl Sync for PostQueue {}
// SAFETY: as above; nothing is tied to a thread.
unsafe impl Send for PostQueue {}

/// The slots, from zeroed memory (all-zero is a valid empty slot): a large
/// allocation comes from the kernel as untouched zero pages, so a ring's
/// queue costs memory only as far as posts have reached.
fn zeroed_slots() -> Result<Box<[Slot]>, Errno> {
    let layout = std::alloc::Layout::array::<Slot>(SLOTS).map_err(|_| Errno::ENOMEM)?;
    // SAFETY: the layout has a non-zero size (SLOTS slots of 24 bytes).
    let p = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Slot>();
    if p.is_null() {
        return Err(Errno::ENOMEM);
    }
    // SAFETY: `p` is a fresh allocation of exactly SLOTS slots with Box's
    // allocator and layout; `Slot` is an AtomicU64 and an UnsafeCell of two
    // u64s, for which all-zero bytes are a valid value (seq 0: never
    // written).
    Ok(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(p, SLOTS)) })
}

impl PostQueue {
    pub fn new() -> Result<PostQueue, Errno> {
        let slots = zeroed_slots()?;
        Ok(PostQueue {
            slots,
            enqueue: Line(AtomicU64::new(0)),
            dequeue: Line(AtomicU64::new(0)),
            waiting: Line(AtomicBool::new(false)),
            overflowing: AtomicBool::new(false),
            overflow: tsan::Lock::new(VecDeque::new()),
            head: UnsafeCell::new(0),
            spill: UnsafeCell::new(VecDeque::new()),
        })
    }

    fn slot(&self, position: u64) -> Option<&Slot> {
        self.slots.get(usize::try_from(position & MASK).ok()?)
    }

    /// Queues one post; any thread. Returns whether the caller must wake
    /// the consumer (one notify write); `ENOMEM` if the overflow list
    /// cannot grow (nothing was queued).
    pub fn push(&self, udata: u64, value: u64) -> Result<bool, Errno> {
        if !self.overflowing.load(Ordering::Acquire) && self.push_lock_free(udata, value) {
            // The claiming compare-and-swap was SeqCst: no fence is needed
            // before this load (see `consumer_idle`).
            return Ok(self.wake_owed());
        }
        self.push_overflow(udata, value)
    }

    /// The lock-free path; false when the ring of slots is full.
    fn push_lock_free(&self, udata: u64, value: u64) -> bool {
        let mut position = self.enqueue.0.load(Ordering::Relaxed);
        loop {
            let read = self.dequeue.0.load(Ordering::Acquire);
            if position.wrapping_sub(read) >= SLOTS as u64 {
                return false;
            }
            match self.enqueue.0.compare_exchange_weak(
                position,
                position.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => position = now,
            }
        }
        let Some(slot) = self.slot(position) else {
            return false;
        };
        tsan::release(&slot.seq);
        // SAFETY: the compare-and-swap made this position ours, and the
        // consumer has read the slot's previous lap (`dequeue` was past it:
        // acquire above, release in `take`).
        unsafe { *slot.post.get() = (udata, value) };
        slot.seq.store(position.wrapping_add(1), Ordering::Release);
        true
    }

    /// The overflow path; returns whether the caller owes a wake-up. The
    /// wake-up is decided under the lock, which `consumer_idle` takes too:
    /// either the consumer saw this post, or this producer sees `waiting`.
    fn push_overflow(&self, udata: u64, value: u64) -> Result<bool, Errno> {
        let mut list = self.overflow.lock();
        list.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        self.overflowing.store(true, Ordering::Release);
        list.push_back((udata, value));
        Ok(self.waiting.0.load(Ordering::Relaxed) && self.waiting.0.swap(false, Ordering::AcqRel))
    }

    /// After publishing: whether this producer is the one to wake the
    /// consumer.
    fn wake_owed(&self) -> bool {
        self.waiting.0.load(Ordering::SeqCst) && self.waiting.0.swap(false, Ordering::AcqRel)
    }

    /// Copies posts, oldest first per producer, into `out`; returns how
    /// many. Consumer only.
    pub fn take(&self, out: &mut [Event]) -> usize {
        // SAFETY: consumer only (this method's contract, kept by Engine).
        let spill = unsafe { &mut *self.spill.get() };
        let mut n = 0;
        loop {
            for slot in out.iter_mut().skip(n) {
                let Some((udata, value)) = spill.pop_front().or_else(|| self.take_one()) else {
                    break;
                };
                *slot = Event::user(udata, value);
                n = n.saturating_add(1);
            }
            let room = n < out.len() && spill.is_empty();
            if !room || !self.overflowing.load(Ordering::Acquire) || !self.take_overflow(spill) {
                break;
            }
        }
        if n > 0 {
            // SAFETY: consumer only.
            let head = unsafe { *self.head.get() };
            self.dequeue.0.store(head, Ordering::Release);
        }
        n
    }

    /// The next published slot, if any (the consumer's `head` advances;
    /// `take` publishes it).
    fn take_one(&self) -> Option<(u64, u64)> {
        // SAFETY: consumer only.
        let head = unsafe { &mut *self.head.get() };
        let slot = self.slot(*head)?;
        if slot.seq.load(Ordering::Acquire) != head.wrapping_add(1) {
            return None;
        }
        tsan::acquire(&slot.seq);
        // SAFETY: the acquire load saw the producer's publishing swap: the
        // post is written, and no producer writes the slot again before the
        // consumer publishes a `dequeue` past it.
        let post = unsafe { *slot.post.get() };
        *head = head.wrapping_add(1);
        Some(post)
    }

    /// Moves the overflow list into `spill`, once no post claimed in the
    /// lock-free ring is still unread: a producer's posts in the ring came
    /// before its posts in the list, which is delivered after them.
    /// Returns whether it took any.
    fn take_overflow(&self, spill: &mut VecDeque<(u64, u64)>) -> bool {
        // SAFETY: consumer only.
        let head = unsafe { *self.head.get() };
        if self.enqueue.0.load(Ordering::Acquire) != head {
            return false;
        }
        let mut list = self.overflow.lock();
        std::mem::swap(spill, &mut list);
        self.overflowing.store(false, Ordering::Release);
        !spill.is_empty()
    }

    /// Whether no post is waiting. Consumer only.
    pub fn is_empty(&self) -> bool {
        // SAFETY: consumer only.
        let (spill, head) = unsafe { (&*self.spill.get(), *self.head.get()) };
        spill.is_empty()
            && self.slot(head).map_or(true, |s| {
                s.seq.load(Ordering::SeqCst) != head.wrapping_add(1)
            })
            && self.enqueue.0.load(Ordering::SeqCst) == head
            && !self.overflowing.load(Ordering::SeqCst)
    }

    /// The consumer found nothing to do and may sleep: ask for a wake-up.
    /// Returns true if posts arrived meanwhile (then it should not sleep).
    /// A post claimed but not yet published counts as arrived: its producer
    /// may have looked at `waiting` before this store, so the consumer must
    /// not sleep on it.
    pub fn consumer_idle(&self) -> bool {
        self.waiting.0.store(true, Ordering::SeqCst);
        // A producer looks at `waiting` after its (SeqCst) claim of a
        // position: if the claim is not visible here, that producer sees
        // `waiting`; if it is, the post is this consumer's to wait for, as
        // the producer may have looked before the store above. Its slot is
        // a few instructions from published (or its thread was preempted:
        // then give it the CPU).
        // SAFETY: consumer only.
        let head = unsafe { *self.head.get() };
        if self.enqueue.0.load(Ordering::SeqCst) != head {
            let mut spins = 0u32;
            while self
                .slot(head)
                .is_some_and(|s| s.seq.load(Ordering::Acquire) != head.wrapping_add(1))
            {
                spins = spins.saturating_add(1);
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    crate::sys::signal_safe::yield_now();
                }
            }
            return true;
        }
        if !self.is_empty() {
            return true;
        }
        // Overflowing producers look at `waiting` under the lock: after
        // this lock, one that pushed before it is seen, and one that pushes
        // after it sees `waiting`.
        !self.overflow.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]
    use super::*;
    use std::sync::Arc;

    fn drain(q: &PostQueue) -> Vec<(u64, u64)> {
        let mut out = vec![Event::default(); 100];
        let mut all = Vec::new();
        loop {
            let n = q.take(&mut out);
            if n == 0 && q.is_empty() {
                return all;
            }
            all.extend(out[..n].iter().map(|e| (e.udata, e.value)));
        }
    }

    #[test]
    fn one_producer_in_order_past_the_ring_size() {
        let q = PostQueue::new().unwrap();
        for i in 0..(3 * SLOTS as u64) {
            q.push(1, i).unwrap();
        }
        let got = drain(&q);
        assert_eq!(got.len(), 3 * SLOTS);
        assert!(got.iter().enumerate().all(|(i, p)| *p == (1, i as u64)));
        assert!(q.is_empty());
    }

    #[test]
    fn wake_owed_once_per_idle() {
        let q = PostQueue::new().unwrap();
        assert!(
            !q.push(1, 1).unwrap(),
            "no wake-up before the consumer idles"
        );
        assert_eq!(drain(&q).len(), 1);
        assert!(!q.consumer_idle());
        assert!(q.push(1, 2).unwrap(), "the first post after idling wakes");
        assert!(!q.push(1, 3).unwrap(), "the second does not");
    }

    #[test]
    fn many_producers_keep_their_order() {
        let q = Arc::new(PostQueue::new().unwrap());
        const PER: u64 = 20_000;
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let q = Arc::clone(&q);
                std::thread::spawn(move || {
                    for i in 0..PER {
                        q.push(p, i).unwrap();
                    }
                })
            })
            .collect();
        let mut next = [0u64; 4];
        let mut out = vec![Event::default(); 64];
        let mut total = 0;
        while total < 4 * PER {
            let n = q.take(&mut out);
            for e in &out[..n] {
                assert_eq!(e.value, next[e.udata as usize], "producer {}", e.udata);
                next[e.udata as usize] += 1;
            }
            total += n as u64;
        }
        producers.into_iter().for_each(|t| t.join().unwrap());
        assert!(q.is_empty());
    }
}
