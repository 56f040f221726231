// SPDX-License-Identifier: MIT OR Apache-2.0
//! The event ring (DESIGN §4): one queue for fd readiness, signals, timers,
//! futex wake-ups and user posts, consumed from user memory.
//!
//! One engine over two thin backends:
//! - [`ring`]: the public `Ring` (posts from any thread, the consumer's
//!   calls, `wait`'s clock) and its fork check ([`fork`]).
//! - [`engine`]: sources, level semantics, signals, timers and event
//!   assembly; it never asks which backend it runs on.
//! - [`event`]: the event type and one constructor per kind.
//! - [`sources`]: the slab of sources and its indexes by udata
//!   ([`udata_index`], with [`siblings`] for udatas several sources
//!   share) and by fd.
//! - [`timers`]: timers in user space (a 4-ary heap per clock,
//!   [`timer_heap`], and one kernel timer per clock).
//! - [`posts`]: the multi-producer posts queue ([`tsan`] annotates it).
//! - [`fd_reads`]: what the ring reads from eventfds, timerfds, signalfds.
//! - [`completion`]: the backend-neutral completion type.
//! - [`backend`]: the one place that forwards to a backend:
//!   [`io_uring`] or [`epoll`] (with [`futex_waiters`] for futex waits and
//!   [`fd_identity`] for closed-fd detection).

mod backend;
mod completion;
mod delivery;
mod engine;
mod epoll;
mod event;
mod fd_identity;
mod fd_reads;
mod fork;
mod futex_waiters;
mod io_uring;
mod posts;
#[allow(clippy::module_inception)] // the public Ring, beside its parts
mod ring;
mod siblings;
mod sources;
mod timer_heap;
mod timers;
mod tsan;
mod udata_index;

pub use backend::BackendKind;
pub use event::{Event, KIND_FD, KIND_FUTEX, KIND_OVERFLOW, KIND_SIGNAL, KIND_TIMER, KIND_USER};
pub use ring::{Consumer, Ring};
