// SPDX-License-Identifier: MIT OR Apache-2.0
//! `<evfd/proposed.h>` compiles as C++ (and its names stay unmangled, so a
//! C++ program links and runs against libevfd), and it refuses to be
//! combined with glibc's `<sys/signalfd.h>`/`<sys/eventfd.h>` in either
//! order instead of silently declaring a different `signalfd`.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

fn work_dir() -> PathBuf {
    let dir = support::target_dir().join("proposed-header");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn compiler(program: &str) -> Option<Command> {
    if Command::new(program).arg("--version").output().is_err() {
        eprintln!("SKIP: no {program} on this system");
        return None;
    }
    Some(Command::new(program))
}

/// Compiles `source` (written to `name`) with the project's strict flags.
fn build(mut cmd: Command, name: &str, source: &str, std: &str, extra: &[String]) -> Output {
    let dir = work_dir();
    let src = dir.join(name);
    std::fs::write(&src, source).unwrap();
    cmd.args([std, "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(format!("-I{}", support::root().join("include").display()))
        .arg(&src)
        .args(extra)
        .output()
        .expect("run the compiler")
}

const USES_ALL_THREE: &str = r#"
#define _POSIX_C_SOURCE 200809L
#include <evfd/proposed.h>
#include <unistd.h>
int main(void) {
    sigset_t mask;
    struct timespec when = {0, 0};
    struct signalfd_siginfo info;
    unsigned long long v = 0;
    int efd = eventfd(3);
    int sfd, tfd;
    sigemptyset(&mask);
    sfd = signalfd(-1, &mask, sizeof mask);
    tfd = timerfd(-1, CLOCK_MONOTONIC, TFD_TIMER_REL, &when);
    (void)info;
    if (efd < 0 || sfd < 0 || tfd < 0 || read(efd, &v, sizeof v) != 8 || v != 3)
        return 1;
    close(efd);
    close(sfd);
    close(tfd);
    return 0;
}
"#;

#[test]
fn proposed_h_compiles_links_and_runs_as_cxx() {
    let Some(cxx) = compiler("c++") else {
        return;
    };
    let exe = work_dir().join("uses_all_three_cxx");
    let lib = support::lib_dir();
    let out = build(
        cxx,
        "uses_all_three.cpp",
        USES_ALL_THREE,
        "-std=c++11",
        &[
            "-o".into(),
            exe.display().to_string(),
            format!("-L{}", lib.display()),
            format!("-Wl,-rpath,{}", lib.display()),
            "-levfd".into(),
        ],
    );
    assert!(
        out.status.success(),
        "C++ build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = Command::new(&exe).status().unwrap();
    assert!(status.success(), "the C++ program failed: {status}");
}

#[test]
fn proposed_h_compiles_as_c11_pedantic() {
    // Alone, with no feature macros at all, and in use. (C99 has no
    // `struct timespec` in <time.h> without POSIX feature macros, which
    // evfd.h itself relies on, so C11 is the floor.)
    let alone = "#include <evfd/proposed.h>\nint main(void) { return 0; }\n";
    for (name, source) in [("alone.c", alone), ("uses_all_three.c", USES_ALL_THREE)] {
        let Some(cc) = compiler("cc") else {
            return;
        };
        let out = build(cc, name, source, "-std=c11", &["-fsyntax-only".into()]);
        assert!(
            out.status.success(),
            "{name} -std=c11 build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn proposed_h_refuses_glibc_headers_in_either_order() {
    for glibc in ["sys/signalfd.h", "sys/eventfd.h"] {
        for (order, source) in [
            (
                "glibc first",
                format!("#include <{glibc}>\n#include <evfd/proposed.h>\nint main(void) {{ return 0; }}\n"),
            ),
            (
                "evfd first",
                format!("#include <evfd/proposed.h>\n#include <{glibc}>\nint main(void) {{ return 0; }}\n"),
            ),
        ] {
            let Some(cc) = compiler("cc") else {
                return;
            };
            let out = build(cc, "mixed.c", &source, "-std=c11", &["-fsyntax-only".into()]);
            assert!(
                !out.status.success(),
                "<evfd/proposed.h> with <{glibc}> ({order}) compiled"
            );
            if order == "glibc first" {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("do not combine it with"),
                    "expected the header's own #error, got:\n{err}"
                );
            }
        }
    }
}
