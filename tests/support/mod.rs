// SPDX-License-Identifier: MIT OR Apache-2.0
//! Shared by the integration tests: builds the real shared library (with
//! panic=abort, as shipped) and compiles and runs C programs against it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the nested build puts its artefacts: a target directory of its
/// own, so it never waits on the lock of the `cargo test` that runs us.
pub fn target_dir() -> PathBuf {
    root().join("target").join("evfd-c")
}

/// The directory holding the freshly built `libevfd.so`, built once per
/// test binary by a plain `cargo build`: `cargo test` itself compiles the
/// crate with panic=unwind, which is not what ships.
pub fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args(["build", "--lib", "--quiet", "--target-dir"])
            .arg(target_dir())
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build of libevfd failed");
        // Lay it out as an install does: the soname link is what the
        // dynamic linker looks for at run time.
        let built = target_dir().join("debug").join("libevfd.so");
        let dir = target_dir().join("lib");
        std::fs::create_dir_all(&dir).unwrap();
        let staged = dir.join("libevfd.so.new");
        std::fs::copy(&built, &staged).expect("copy libevfd.so");
        std::fs::rename(&staged, dir.join("libevfd.so")).unwrap();
        let soname = dir.join(concat!("libevfd.so.", env!("CARGO_PKG_VERSION_MAJOR")));
        let _ = std::fs::remove_file(&soname);
        std::os::unix::fs::symlink("libevfd.so", &soname).unwrap();
        dir
    })
}

pub fn lib_path() -> PathBuf {
    lib_dir().join("libevfd.so")
}

/// How the C tests are built and run: plain (the default), or
/// `EVFD_CTEST_MODE=asan` / `valgrind` / `tsan` / `helgrind` / `drd` as
/// `.ci/run` does (helgrind and drd: valgrind's thread checkers, run on the
/// plain build).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Plain,
    Asan,
    Valgrind,
    Tsan,
    Helgrind,
    Drd,
}

pub fn mode() -> Mode {
    match std::env::var("EVFD_CTEST_MODE").as_deref() {
        Ok("asan") => Mode::Asan,
        Ok("valgrind") => Mode::Valgrind,
        Ok("tsan") => Mode::Tsan,
        Ok("helgrind") => Mode::Helgrind,
        Ok("drd") => Mode::Drd,
        Ok("") | Err(_) => Mode::Plain,
        Ok(other) => panic!("unknown EVFD_CTEST_MODE {other}"),
    }
}

/// The options a C test asks for in a `/* evfd-test: ... */` line.
#[derive(Default, Debug)]
pub struct Directives {
    /// Run again with `LD_PRELOAD=libevfd.so`.
    pub preload: bool,
    /// Run once per ring backend (`EVFD_RING_BACKEND=io_uring`, `epoll`).
    pub backends: bool,
    /// Link against glibc only, not libevfd (for preload tests).
    pub no_link: bool,
    /// Too slow under valgrind: run plain there.
    pub no_valgrind: bool,
    /// Extra libraries or flags for the link line.
    pub ldflags: Vec<String>,
}

pub fn directives(source: &str) -> Directives {
    let mut d = Directives::default();
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix("/* evfd-test:") else {
            continue;
        };
        for word in rest.trim_end_matches("*/").split_whitespace() {
            match word {
                "preload" => d.preload = true,
                "backends" => d.backends = true,
                "no-link" => d.no_link = true,
                "no-valgrind" => d.no_valgrind = true,
                w if w.starts_with("-l") || w.starts_with("-W") => d.ldflags.push(w.to_owned()),
                other => panic!("unknown evfd-test directive {other}"),
            }
        }
    }
    d
}

/// The C compiler and flags every C test is built with.
pub fn c_flags(mode: Mode) -> Vec<String> {
    let mut flags: Vec<String> = [
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-g",
        "-O1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    flags.push(format!("-I{}", root().join("include").display()));
    flags.push(format!("-I{}", root().join("c-tests").display()));
    match mode {
        Mode::Asan => flags.extend(
            [
                "-fsanitize=address,undefined",
                "-fno-omit-frame-pointer",
                "-fno-sanitize-recover=all",
            ]
            .map(String::from),
        ),
        Mode::Tsan => flags.push("-fsanitize=thread".into()),
        Mode::Plain | Mode::Valgrind | Mode::Helgrind | Mode::Drd => {}
    }
    flags
}

/// Compiles `source` into `out`; panics with the compiler's output if it
/// does not compile.
pub fn compile(source: &Path, out: &Path, link_evfd: bool, extra: &[String], mode: Mode) {
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(cc);
    cmd.args(c_flags(mode)).arg(source).arg("-o").arg(out);
    if link_evfd {
        let dir = lib_dir();
        cmd.arg(format!("-L{}", dir.display()))
            .arg(format!("-Wl,-rpath,{}", dir.display()))
            .arg("-levfd");
    }
    cmd.args(extra).arg("-lpthread");
    let output = cmd.output().expect("run the C compiler");
    assert!(
        output.status.success(),
        "{} does not compile:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Exit status a C test uses to say it cannot run here (automake's 77).
pub const SKIP: i32 = 77;

/// Runs `cmd` with a deadline; returns its exit code (or 128 + signal),
/// with stdout and stderr.
pub fn run_with_deadline(mut cmd: Command, limit: Duration) -> (i32, String, String) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {limit:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    (code, out_reader.join().unwrap(), err_reader.join().unwrap())
}

/// Compiles `c-tests/<name>.c` for the current mode and runs it in every
/// variant its directives ask for; panics on the first failure.
pub fn run_c_test(name: &str) {
    let mode = mode();
    let source = root().join("c-tests").join(format!("{name}.c"));
    let text = std::fs::read_to_string(&source).unwrap();
    let d = directives(&text);
    let exe = target_dir()
        .join("c-tests")
        .join(format!("{mode:?}").to_lowercase())
        .join(name);
    compile(&source, &exe, !d.no_link, &d.ldflags, mode);

    let mut variants: Vec<Vec<(&str, String)>> = Vec::new();
    let backends: &[&str] = if d.backends {
        &["io_uring", "epoll"]
    } else {
        &[""]
    };
    for backend in backends {
        let base: Vec<(&str, String)> = if backend.is_empty() {
            vec![]
        } else {
            vec![("EVFD_RING_BACKEND", backend.to_string())]
        };
        if !d.no_link {
            variants.push(base.clone());
        }
        if d.preload || d.no_link {
            let mut v = base.clone();
            v.push(("LD_PRELOAD", lib_path().display().to_string()));
            v.push(("EVFD_TEST_PRELOADED", "1".into()));
            variants.push(v);
        }
        if d.no_link {
            // A program linked against glibc alone also runs without evfd.
            variants.push(base);
        }
    }

    for env in variants {
        let use_valgrind =
            matches!(mode, Mode::Valgrind | Mode::Helgrind | Mode::Drd) && !d.no_valgrind;
        let mut cmd = if use_valgrind {
            let mut c = Command::new("valgrind");
            match mode {
                Mode::Helgrind => c.arg("--tool=helgrind"),
                Mode::Drd => c.arg("--tool=drd"),
                _ => c.args(["--leak-check=full", "--errors-for-leak-kinds=definite"]),
            };
            c.args([
                "--error-exitcode=99",
                "--quiet",
                "--child-silent-after-fork=yes",
                "--trace-children=no",
            ])
            .arg(format!(
                "--suppressions={}",
                root().join("c-tests/valgrind.supp").display()
            ))
            .arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.env_remove("LD_PRELOAD").env_remove("EVFD_RING_BACKEND");
        if mode == Mode::Asan {
            cmd.env(
                "ASAN_OPTIONS",
                "detect_leaks=1:verify_asan_link_order=0:abort_on_error=0",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
        }
        if mode == Mode::Tsan {
            cmd.env("TSAN_OPTIONS", "halt_on_error=1:exitcode=66");
        }
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let limit = Duration::from_secs(if use_valgrind { 600 } else { 180 });
        let (code, stdout, stderr) = run_with_deadline(cmd, limit);
        if code == SKIP {
            eprintln!("SKIP {name} {env:?}: {}", stderr.trim());
            continue;
        }
        assert_eq!(
            code, 0,
            "C test {name} failed (exit {code}) with {env:?} in {mode:?} mode\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
    }
}
