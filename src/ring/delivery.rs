// SPDX-License-Identifier: MIT OR Apache-2.0
//! Where a `peek` or `wait` puts events: straight into the caller's array
//! while it has room, and into the engine's `pending` queue (delivered by
//! a later call) once it is full. Events reach the array in the order they
//! are produced: once one has gone to `pending`, every later one follows
//! it there, and `pending` is moved into the array first.
//!
//! Writing a ready fd's event once, into the array, instead of into the
//! queue and then out of it, was measured: callgrind, 64 ready eventfds a
//! round on the epoll backend (bench/EXPERIMENTS.md, issue 12, seventh
//! session).

use super::event::Event;
use std::collections::VecDeque;

pub struct Delivery<'a> {
    out: &'a mut [Event],
    /// Events written to `out` so far.
    taken: usize,
}

impl<'a> Delivery<'a> {
    pub fn new(out: &'a mut [Event]) -> Delivery<'a> {
        Delivery { out, taken: 0 }
    }

    /// Delivers `event`: into the array if it has room and nothing is
    /// queued before it, else to the back of `pending`.
    #[inline]
    pub fn push(&mut self, pending: &mut VecDeque<Event>, event: Event) {
        match self.out.get_mut(self.taken) {
            Some(slot) if pending.is_empty() => {
                *slot = event;
                self.taken = self.taken.saturating_add(1);
            }
            _ => pending.push_back(event),
        }
    }

    /// Moves queued events into the array, oldest first, as many as fit.
    pub fn take_pending(&mut self, pending: &mut VecDeque<Event>) {
        let n = self.room().min(pending.len());
        for (slot, event) in self.rest().iter_mut().zip(pending.drain(..n)) {
            *slot = event;
        }
        self.taken = self.taken.saturating_add(n);
    }

    /// The array's unfilled part, for a producer that writes events in
    /// place; it reports how many with [`advance`](Self::advance).
    pub fn rest(&mut self) -> &mut [Event] {
        self.out.get_mut(self.taken..).unwrap_or_default()
    }

    /// `n` more events were written at the start of [`rest`](Self::rest).
    pub fn advance(&mut self, n: usize) {
        self.taken = self.taken.saturating_add(n).min(self.out.len());
    }

    pub fn room(&self) -> usize {
        self.out.len().saturating_sub(self.taken)
    }

    pub fn is_full(&self) -> bool {
        self.room() == 0
    }

    /// Events in the array.
    pub fn taken(&self) -> usize {
        self.taken
    }

    /// `result` of a step that can fail; if it failed, the call fails
    /// after all: the events in the array go back to the front of
    /// `pending`, in order, to be delivered by the next call (they were
    /// taken from the kernel, the posts queue or `pending`, and would be
    /// lost with the array), and the array is empty again.
    pub fn kept_on_failure<T, E>(
        &mut self,
        pending: &mut VecDeque<Event>,
        result: Result<T, E>,
    ) -> Result<T, E> {
        if result.is_err() {
            let taken = self.out.get(..self.taken).unwrap_or_default();
            for event in taken.iter().rev() {
                pending.push_front(*event);
            }
            self.taken = 0;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn post(n: u64) -> Event {
        Event::user(n, n)
    }

    #[test]
    fn fills_the_array_then_queues_in_order() {
        let mut out = [Event::default(); 2];
        let mut pending = VecDeque::new();
        let mut d = Delivery::new(&mut out);
        for n in 1..=4 {
            d.push(&mut pending, post(n));
        }
        assert_eq!(d.taken(), 2);
        assert!(d.is_full());
        assert_eq!(out.map(|e| e.udata), [1, 2]);
        assert_eq!(pending.iter().map(|e| e.udata).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn nothing_passes_what_is_queued() {
        let mut out = [Event::default(); 3];
        let mut pending = VecDeque::from([post(1)]);
        let mut d = Delivery::new(&mut out);
        d.push(&mut pending, post(2));
        assert_eq!(d.taken(), 0, "an event queued first is delivered first");
        d.take_pending(&mut pending);
        d.push(&mut pending, post(3));
        assert_eq!(d.taken(), 3);
        assert_eq!(out.map(|e| e.udata), [1, 2, 3]);
        assert!(pending.is_empty());
    }

    #[test]
    fn given_back_in_order_before_what_was_queued() {
        let mut out = [Event::default(); 2];
        let mut pending = VecDeque::new();
        let mut d = Delivery::new(&mut out);
        for n in 1..=3 {
            d.push(&mut pending, post(n));
        }
        assert_eq!(d.kept_on_failure(&mut pending, Ok::<u8, u8>(7)), Ok(7));
        assert_eq!(d.taken(), 2, "kept in the array on success");
        assert_eq!(d.kept_on_failure(&mut pending, Err::<u8, u8>(9)), Err(9));
        assert_eq!(d.taken(), 0);
        assert_eq!(
            pending.iter().map(|e| e.udata).collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }

    #[test]
    fn written_in_place() {
        let mut out = [Event::default(); 3];
        let mut pending = VecDeque::new();
        let mut d = Delivery::new(&mut out);
        d.push(&mut pending, post(1));
        d.rest()[0] = post(2);
        d.advance(1);
        assert_eq!(d.room(), 1);
        d.advance(5);
        assert_eq!(d.taken(), 3, "never past the array");
    }
}
