// SPDX-License-Identifier: MIT OR Apache-2.0
//! The posts queue: `evfd_ring_post` from any thread, taken by the one
//! consumer, every post one event, in order per producer.
//!
//! An unbounded lock-free queue of blocks of slots. A producer claims the
//! next position with one compare-and-swap on `tail`, writes the slot and
//! publishes it with a release store of its sequence number (its position
//! plus one). Blocks of [`BLOCK`] slots are linked in order; the producer that
//! claims a block's last slot links the next block, which it allocated
//! before claiming (so a failed allocation is `ENOMEM` with nothing
//! claimed, and a claimed position is always published). The consumer
//! copies published slots straight into the caller's array, writing nothing
//! to them, and hands a block it has read whole to a small pool.
//!
//! Why no producer touches freed memory: a producer finds its block only
//! after its claim succeeded, walking back from the newest block through
//! `prev` links; the consumer cannot pass a claimed slot that is not
//! published, so that block and every newer one are still in the queue.
//! A block older than the producer's own may be recycled or freed at any
//! time, so the producer reads the newest block's *number* first (stored
//! after the block, see [`Newest`]) and looks at the block only once that
//! number has reached its own block's.
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
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// Slots per block (a power of two): 24 KiB blocks.
const BLOCK: u64 = 1024;
/// Read blocks kept for reuse.
const POOL: usize = 4;

struct Slot {
    /// `position + 1` once the producer that claimed `position` published
    /// it (a recycled block holds older, smaller values).
    seq: AtomicU64,
    post: UnsafeCell<(u64, u64)>,
}

struct Block {
    slots: [Slot; BLOCK as usize],
    /// This block's number (`position / BLOCK` of its slots).
    number: AtomicU64,
    /// The next block, linked by the producer that claims this block's
    /// last slot.
    next: AtomicPtr<Block>,
    /// The block before (for producers walking back from the newest).
    prev: AtomicPtr<Block>,
}

/// A zeroed block (all-zero is a valid, empty block), or `ENOMEM`.
fn new_block() -> Result<*mut Block, Errno> {
    let layout = std::alloc::Layout::new::<Block>();
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Block>();
    if p.is_null() {
        Err(Errno::ENOMEM)
    } else {
        Ok(p)
    }
}

/// Frees a block made by `new_block`.
///
/// # Safety
/// `b` came from `new_block` and nothing uses it any more.
unsafe fn free_block(b: *mut Block) {
    // SAFETY: by the caller's contract, with the layout it was made with.
    unsafe { std::alloc::dealloc(b.cast(), std::alloc::Layout::new::<Block>()) }
}

/// The slot of `position` in `block`.
///
/// # Safety
/// `block` is a live block of the queue, for the lifetime the caller uses
/// the slot.
unsafe fn slot_at<'a>(block: *const Block, position: u64) -> Option<&'a Slot> {
    let index = usize::try_from(position % BLOCK).ok()?;
    // SAFETY: by the caller's contract.
    unsafe { (*block).slots.get(index) }
}

/// A value alone on its cache line, so producers and the consumer do not
/// share lines they write.
#[repr(align(64))]
struct Line<T>(T);

/// The newest linked block and its number. The linker stores `number`
/// (release) after `block`, and `block` only moves forward, so a producer
/// that loads a `number` at least its own block's (acquire) and then
/// `block` gets its own block or a newer one, both alive; had it loaded
/// `block` first, it could get an older block that the consumer has
/// since freed (its own not being linked yet).
struct Newest {
    block: AtomicPtr<Block>,
    number: AtomicU64,
}

pub struct PostQueue {
    /// Positions claimed by producers so far.
    tail: Line<AtomicU64>,
    /// The newest linked block.
    newest: Line<Newest>,
    /// The consumer saw the queue empty and wants a wake-up.
    waiting: Line<AtomicBool>,
    /// The consumer's position and the block holding it (consumer only).
    head: UnsafeCell<u64>,
    head_block: UnsafeCell<*mut Block>,
    /// Read blocks for reuse.
    pool: tsan::Lock<Vec<*mut Block>>,
}

// SAFETY: a slot's `post` is written only by the producer that claimed its
// position (the compare-and-swap on `tail` makes the claim exclusive)
// before the release store that publishes it, and read only by the consumer
// after the acquire load that sees it; blocks are freed or reused only
// once read whole (see the module documentation); `head` and `head_block`
// are the one consumer's (the contract of `take`, `is_empty` and
// `consumer_idle`); the pool is behind its lock.
unsafe impl Sync for PostQueue {}
// SAFETY: as above; nothing is tied to a thread.
unsafe impl Send for PostQueue {}

impl PostQueue {
    pub fn new() -> Result<PostQueue, Errno> {
        // Looked up now, so the hot paths need only `known_active`.
        tsan::active();
        let first = new_block()?;
        Ok(PostQueue {
            tail: Line(AtomicU64::new(0)),
            newest: Line(Newest {
                block: AtomicPtr::new(first),
                number: AtomicU64::new(0),
            }),
            waiting: Line(AtomicBool::new(false)),
            head: UnsafeCell::new(0),
            head_block: UnsafeCell::new(first),
            pool: tsan::Lock::new(Vec::new()),
        })
    }

    /// A block for linking: from the pool, else newly allocated (with the
    /// pool's lock released: the allocation may take system calls, and the
    /// consumer recycling a block would wait for them).
    fn spare_block(&self) -> Result<*mut Block, Errno> {
        let pooled = self.pool.lock().pop();
        match pooled {
            Some(b) => Ok(b),
            None => {
                #[cfg(test)]
                test_hooks::at(test_hooks::Point::Allocates, 0);
                new_block()
            }
        }
    }

    /// Gives back a block nobody uses (to the pool, or to the allocator).
    fn recycle(&self, b: *mut Block) {
        let mut pool = self.pool.lock();
        if pool.len() < POOL && pool.try_reserve(1).is_ok() {
            pool.push(b);
        } else {
            drop(pool);
            // SAFETY: the caller hands over a block no thread uses.
            unsafe { free_block(b) };
        }
    }

    /// Queues one post; any thread. Returns whether the caller must wake
    /// the consumer (one notify write); `ENOMEM` if a new block was needed
    /// and could not be made (nothing was queued).
    ///
    /// The common case is inlined into `evfd_ring_post`: a claim that is not
    /// a block's last slot, in the newest block. Linking a block (one claim
    /// in [`BLOCK`]) and finding an older block are out of line.
    #[inline(always)]
    pub fn push(&self, udata: u64, value: u64) -> Result<bool, Errno> {
        let mut position = self.tail.0.load(Ordering::Relaxed);
        loop {
            if position % BLOCK == BLOCK - 1 {
                return self.push_linking(udata, value);
            }
            match self.tail.0.compare_exchange_weak(
                position,
                position.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => position = now,
            }
        }
        let number = position / BLOCK;
        if self.newest.0.number.load(Ordering::Acquire) == number {
            let newest = self.newest.0.block.load(Ordering::Acquire);
            #[cfg(test)]
            test_hooks::at(test_hooks::Point::Reads, newest as usize);
            // SAFETY: at or after our block (see `Newest`), so alive: the
            // consumer cannot pass our claimed, unpublished slot.
            if unsafe { (*newest).number.load(Ordering::Relaxed) } == number {
                return Ok(self.publish(newest, position, udata, value));
            }
        }
        Ok(self.publish_elsewhere(position, udata, value))
    }

    /// [`publish`](Self::publish) for a claim outside the newest block
    /// (another producer linked a newer one, or ours is not linked yet).
    /// Out of line, like every call on the way, so that the common path
    /// keeps its values in registers it need not save.
    #[cold]
    #[inline(never)]
    fn publish_elsewhere(&self, position: u64, udata: u64, value: u64) -> bool {
        self.publish(self.block_of(position / BLOCK), position, udata, value)
    }

    /// [`push`](Self::push) for a claim that may take a block's last slot:
    /// its claimer links the next block, which it gets before claiming, so
    /// it cannot fail after.
    ///
    /// `errno` is as the caller had it when this succeeds, though the
    /// pool's lock and the allocator may set it on the way (see
    /// `evfd_ring_post`, which therefore neither saves nor restores it).
    #[cold]
    #[inline(never)]
    fn push_linking(&self, udata: u64, value: u64) -> Result<bool, Errno> {
        let saved = crate::errno::get();
        let wake = self.claim_linking(udata, value)?;
        crate::errno::set(saved);
        Ok(wake)
    }

    fn claim_linking(&self, udata: u64, value: u64) -> Result<bool, Errno> {
        let mut position = self.tail.0.load(Ordering::Relaxed);
        let (position, next) = loop {
            let next = if position % BLOCK == BLOCK - 1 {
                Some(self.spare_block()?)
            } else {
                None
            };
            match self.tail.0.compare_exchange_weak(
                position,
                position.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    #[cfg(test)]
                    test_hooks::at(test_hooks::Point::Claimed, position as usize);
                    break (position, next);
                }
                Err(now) => {
                    if let Some(b) = next {
                        self.recycle(b);
                    }
                    position = now;
                }
            }
        };
        let number = position / BLOCK;
        let block = self.block_of(number);
        if let Some(b) = next {
            // SAFETY: `b` is ours (from the pool or fresh) until the release
            // stores below publish it; `block` is alive (our slot in it is
            // not published yet).
            unsafe {
                (*b).number.store(number.wrapping_add(1), Ordering::Relaxed);
                (*b).next.store(core::ptr::null_mut(), Ordering::Relaxed);
                (*b).prev.store(block, Ordering::Relaxed);
                (*block).next.store(b, Ordering::Release);
            }
            self.newest.0.block.store(b, Ordering::Release);
            self.newest
                .0
                .number
                .store(number.wrapping_add(1), Ordering::Release);
        }
        Ok(self.publish(block, position, udata, value))
    }

    /// Writes the claimed `position` in `block` and publishes it; returns
    /// whether the consumer is owed a wake-up.
    #[inline(always)]
    fn publish(&self, block: *mut Block, position: u64, udata: u64, value: u64) -> bool {
        // SAFETY: `block` holds `position` and is alive until our slot is
        // published; the claim made the slot ours.
        let Some(slot) = (unsafe { slot_at(block, position) }) else {
            return false;
        };
        if tsan::known_active() {
            return self.publish_annotated(slot, position, udata, value);
        }
        self.fill(slot, position, udata, value)
    }

    /// [`publish`](Self::publish) under ThreadSanitizer: it is told of the
    /// release before the store that publishes.
    #[cold]
    #[inline(never)]
    fn publish_annotated(&self, slot: &Slot, position: u64, udata: u64, value: u64) -> bool {
        tsan::release(&slot.seq);
        self.fill(slot, position, udata, value)
    }

    #[inline(always)]
    fn fill(&self, slot: &Slot, position: u64, udata: u64, value: u64) -> bool {
        // SAFETY: the claim made the slot ours until the store below.
        unsafe { *slot.post.get() = (udata, value) };
        slot.seq.store(position.wrapping_add(1), Ordering::Release);
        // The claim was SeqCst: no fence is needed before this load (see
        // `consumer_idle`).
        self.waiting.0.load(Ordering::SeqCst) && self.waiting.0.swap(false, Ordering::AcqRel)
    }

    /// The block numbered `number`, which holds a position this producer
    /// claimed and has not published: walks back from the newest block,
    /// waiting (briefly) if the claimer of the previous block's last slot
    /// has not linked it yet.
    #[cold]
    #[inline(never)]
    fn block_of(&self, number: u64) -> *mut Block {
        let mut spins = 0u32;
        loop {
            if self.newest.0.number.load(Ordering::Acquire) >= number {
                let mut b = self.newest.0.block.load(Ordering::Acquire);
                #[cfg(test)]
                test_hooks::at(test_hooks::Point::Reads, b as usize);
                // SAFETY: `b` is our block or a newer one (see `Newest`),
                // and so is every block on the way back to ours: all still
                // in the queue, as the consumer cannot pass our unpublished
                // slot.
                unsafe {
                    while (*b).number.load(Ordering::Relaxed) > number {
                        b = (*b).prev.load(Ordering::Relaxed);
                    }
                    if (*b).number.load(Ordering::Relaxed) == number {
                        return b;
                    }
                }
            }
            spins = spins.saturating_add(1);
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                crate::sys::signal_safe::yield_now();
            }
        }
    }

    /// The consumer's block, moved on to the next one when the current one
    /// is read whole and the next is linked; `None` while it is not.
    /// Consumer only.
    fn head_block(&self) -> Option<*mut Block> {
        // SAFETY: consumer only.
        let (head, block) = unsafe { (*self.head.get(), &mut *self.head_block.get()) };
        // SAFETY: the consumer's block is alive until it moves past it.
        if unsafe { (**block).number.load(Ordering::Relaxed) } != head / BLOCK {
            // SAFETY: as above.
            let next = unsafe { (**block).next.load(Ordering::Acquire) };
            if next.is_null() {
                return None;
            }
            // Every slot of the old block was published and read: no
            // producer touches it any more.
            self.recycle(core::mem::replace(block, next));
        }
        Some(*block)
    }

    /// Copies posts, oldest first per producer, into `out`; returns how
    /// many. Consumer only. Reads a block's published slots in a run,
    /// stopping at the first that is not.
    pub fn take(&self, out: &mut [Event]) -> usize {
        let mut n: usize = 0;
        let annotate = tsan::known_active();
        while let (Some(block), Some(rest)) = (self.head_block(), out.get_mut(n..)) {
            // SAFETY: consumer only.
            let head = unsafe { &mut *self.head.get() };
            let first = usize::try_from(*head % BLOCK).unwrap_or(0);
            // SAFETY: the consumer's block is alive while it reads it.
            let Some(slots) = (unsafe { (*block).slots.get(first..) }) else {
                break;
            };
            let mut taken: usize = 0;
            let mut expected = head.wrapping_add(1);
            for (slot, event) in slots.iter().zip(rest.iter_mut()) {
                if slot.seq.load(Ordering::Acquire) != expected {
                    break;
                }
                if annotate {
                    tsan::acquire(&slot.seq);
                }
                // SAFETY: the acquire load saw the producer's publishing
                // store.
                let (udata, value) = unsafe { *slot.post.get() };
                *event = Event::user(udata, value);
                expected = expected.wrapping_add(1);
                taken = taken.wrapping_add(1);
            }
            *head = expected.wrapping_sub(1);
            n = n.saturating_add(taken);
            if taken == 0 || taken < slots.len().min(rest.len()) {
                break;
            }
        }
        n
    }

    /// Whether no post is claimed. Consumer only.
    pub fn is_empty(&self) -> bool {
        // SAFETY: consumer only.
        let head = unsafe { *self.head.get() };
        self.tail.0.load(Ordering::SeqCst) == head
    }

    /// The consumer found nothing to do and may sleep: ask for a wake-up.
    /// Returns true if posts arrived meanwhile (then it should not sleep).
    /// A post claimed but not yet published counts as arrived: its producer
    /// may have looked at `waiting` before this store, so the consumer
    /// waits for it (its producer is a few instructions from publishing it,
    /// or was preempted: then give it the CPU).
    pub fn consumer_idle(&self) -> bool {
        self.waiting.0.store(true, Ordering::SeqCst);
        if self.is_empty() {
            return false;
        }
        let mut spins = 0u32;
        while !self.head_published() {
            spins = spins.saturating_add(1);
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                crate::sys::signal_safe::yield_now();
            }
        }
        true
    }

    /// Whether the post at the consumer's position is published. Consumer
    /// only.
    fn head_published(&self) -> bool {
        // SAFETY: consumer only; the consumer's block is alive.
        let (head, mut block) = unsafe { (*self.head.get(), *self.head_block.get()) };
        // SAFETY: as above.
        if unsafe { (*block).number.load(Ordering::Relaxed) } != head / BLOCK {
            // SAFETY: as above.
            block = unsafe { (*block).next.load(Ordering::Acquire) };
            if block.is_null() {
                return false;
            }
        }
        // SAFETY: `block` is the consumer's or the one linked after it,
        // both alive.
        unsafe { slot_at(block, head) }
            .is_some_and(|slot| slot.seq.load(Ordering::Acquire) == head.wrapping_add(1))
    }
}

impl Drop for PostQueue {
    fn drop(&mut self) {
        // No producer is left (the ring is being freed): free the chain
        // from the consumer's block on, and the pool.
        let mut b = *self.head_block.get_mut();
        while !b.is_null() {
            // SAFETY: blocks of this queue, each freed once.
            let next = unsafe { (*b).next.load(Ordering::Acquire) };
            // SAFETY: as above.
            unsafe { free_block(b) };
            b = next;
        }
        for b in self.pool.lock().drain(..) {
            // SAFETY: pooled blocks are out of the chain.
            unsafe { free_block(b) };
        }
    }
}

/// Places where a test can stop a thread or see what it does.
#[cfg(test)]
mod test_hooks {
    use std::cell::RefCell;

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Point {
        /// A producer is about to read the block at this address.
        Reads,
        /// A producer claimed a position on the out-of-line path.
        Claimed,
        /// A producer is about to allocate a block (the pool was empty).
        Allocates,
    }

    type Hook = Box<dyn FnMut(Point, usize)>;

    thread_local! {
        static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
    }

    /// Runs `hook` at every point this thread passes.
    pub fn set(hook: impl FnMut(Point, usize) + 'static) {
        HOOK.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
    }

    pub fn at(point: Point, value: usize) {
        HOOK.with(|h| {
            if let Some(f) = h.borrow_mut().as_mut() {
                f(point, value);
            }
        });
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
        for i in 0..(3 * BLOCK + 5) {
            q.push(1, i).unwrap();
        }
        let got = drain(&q);
        assert_eq!(got.len(), 3 * BLOCK as usize + 5);
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
    fn many_producers_keep_their_order_across_blocks_and_idles() {
        let q = Arc::new(PostQueue::new().unwrap());
        const PER: u64 = 30_000;
        let producers: Vec<_> = (0..6u64)
            .map(|p| {
                let q = Arc::clone(&q);
                std::thread::spawn(move || {
                    for i in 0..PER {
                        q.push(p, i).unwrap();
                    }
                })
            })
            .collect();
        let mut next = [0u64; 6];
        let mut total = 0;
        let mut size = 1;
        let mut out = vec![Event::default(); 700];
        while total < 6 * PER {
            let n = q.take(&mut out[..size]);
            for e in &out[..n] {
                assert_eq!(e.value, next[e.udata as usize]);
                next[e.udata as usize] += 1;
            }
            total += n as u64;
            if n == 0 {
                q.consumer_idle();
            }
            size = size % 700 + 1;
        }
        producers.into_iter().for_each(|t| t.join().unwrap());
        assert!(q.is_empty());
        assert!(q.pool.lock().len() <= POOL);
    }

    /// A queue whose next post is a block's last slot.
    fn queue_before_a_link() -> Arc<PostQueue> {
        let q = Arc::new(PostQueue::new().unwrap());
        for i in 0..BLOCK - 1 {
            q.push(0, i).unwrap();
        }
        q
    }

    /// A thread that posts `udata` to `q` and is held at `point`: returns
    /// once it got there, with the thread and what lets it go on.
    fn post_held_at(
        q: &Arc<PostQueue>,
        point: test_hooks::Point,
        udata: u64,
    ) -> (std::thread::JoinHandle<()>, std::sync::mpsc::Sender<()>) {
        use std::sync::mpsc::channel;
        let (there, reached) = channel::<()>();
        let (resume, resumed) = channel::<()>();
        let q = Arc::clone(q);
        let thread = std::thread::spawn(move || {
            test_hooks::set(move |at, _| {
                if at == point {
                    there.send(()).unwrap();
                    resumed.recv().unwrap();
                }
            });
            q.push(udata, 0).unwrap();
        });
        reached.recv().unwrap();
        (thread, resume)
    }

    /// A producer allocating a block does so without the pool's lock: the
    /// consumer, recycling a block meanwhile, must not wait for the
    /// allocator (a system call or more, each a futex wait for the
    /// consumer: ~500 per million posts in a stream, before).
    #[test]
    fn a_block_is_allocated_without_the_pools_lock() {
        let q = queue_before_a_link();
        let (producer, resume) = post_held_at(&q, test_hooks::Point::Allocates, 1);
        let free = !q.pool.is_held();
        resume.send(()).unwrap();
        producer.join().unwrap();
        assert!(free, "the pool's lock is held while a block is allocated");
        assert_eq!(drain(&q).len(), BLOCK as usize);
    }

    /// A producer whose claim is in a block not linked yet must not look
    /// at the block before it, which the consumer may free meanwhile (a
    /// review found it did: a use after free under ASan). The linker of
    /// block 1 is held right after its claim; a producer then claims in
    /// block 1 and may read no block until the link is made.
    #[test]
    fn a_producer_reads_no_block_older_than_its_own() {
        use std::sync::mpsc::channel;
        use test_hooks::Point;
        let q = queue_before_a_link();
        let block0 = q.newest.0.block.load(Ordering::Relaxed) as usize;
        let (linker, resume) = post_held_at(&q, Point::Claimed, 1);
        let (read, reads) = channel::<usize>();
        let producer = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || {
                test_hooks::set(move |point, block| {
                    if point == Point::Reads {
                        read.send(block).unwrap();
                    }
                });
                q.push(2, 0).unwrap();
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        let early: Vec<usize> = reads.try_iter().collect();
        resume.send(()).unwrap();
        linker.join().unwrap();
        producer.join().unwrap();
        assert!(
            !early.contains(&block0),
            "the producer read block 0 before block 1 was linked"
        );
        assert!(early.is_empty(), "no block is read before the link");
        assert!(reads.try_iter().all(|b| b != block0));
        assert_eq!(drain(&q).len(), BLOCK as usize + 1);
    }
}
