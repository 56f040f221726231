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

#[test]
fn bench_report_script_parses() {
    let status = Command::new("python3")
        .current_dir(root())
        .args(["-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())"])
        .arg("bench/report.py")
        .status();
    match status {
        Ok(s) => assert!(s.success(), "bench/report.py does not parse"),
        Err(e) => eprintln!("SKIP: no python3 to check bench/report.py ({e})"),
    }
}
