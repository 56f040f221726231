// SPDX-License-Identifier: MIT OR Apache-2.0
//! One version: Cargo.toml's. Every other place that carries it is read
//! here and compared, with nothing changed by hand first: the header's
//! macros, `evfd_version()` of the built library, its soname, `make
//! version` (which names the installed files and fills evfd.pc), the man
//! page footers, NEWS, the Debian changelog and the ABI symbols file.

mod support;
use std::process::Command;
use support::root;

/// `version = "..."` of Cargo.toml's [package], read from the file.
fn cargo_toml_version() -> String {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let package = text
        .split("\n[")
        .find(|s| s.starts_with("package]") || s.starts_with("[package]"))
        .expect("Cargo.toml has a [package] table");
    package
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("[package] has a version")
        .to_owned()
}

fn parts(version: &str) -> (String, String, String) {
    let p: Vec<&str> = version.split('.').collect();
    assert_eq!(p.len(), 3, "version {version} is not MAJOR.MINOR.PATCH");
    (p[0].into(), p[1].into(), p[2].into())
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_place_carries_cargo_toml_s_version() {
    let version = cargo_toml_version();
    let (major, minor, patch) = parts(&version);
    let mut wrong = Vec::new();
    let mut check = |place: &str, found: Option<String>, want: &str| {
        if found.as_deref() != Some(want) {
            wrong.push(format!("{place}: {found:?}, Cargo.toml says {want}"));
        }
    };

    check(
        "the crate cargo built",
        Some(env!("CARGO_PKG_VERSION").into()),
        &version,
    );

    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let in_lock = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"evfd\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned());
    check("Cargo.lock", in_lock, &version);

    let header = std::fs::read_to_string(root().join("include/evfd.h")).unwrap();
    let define = |name: &str| {
        header.lines().find_map(|l| {
            l.strip_prefix(&format!("#define {name} "))
                .map(|v| v.trim().trim_matches('"').to_owned())
        })
    };
    check(
        "evfd.h EVFD_VERSION_MAJOR",
        define("EVFD_VERSION_MAJOR"),
        &major,
    );
    check(
        "evfd.h EVFD_VERSION_MINOR",
        define("EVFD_VERSION_MINOR"),
        &minor,
    );
    check(
        "evfd.h EVFD_VERSION_PATCH",
        define("EVFD_VERSION_PATCH"),
        &patch,
    );
    check(
        "evfd.h EVFD_VERSION_STRING",
        define("EVFD_VERSION_STRING"),
        &version,
    );

    let make = stdout(Command::new("make").current_dir(root()).args([
        "-s",
        "--no-print-directory",
        "version",
    ]));
    check("make version", Some(make.trim().into()), &version);

    let news = std::fs::read_to_string(root().join("NEWS")).unwrap();
    let newest = news
        .lines()
        .filter_map(|l| l.strip_prefix("evfd "))
        .find(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_owned);
    check("NEWS (newest entry)", newest, &version);

    let changelog = std::fs::read_to_string(root().join("pkg/changelog")).unwrap();
    let newest = changelog
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("evfd ("))
        .and_then(|l| l.split(')').next())
        .map(str::to_owned);
    check("pkg/changelog (newest entry)", newest, &version);

    let symbols = root().join(format!("abi/libevfd{major}.symbols"));
    let first = std::fs::read_to_string(&symbols)
        .ok()
        .and_then(|s| s.lines().next().map(str::to_owned));
    check(
        "abi/ symbols file header",
        first,
        &format!("libevfd.so.{major} libevfd{major} #MINVER#"),
    );

    for entry in std::fs::read_dir(root().join("man/man3")).unwrap() {
        let page = entry.unwrap().path();
        let text = std::fs::read_to_string(&page).unwrap();
        let Some(th) = text.lines().find(|l| l.starts_with(".TH ")) else {
            continue; // a .so alias
        };
        let in_footer = th
            .split('"')
            .nth(1)
            .and_then(|s| s.strip_prefix("evfd "))
            .map(str::to_owned);
        check(&page.display().to_string(), in_footer, &version);
    }

    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The built library: soname libevfd.so.MAJOR, and evfd_version() returns
/// the version of the header a program was compiled with.
#[test]
fn built_library_reports_the_version() {
    let version = cargo_toml_version();
    let (major, _, _) = parts(&version);
    let lib = support::lib_path();
    let dynamic = stdout(Command::new("readelf").arg("-dW").arg(&lib));
    assert!(
        dynamic.contains(&format!("Library soname: [libevfd.so.{major}]")),
        "soname of {} is not libevfd.so.{major}:\n{dynamic}",
        lib.display()
    );

    let dir = support::target_dir().join("version-test");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("version.c");
    std::fs::write(
        &source,
        "#include <evfd.h>\n#include <stdio.h>\n\
         int main(void) { printf(\"%s %s\\n\", evfd_version(), EVFD_VERSION_STRING); return 0; }\n",
    )
    .unwrap();
    let exe = dir.join("version");
    support::compile(&source, &exe, true, &[], support::Mode::Plain);
    let out = stdout(&mut Command::new(&exe));
    assert_eq!(
        out.trim(),
        format!("{version} {version}"),
        "evfd_version() and EVFD_VERSION_STRING"
    );
}
