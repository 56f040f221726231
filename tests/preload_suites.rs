// SPDX-License-Identifier: MIT OR Apache-2.0
//! Other projects' own test suites — systemd 252's unit tests and six
//! CPython 3.11 test modules — run without and with `LD_PRELOAD=libevfd.so`,
//! with the same outcome required per test (DESIGN §3). The work is done by
//! `tests/preload_suites.py`, whose header lists what runs, what is excluded
//! and why, how flakes are retried and how the preload is proven to have
//! taken effect.
//!
//! It takes a minute or two and may `apt-get install` `systemd-tests` and
//! `libpython3.11-testsuite`, so a plain `cargo test` skips it: it runs only
//! with `EVFD_PRELOAD_SUITES=1`, which `make check-preload` and `.ci/run` set.

mod support;

use std::process::Command;

#[test]
fn systemd_and_cpython_suites_behave_the_same_preloaded() {
    if std::env::var("EVFD_PRELOAD_SUITES").as_deref() != Ok("1") {
        eprintln!("SKIP: set EVFD_PRELOAD_SUITES=1 (make check-preload) to run the suites");
        return;
    }
    let work = support::target_dir().join("preload-suites");
    let status = Command::new("python3")
        .arg(support::root().join("tests/preload_suites.py"))
        .arg("--lib")
        .arg(support::lib_path())
        .arg("--work")
        .arg(&work)
        .status()
        .expect("run python3 tests/preload_suites.py");
    assert!(
        status.success(),
        "preload_suites.py failed ({status}); its output above says which test differs, \
         and {} keeps every test's output",
        work.display()
    );
}
