// SPDX-License-Identifier: MIT OR Apache-2.0
//! What a backend reports, in one backend-neutral type: the engine turns
//! these into events and never learns how the kernel was asked.
//!
//! Backends keep transient ends to themselves (a multishot request the
//! kernel ended because it ran out of buffers, a cancellation the ring
//! asked for): they re-arm or drop those, and report only what the caller
//! must hear about.

use super::sources::Token;
use crate::errno::Errno;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The fd polled ready with this `poll` mask. The backend keeps
    /// watching it (level semantics: reported again while it stays ready).
    Ready(u32),
    /// The kernel read this count from a ready eventfd or timerfd for the
    /// ring.
    Count(u64),
    /// The futex wait was woken.
    Woken,
    /// The request failed with this error; the backend watches the source no
    /// more.
    Failed(Errno),
}

#[derive(Clone, Copy, Debug)]
pub struct Completion {
    pub token: Token,
    pub outcome: Outcome,
}
