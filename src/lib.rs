// SPDX-License-Identifier: MIT OR Apache-2.0
//! evfd: kernel events as file descriptors, with the call signatures argued
//! over on LKML in 2007, behind a C ABI.
//!
//! Layers, one direction only: [`ffi`] is the C boundary (raw pointers and
//! `errno` live there and nowhere else); the capability modules
//! ([`signalfd`], [`timerfd`], [`eventfd`], [`eventfs`]) speak `Result<_, Errno>`;
//! [`sys`] owns every raw system call.

// libtest links crates with panic=unwind, so `cargo test` alone turns on the
// `test-unwind` feature (see Cargo.toml); every shipped build must abort.
#[cfg(all(not(panic = "abort"), not(feature = "test-unwind")))]
compile_error!("evfd must be built with panic = \"abort\": a panic must never unwind into C");

pub mod errno;
pub mod eventfd;
pub mod eventfs;
pub mod ffi;
pub mod ring;
pub mod signalfd;
pub mod sys;
pub mod timerfd;

pub use errno::Errno;
