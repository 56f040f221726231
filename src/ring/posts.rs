// SPDX-License-Identifier: MIT OR Apache-2.0
//! The posts queue: `evfd_ring_post` from any thread, taken by the one
//! consumer, every post one event, in order per producer.
//!
//! A bounded lock-free ring of slots (each with a sequence number, as in
//! Dmitry Vyukov's bounded queue) takes posts without allocating: a producer
//! claims a slot with one compare-and-swap on the enqueue position, writes
//! it, and publishes it with a release store of the slot's sequence; the
//! consumer copies slots straight into the caller's array. When the ring
//! is full, producers switch to a mutex-protected overflow list, and stay
//! there until the consumer has emptied it, so that a producer's posts are
//! never reordered (see `take`).
//!
//! Wake-ups: the consumer raises `waiting` when it has seen the queue empty
//! (it may sleep or return to a poll loop next); the first producer that
//! publishes after that clears it and owes the consumer one write of the
//! ring's notify eventfd. A burst of posts therefore costs one wake-up.

use super::event::Event;
use super::tsan;
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};

/// Slots in the lock-free part (a power of two).
const SLOTS: usize = 1024;
const MASK: u64 = (SLOTS as u64) - 1;

struct Slot {
    /// `position` when free for the producer claiming `position`;
    /// `position + 1` once that producer published it.
    seq: AtomicU64,
    post: UnsafeCell<(u64, u64)>,
}

pub struct PostQueue {
    slots: Box<[Slot]>,
    /// Positions claimed by producers so far.
    enqueue: AtomicU64,
    /// Positions taken by the consumer so far (only the consumer writes).
    dequeue: AtomicU64,
    /// Set while producers must append to `overflow`.
    overflowing: AtomicBool,
    overflow: tsan::Lock<VecDeque<(u64, u64)>>,
    /// The consumer saw the queue empty and wants a wake-up.
    waiting: AtomicBool,
    /// Posts the consumer took from `overflow` and has not delivered yet
    /// (consumer only).
    spill: UnsafeCell<VecDeque<(u64, u64)>>,
}

// SAFETY: a slot's `post` is written only by the producer that claimed it
// (the compare-and-swap on `enqueue` makes the claim exclusive) before the
// release store of `seq`, and read only by the consumer after the acquire
// load of that `seq`; `spill` is touched only by the one consumer (the
// contract of `take` and `is_empty_for_consumer`).
unsafe impl Sync for PostQueue {}
// SAFETY: as above; nothing is tied to a thread.
unsafe impl Send for PostQueue {}

impl PostQueue {
    pub fn new() -> PostQueue {
        let slots = (0..SLOTS as u64)
            .map(|i| Slot {
                seq: AtomicU64::new(i),
                post: UnsafeCell::new((0, 0)),
            })
            .collect();
        PostQueue {
            slots,
            enqueue: AtomicU64::new(0),
            dequeue: AtomicU64::new(0),
            overflowing: AtomicBool::new(false),
            overflow: tsan::Lock::new(VecDeque::new()),
            waiting: AtomicBool::new(false),
            spill: UnsafeCell::new(VecDeque::new()),
        }
    }

    fn slot(&self, position: u64) -> Option<&Slot> {
        self.slots.get(usize::try_from(position & MASK).ok()?)
    }

    /// Queues one post; any thread. Returns true if the caller must wake
    /// the consumer (one notify write).
    pub fn push(&self, udata: u64, value: u64) -> bool {
        if !self.overflowing.load(Ordering::Acquire) && self.push_lock_free(udata, value) {
            return self.wake_owed();
        }
        self.push_overflow(udata, value);
        self.wake_owed()
    }

    /// The lock-free path; false when the ring of slots is full.
    fn push_lock_free(&self, udata: u64, value: u64) -> bool {
        let mut position = self.enqueue.load(Ordering::Relaxed);
        loop {
            let Some(slot) = self.slot(position) else {
                return false;
            };
            let seq = slot.seq.load(Ordering::Acquire);
            if seq == position {
                match self.enqueue.compare_exchange_weak(
                    position,
                    position.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        tsan::release(&slot.seq);
                        // SAFETY: the successful compare-and-swap made this
                        // slot ours until the release store below.
                        unsafe { *slot.post.get() = (udata, value) };
                        slot.seq.store(position.wrapping_add(1), Ordering::Release);
                        return true;
                    }
                    Err(now) => position = now,
                }
            } else if seq < position {
                // The slot still holds a post from the previous lap.
                return false;
            } else {
                position = self.enqueue.load(Ordering::Relaxed);
            }
        }
    }

    fn push_overflow(&self, udata: u64, value: u64) {
        let mut list = self.overflow.lock();
        self.overflowing.store(true, Ordering::Release);
        list.push_back((udata, value));
    }

    /// After publishing: whether this producer is the one to wake the
    /// consumer.
    fn wake_owed(&self) -> bool {
        // Pairs with the fence in `consumer_idle`: either the consumer sees
        // our post when it re-checks, or we see its `waiting`.
        fence(Ordering::SeqCst);
        self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::AcqRel)
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
                return n;
            }
        }
    }

    /// The next published slot, if any.
    fn take_one(&self) -> Option<(u64, u64)> {
        let position = self.dequeue.load(Ordering::Relaxed);
        let slot = self.slot(position)?;
        if slot.seq.load(Ordering::Acquire) != position.wrapping_add(1) {
            return None;
        }
        tsan::acquire(&slot.seq);
        // SAFETY: the acquire load saw the producer's release store: the
        // post is written and no producer touches the slot until the store
        // below hands it to the next lap.
        let post = unsafe { *slot.post.get() };
        slot.seq
            .store(position.wrapping_add(SLOTS as u64), Ordering::Release);
        self.dequeue
            .store(position.wrapping_add(1), Ordering::Relaxed);
        Some(post)
    }

    /// Moves the overflow list into `spill`, once no post claimed in the
    /// lock-free ring is still unread: a producer's posts in the ring came
    /// before its posts in the list, which is delivered after them.
    /// Returns whether it took any.
    fn take_overflow(&self, spill: &mut VecDeque<(u64, u64)>) -> bool {
        if self.enqueue.load(Ordering::Acquire) != self.dequeue.load(Ordering::Relaxed) {
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
        let spill = unsafe { &*self.spill.get() };
        spill.is_empty()
            && self.enqueue.load(Ordering::Acquire) == self.dequeue.load(Ordering::Relaxed)
            && !self.overflowing.load(Ordering::Acquire)
    }

    /// The consumer found nothing to do and may sleep: ask for a wake-up.
    /// Returns true if posts arrived meanwhile (then it should not sleep).
    pub fn consumer_idle(&self) -> bool {
        self.waiting.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        !self.is_empty()
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
        let q = PostQueue::new();
        for i in 0..(3 * SLOTS as u64) {
            q.push(1, i);
        }
        let got = drain(&q);
        assert_eq!(got.len(), 3 * SLOTS);
        assert!(got.iter().enumerate().all(|(i, p)| *p == (1, i as u64)));
        assert!(q.is_empty());
    }

    #[test]
    fn wake_owed_once_per_idle() {
        let q = PostQueue::new();
        assert!(!q.push(1, 1), "no wake-up before the consumer idles");
        assert_eq!(drain(&q).len(), 1);
        assert!(!q.consumer_idle());
        assert!(q.push(1, 2), "the first post after idling wakes");
        assert!(!q.push(1, 3), "the second does not");
    }

    #[test]
    fn many_producers_keep_their_order() {
        let q = Arc::new(PostQueue::new());
        const PER: u64 = 20_000;
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let q = Arc::clone(&q);
                std::thread::spawn(move || {
                    for i in 0..PER {
                        q.push(p, i);
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
