// SPDX-License-Identifier: MIT OR Apache-2.0
//! Sequences of every operation (create, replace, close, dup2, read, write,
//! raise) on a table of descriptors of every kind (see fuzz/src/lib.rs).
#![no_main]
use evfd_fuzz::{run, ALL_OPS};

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data, ALL_OPS));
