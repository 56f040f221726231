// SPDX-License-Identifier: MIT OR Apache-2.0
//! evfd_eventfs_signalfd: registrations, reads, close/dup2 and deliveries
//! (chained and exclusive) among descriptors of every kind (see
//! fuzz/src/lib.rs for the checks).
#![no_main]
use evfd_fuzz::{run, EVENTFS_OPS};

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data, EVENTFS_OPS));
