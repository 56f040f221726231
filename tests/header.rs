//! include/evfd.h is what the pinned cbindgen generates from src/ffi (byte
//! for byte), and it compiles as strict C11 and as C++.

mod support;
use std::process::Command;
use support::root;

#[test]
fn committed_header_is_fresh() {
    let generated = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/evfd.h")).unwrap();
    let committed = std::fs::read_to_string(root().join("include/evfd.h")).unwrap();
    assert!(
        generated == committed,
        "include/evfd.h is stale: run `make header` and commit it"
    );
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
/// is an error rather than unused text.
const USER: &str = r#"
#include <evfd.h>
#include <evfd.h>   /* include guard */
int use(void);
int use(void) {
    sigset_t mask;
    struct timespec when = {1, 0};
    int (*sfd)(int, const sigset_t *, size_t) = evfd_signalfd;
    int (*tfd)(int, int, int, const struct timespec *) = evfd_timerfd;
    int (*efd)(unsigned int) = evfd_eventfd;
    int types[] = {EVFD_TIMER_REL, EVFD_TIMER_ABS, EVFD_TIMER_SEQ,
                   TFD_TIMER_REL, TFD_TIMER_ABS, TFD_TIMER_SEQ};
    (void)mask; (void)when; (void)sfd; (void)tfd; (void)efd; (void)types;
    return 0;
}
"#;

#[test]
fn header_compiles_as_strict_c11() {
    compiles("cc", "c11", "c", USER);
    compiles("cc", "c99", "c", USER);
}

#[test]
fn header_compiles_as_cpp() {
    compiles("c++", "c++11", "cc", USER);
    compiles("c++", "c++17", "cc", USER);
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
