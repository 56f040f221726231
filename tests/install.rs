// SPDX-License-Identifier: MIT OR Apache-2.0
//! `make install` / `make uninstall` as a user and a packager run them:
//! install refuses without a build and never runs cargo; it honours PREFIX,
//! LIBDIR and DESTDIR, installs stripped objects and two pkg-config files,
//! and runs ldconfig only as root into the live system; a consumer builds
//! from `pkg-config --cflags --libs evfd`; the README's static-linking
//! commands, run literally, give programs that need no libevfd.so; and
//! uninstall removes exactly what install put there.

mod support;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::root;

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn run(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `make <target>` for the debug build `support` made, with `CARGO=false`:
/// a target that ran cargo would fail.
fn make(target: &str, vars: &[(&str, String)]) -> Command {
    let mut cmd = Command::new("make");
    cmd.current_dir(root())
        .arg("--no-print-directory")
        .arg(target)
        .arg("PROFILE=debug")
        .arg(format!("TARGET_DIR={}", support::target_dir().display()))
        .arg("CARGO=false");
    for (k, v) in vars {
        cmd.arg(format!("{k}={v}"));
    }
    cmd
}

/// Every file and symlink under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found
}

fn sections(file: &Path) -> String {
    run(Command::new("readelf").arg("-SW").arg(file))
}

/// The ```sh block that follows the `<!-- marker ... -->` comment in README.md.
fn readme_block(marker: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let after = readme
        .split_once(&format!("<!-- {marker}"))
        .and_then(|(_, rest)| rest.split_once("-->"))
        .unwrap_or_else(|| panic!("README.md has no <!-- {marker} ... --> comment"))
        .1;
    let body = after
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .unwrap_or_else(|| panic!("no ```sh block after <!-- {marker} ... -->"))
        .0;
    body.lines()
        .map(|l| {
            l.split_once(" #")
                .map_or(l, |(cmd, _)| cmd)
                .trim()
                .to_owned()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn install_without_a_build_says_to_run_make_first() {
    let empty = support::target_dir().join("install-test/no-build");
    let _ = std::fs::remove_dir_all(&empty);
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = Command::new("make");
    cmd.current_dir(root())
        .args(["--no-print-directory", "install", "CARGO=false"])
        .arg(format!("TARGET_DIR={}", empty.display()))
        .arg(format!("DESTDIR={}", empty.join("stage").display()));
    let out = output(&mut cmd);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "make install without a build succeeded"
    );
    assert!(said.contains("run `make` first"), "{said}");
    assert!(
        !empty.join("stage").exists(),
        "a failed install left files behind"
    );
}

#[test]
fn install_use_and_uninstall() {
    support::lib_dir(); // build once, the same way as every other test
    run(Command::new("make")
        .current_dir(root())
        .args(["--no-print-directory", "-s", "lib", "PROFILE=debug"])
        .arg(format!("TARGET_DIR={}", support::target_dir().display())));

    let base = support::target_dir().join("install-test/run");
    let _ = std::fs::remove_dir_all(&base);
    let prefix = base.join("usr");
    // Debian's multiarch layout: LIBDIR is not $(PREFIX)/lib.
    let libdir = prefix.join("lib/x86_64-test-gnu");
    let stage = base.join("stage");
    // A stand-in ldconfig: logs its calls, and lists `libdir` as searched
    // when asked (-v -N -X), as the real one lists /etc/ld.so.conf's.
    let ldconfig = base.join("ldconfig");
    let ldlog = base.join("ldconfig.log");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(
        &ldconfig,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n[ \"$1\" = -v ] && echo '{}: (from test)'\nexit 0\n",
            ldlog.display(),
            libdir.display()
        ),
    )
    .unwrap();
    run(Command::new("chmod").arg("755").arg(&ldconfig));
    let root_user = run(Command::new("id").arg("-u")).trim() == "0";

    let vars = |destdir: Option<&Path>| {
        let mut v = vec![
            ("PREFIX", prefix.display().to_string()),
            ("LIBDIR", libdir.display().to_string()),
            ("LDCONFIG", ldconfig.display().to_string()),
        ];
        if let Some(d) = destdir {
            v.push(("DESTDIR", d.display().to_string()));
        }
        v
    };

    // Staged first: DESTDIR installs never call ldconfig.
    run(&mut make("install", &vars(Some(&stage))));
    let ld_calls = std::fs::read_to_string(&ldlog).unwrap_or_default();
    assert!(
        ld_calls.is_empty(),
        "ldconfig ran for a DESTDIR install: {ld_calls}"
    );
    let said = run(&mut make("install", &vars(None)));
    let ld_calls = std::fs::read_to_string(&ldlog).unwrap_or_default();
    if root_user {
        assert!(
            ld_calls.lines().any(|l| l.trim().is_empty()),
            "root install into a searched libdir did not run ldconfig: {ld_calls:?}"
        );
    } else {
        assert!(said.contains("ldconfig"), "no ldconfig note: {said}");
    }

    let version = env!("CARGO_PKG_VERSION");
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let realname = format!("libevfd.so.{version}");
    let soname = format!("libevfd.so.{major}");
    let staged = stage.join(prefix.strip_prefix("/").unwrap());
    let staged_lib = stage.join(libdir.strip_prefix("/").unwrap());
    assert_eq!(
        tree(&staged),
        tree(&prefix),
        "DESTDIR laid out another tree"
    );
    for lib in [libdir.clone(), staged_lib] {
        for f in [
            realname.as_str(),
            "libevfd.a",
            "pkgconfig/evfd.pc",
            "pkgconfig/evfd-static.pc",
        ] {
            assert!(lib.join(f).is_file(), "missing {}", lib.join(f).display());
        }
        assert_eq!(
            std::fs::read_link(lib.join(&soname)).unwrap(),
            Path::new(&realname)
        );
        assert_eq!(
            std::fs::read_link(lib.join("libevfd.so")).unwrap(),
            Path::new(&soname)
        );
        let so = sections(&lib.join(&realname));
        assert!(!so.contains(".debug_info"), "installed .so is not stripped");
        assert!(!so.contains(" .symtab "), "installed .so keeps .symtab");
        assert!(
            !sections(&lib.join("libevfd.a")).contains(".debug_"),
            "installed libevfd.a keeps debug info"
        );
        for pc in ["evfd.pc", "evfd-static.pc"] {
            let text = std::fs::read_to_string(lib.join("pkgconfig").join(pc)).unwrap();
            assert!(!text.contains('@'), "unsubstituted {pc}:\n{text}");
            assert!(text.contains(&format!("Version: {version}")), "{text}");
            assert!(text.contains("\nURL: http"), "{pc} has no URL:\n{text}");
            assert!(!text.contains("gcc_s"), "{pc} names -lgcc_s:\n{text}");
            assert!(text.contains(&format!("libdir={}", libdir.display())));
        }
    }
    assert!(prefix.join("include/evfd.h").is_file());
    assert!(prefix.join("include/evfd/proposed.h").is_file());
    assert!(prefix.join("share/man/man3/evfd_version.3").is_file());

    // The consumer, built only from what pkg-config says about the prefix.
    let pkgconfig = libdir.join("pkgconfig");
    let flags = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", &pkgconfig)
        .args(["--cflags", "--libs", "evfd"]));
    let work = base.join("consumer");
    std::fs::create_dir_all(&work).unwrap();
    let source = work.join("prog.c");
    std::fs::copy(root().join("examples/demo.c"), &source).unwrap();
    run(Command::new("cc")
        .current_dir(&work)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(["prog.c", "-o", "dynamic"])
        .args(flags.split_whitespace()));
    let out = run(Command::new(work.join("dynamic")).env("LD_LIBRARY_PATH", &libdir));
    assert!(out.contains("every event arrived"), "{out}");
    let ldd = run(Command::new("ldd")
        .arg(work.join("dynamic"))
        .env("LD_LIBRARY_PATH", &libdir));
    assert!(
        ldd.contains(&format!("{soname} => {}", libdir.join(&soname).display())),
        "{ldd}"
    );

    // The README's static recipe, command by command, as written there.
    let recipe = readme_block("static-recipe");
    assert!(recipe.len() >= 2, "README static recipe: {recipe:?}");
    for line in &recipe {
        run(Command::new("sh")
            .current_dir(&work)
            .env("PKG_CONFIG_PATH", &pkgconfig)
            .args(["-c", line]));
    }
    for exe in ["prog", "prog-static"] {
        let path = work.join(exe);
        let dynamic = run(Command::new("readelf").arg("-dW").arg(&path));
        assert!(
            !dynamic.contains("libevfd"),
            "{exe} (from the README's static recipe) still needs libevfd.so:\n{dynamic}"
        );
        let out = run(&mut Command::new(&path));
        assert!(out.contains("every event arrived"), "{exe}: {out}");
    }
    let fully = run(Command::new("readelf")
        .arg("-lW")
        .arg(work.join("prog-static")));
    assert!(!fully.contains("INTERP"), "prog-static is not fully static");

    // Uninstall removes exactly what was installed, and leaves alone what
    // it did not install: another file, or a soname link that another
    // version owns by now.
    let other = libdir.join("libother.so.1");
    std::fs::write(&other, "not evfd").unwrap();
    run(&mut make("uninstall", &vars(None)));
    let left = tree(&prefix);
    assert_eq!(
        left,
        BTreeSet::from([other.strip_prefix(&prefix).unwrap().to_path_buf()]),
        "make uninstall left these behind or removed too much"
    );
    // Again, with nothing installed: no error, no harm.
    let newer = format!("libevfd.so.{major}.999.0");
    std::fs::write(libdir.join(&newer), "another version").unwrap();
    std::os::unix::fs::symlink(&newer, libdir.join(&soname)).unwrap();
    run(&mut make("uninstall", &vars(None)));
    assert!(other.is_file() && libdir.join(&newer).is_file());
    assert_eq!(
        std::fs::read_link(libdir.join(&soname)).unwrap(),
        Path::new(&newer),
        "uninstall removed the soname link of another version"
    );
    run(&mut make("uninstall", &vars(Some(&stage))));
    assert!(tree(&stage).is_empty(), "{:?}", tree(&stage));
}
