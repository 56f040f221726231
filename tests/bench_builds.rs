// SPDX-License-Identifier: MIT OR Apache-2.0
//! The benchmarks in `bench/` compile (with `-Werror`, the optimisation
//! `make bench` uses, and the same feature switches from
//! `bench/features.sh`) and the report script parses, so they cannot rot
//! between runs. Nothing is run or timed here: `make bench` does that.

mod support;
use std::process::Command;
use support::{compile, lib_dir, lib_path, root, Mode};

/// The `-D` switches `make bench` would use for this tree and library.
fn feature_switches() -> Vec<String> {
    let out = Command::new("sh")
        .current_dir(root())
        .arg("bench/features.sh")
        .arg(lib_path())
        .output()
        .expect("run bench/features.sh");
    assert!(out.status.success(), "bench/features.sh failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bench_programs_compile() {
    lib_dir();
    let mut extra = feature_switches();
    extra.extend(["-O2".to_owned(), "-ldl".to_owned()]);
    let mut sources: Vec<_> = std::fs::read_dir(root().join("bench"))
        .expect("bench/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    assert!(
        sources.len() >= 4,
        "expected the bench programs, found {sources:?}"
    );
    for source in sources {
        let name = source.file_stem().unwrap().to_owned();
        let exe = support::target_dir().join("bench").join(name);
        compile(&source, &exe, true, &extra, Mode::Plain);
    }
}

/// Whether the C compiler finds `<header>` (a peer's Debian -dev package).
fn header_available(header: &str) -> bool {
    use std::io::Write;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(mut child) = Command::new(cc)
        .args(["-x", "c", "-std=gnu11", "-fsyntax-only", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        return false;
    };
    let src = format!("#include <{header}>\nint main(void) {{ return 0; }}\n");
    let wrote = child
        .stdin
        .take()
        .unwrap()
        .write_all(src.as_bytes())
        .is_ok();
    wrote && child.wait().is_ok_and(|s| s.success())
}

/// The peer benchmarks (`bench/peers/`, `make bench-peers`) compile with
/// `-Werror`: evfd's and raw epoll's always; libev's, libevent's, libuv's
/// and liburing's where their Debian -dev package is installed (`make
/// bench-peers` installs them; the tests do not), else skipped with a
/// message.
#[test]
fn peer_benchmarks_compile() {
    lib_dir();
    let peers: [(&str, Option<&str>, &[&str]); 6] = [
        ("evfd", None, &["-ldl"]),
        ("epoll", None, &[]),
        ("libev", Some("ev.h"), &["-lev"]),
        (
            "libevent",
            Some("event2/event.h"),
            &["-levent_core", "-levent_pthreads"],
        ),
        ("libuv", Some("uv.h"), &["-luv"]),
        ("liburing", Some("liburing.h"), &["-luring"]),
    ];
    for (name, header, libs) in peers {
        if let Some(h) = header {
            if !header_available(h) {
                eprintln!("SKIP: bench/peers/{name}.c: <{h}> is not installed");
                continue;
            }
        }
        let source = root().join("bench").join("peers").join(format!("{name}.c"));
        let exe = support::target_dir().join("bench").join("peers").join(name);
        let mut extra = vec!["-O2".to_owned()];
        extra.extend(libs.iter().map(|l| l.to_string()));
        compile(&source, &exe, true, &extra, Mode::Plain);
    }
}

#[test]
fn bench_report_script_parses() {
    for script in [
        "bench/report.py",
        "bench/cpu_model.py",
        "bench/peers/run.py",
        "bench/peers/report.py",
    ] {
        let status = Command::new("python3")
            .current_dir(root())
            .args(["-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())"])
            .arg(script)
            .status();
        match status {
            Ok(s) => assert!(s.success(), "{script} does not parse"),
            Err(e) => eprintln!("SKIP: no python3 to check {script} ({e})"),
        }
    }
}
