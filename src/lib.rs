// SPDX-License-Identifier: MIT OR Apache-2.0
//! evfd: kernel events as file descriptors, with the call signatures argued
//! over on LKML in 2007, behind a C ABI.
//!
//! Layers, one direction only: [`ffi`] is the C boundary (raw pointers and
//! `errno` live there and nowhere else); the capability modules
//! ([`signalfd`], [`timerfd`], [`eventfd`], [`eventfs`]) speak `Result<_, Errno>`;
//! [`sys`] owns every raw system call.

// No input from C may abort the process (DESIGN.md §5), and evfd runs inside
// other people's programs: every way Rust code panics (or exits) is denied.
// An `allow` stands only on the smallest item, beside a comment that proves
// the case cannot happen; unit tests allow them at the test module. No lint
// catches `assert!`/`debug_assert!` outside `Result` functions (the dev
// profile aborts too): outside tests, only compile-time `const` asserts.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_in_result,
    clippy::panic_in_result_fn,
    clippy::string_slice,
    clippy::exit
)]

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
pub mod timer_spec;
pub mod timerfd;

pub use errno::Errno;
