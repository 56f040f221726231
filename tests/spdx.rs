// SPDX-License-Identifier: MIT OR Apache-2.0
//! Every source file says its licence in its first lines, as
//! `SPDX-License-Identifier: MIT OR Apache-2.0` (Cargo.toml's `license`);
//! the licence texts are LICENSE-MIT and LICENSE-APACHE.

mod support;
use std::path::{Path, PathBuf};

const IDENTIFIER: &str = "SPDX-License-Identifier: MIT OR Apache-2.0";

/// Files another branch was rewriting when the identifiers were added
/// (the event ring, the benchmarks, the fuzz targets): they get theirs when
/// that work is merged, and then leave this list.
const DEFERRED: &[&str] = &[];

/// Build output and generated data, not sources.
const SKIPPED_DIRS: &[&str] = &["target", "corpus", "artifacts", "out", "plots"];

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !SKIPPED_DIRS.contains(&name) {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

fn is_source(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(ext, "rs" | "c" | "h" | "py" | "sh" | "3" | "in")
}

#[test]
fn every_source_file_names_its_licence() {
    let root = support::root();
    let mut files = Vec::new();
    for dir in [
        "src",
        "tests",
        "c-tests",
        "examples",
        "include",
        "abi",
        "pkg",
        "man",
        "pkgconfig",
        "bench",
        "fuzz",
    ] {
        walk(&root.join(dir), &mut files);
    }
    files.retain(|p| is_source(p));
    for file in ["build.rs", "Makefile", ".ci/run"] {
        files.push(root.join(file));
    }
    let mut missing = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if DEFERRED.iter().any(|d| rel.starts_with(d)) {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        // A man page that is only `.so other.3` has no text of its own.
        if text.starts_with(".so ") && text.lines().count() == 1 {
            continue;
        }
        if !text.lines().take(5).any(|l| l.contains(IDENTIFIER)) {
            missing.push(rel);
        }
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    assert!(
        missing.is_empty(),
        "no `{IDENTIFIER}` in the first 5 lines of:\n{}",
        missing.join("\n")
    );
    for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
        assert!(root.join(licence).is_file(), "{licence} is missing");
    }
}
