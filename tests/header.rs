// SPDX-License-Identifier: MIT OR Apache-2.0
//! include/evfd.h is what the pinned cbindgen generates from src/ffi (byte
//! for byte, version macros from Cargo.toml included), and it compiles as
//! strict C11, as C++, and with musl's headers.
//!
//! This file is also the header's generator: `make header` runs
//! `EVFD_WRITE_HEADER=1 cargo test --test header`, which writes the file
//! instead of comparing it. cbindgen is a dev-dependency, so building the
//! library never compiles it.

mod support;
use std::process::Command;
use support::root;

/// The `EVFD_VERSION_*` macros, from the version Cargo.toml gives this crate.
fn version_macros() -> String {
    format!(
        "\n#define EVFD_VERSION_MAJOR {}\n#define EVFD_VERSION_MINOR {}\n\
         #define EVFD_VERSION_PATCH {}\n#define EVFD_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    )
}

/// What `make header` writes to include/evfd.h.
fn generate() -> String {
    let mut config =
        cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("read cbindgen.toml");
    config.after_includes = Some(version_macros());
    // Only the boundary is the header: everything C sees is in src/ffi/
    // (cbindgen follows its `mod` declarations).
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root().join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen could not generate evfd.h");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen wrote UTF-8")
}

#[test]
fn committed_header_is_fresh() {
    let generated = generate();
    let path = root().join("include/evfd.h");
    if std::env::var_os("EVFD_WRITE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/evfd.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        generated == committed,
        "include/evfd.h is stale: run `make header` and commit it"
    );
}

/// Building the library compiles only its runtime dependencies: cbindgen
/// (and its tree) is a dev-dependency, never a build-dependency.
#[test]
fn library_build_does_not_depend_on_cbindgen() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root())
        .args([
            "tree",
            "--offline",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree.contains("libc v"),
        "unexpected cargo tree output:\n{tree}"
    );
    assert!(
        !tree.contains("cbindgen"),
        "building libevfd would compile cbindgen:\n{tree}"
    );
}

#[test]
fn header_includes_no_libc_internal_header() {
    let header = std::fs::read_to_string(root().join("include/evfd.h")).unwrap();
    for line in header.lines().filter(|l| l.starts_with("#include")) {
        assert!(
            !line.contains("bits/") && !line.contains("asm/") && !line.contains("linux/"),
            "evfd.h must include only public libc headers (musl has no {line})"
        );
    }
}

fn compiles(compiler: &str, std: &str, lang: &str, source: &str) {
    let dir = support::target_dir().join("header-check");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("check-{std}.{lang}"));
    std::fs::write(&file, source).unwrap();
    let out = Command::new(compiler)
        .args([
            &format!("-std={std}"),
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
        ])
        .arg(format!("-I{}", root().join("include").display()))
        .arg(&file)
        .output()
        .expect("run the compiler");
    assert!(
        out.status.success(),
        "{compiler} -std={std} rejects the header:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every declaration is used, so a missing type or a C++-hostile spelling
/// is an error rather than unused text. No feature macro is defined: a
/// strict -std=c11 program must get sigset_t and struct timespec from
/// <evfd.h> alone.
const USER: &str = r#"
#include <evfd.h>
#include <evfd.h>   /* include guard */
#if EVFD_VERSION_MAJOR < 0 || EVFD_VERSION_MINOR < 0 || EVFD_VERSION_PATCH < 0
#error "version macros are not integer constants"
#endif
int use(void);
int use(void) {
    sigset_t mask;
    struct timespec when = {1, 0};
    int (*sfd)(int, const sigset_t *, size_t) = evfd_signalfd;
    int (*tfd)(int, int, int, const struct timespec *) = evfd_timerfd;
    int (*efd)(unsigned int) = evfd_eventfd;
    const char *(*ver)(void) = evfd_version;
    const char *built = EVFD_VERSION_STRING;
    struct evfd_event ev;
    int types[] = {EVFD_TIMER_REL, EVFD_TIMER_ABS, EVFD_TIMER_SEQ,
                   TFD_TIMER_REL, TFD_TIMER_ABS, TFD_TIMER_SEQ};
    (void)mask; (void)when; (void)sfd; (void)tfd; (void)efd; (void)types;
    (void)ver; (void)built; (void)ev;
    return 0;
}
"#;

#[test]
fn header_compiles_as_strict_c11() {
    compiles("cc", "c11", "c", USER);
    compiles("cc", "c17", "c", USER);
}

#[test]
fn header_compiles_as_cpp() {
    compiles("c++", "c++11", "cc", USER);
    compiles("c++", "c++17", "cc", USER);
}

/// Debian's musl-tools: musl's headers have no <bits/types/...> files, so
/// a glibc-internal include fails here. Skipped (with a message) where
/// musl-gcc is missing, unless EVFD_REQUIRE_MUSL is set (.ci/run sets it).
#[test]
fn header_compiles_with_musl_as_c11() {
    let have = Command::new("musl-gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("EVFD_REQUIRE_MUSL").is_none(),
            "musl-gcc is missing (Debian: apt-get install musl-tools)"
        );
        eprintln!("SKIP: musl-gcc is not installed (Debian: musl-tools)");
        return;
    }
    compiles("musl-gcc", "c11", "c", USER);
    compiles(
        "musl-gcc",
        "c11",
        "c",
        "#include <evfd/proposed.h>\nint x;\n",
    );
}

#[test]
fn proposed_header_compiles_as_c11_and_cpp() {
    let user = r#"
#include <evfd/proposed.h>
int use(void);
int use(void) {
    int (*s)(int, const sigset_t *, size_t) = signalfd;
    int (*t)(int, int, int, const struct timespec *) = timerfd;
    (void)s; (void)t;
    return 0 * eventfd(0u);
}
"#;
    compiles("cc", "c11", "c", user);
    compiles("c++", "c++11", "cc", user);
}

#[test]
fn timer_constants_are_macros_with_the_2007_values() {
    let header = std::fs::read_to_string(root().join("include/evfd.h")).unwrap();
    for (name, value) in [
        ("EVFD_TIMER_REL", 0),
        ("EVFD_TIMER_ABS", 1),
        ("EVFD_TIMER_SEQ", 2),
        ("TFD_TIMER_REL", 0),
        ("TFD_TIMER_ABS", 1),
        ("TFD_TIMER_SEQ", 2),
    ] {
        let line = format!("#define {name} {value}");
        assert!(header.lines().any(|l| l.trim() == line), "missing `{line}`");
    }
}
