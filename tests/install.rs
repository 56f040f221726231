//! `make install` into a temporary prefix lays out the library, its links,
//! headers, pkg-config file and man pages, and a C program builds with
//! `pkg-config --cflags --libs evfd` against that prefix and runs.

mod support;
use std::path::Path;
use std::process::Command;
use support::root;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn install_then_build_a_consumer_with_pkg_config() {
    support::lib_dir(); // build once, the same way as every other test
    let prefix = support::target_dir().join("install-test/prefix");
    let stage = support::target_dir().join("install-test/stage");
    let _ = std::fs::remove_dir_all(prefix.parent().unwrap());

    // A plain install, and a staged one (DESTDIR) that must put the same
    // tree under the stage directory while naming the real prefix inside.
    for destdir in [None, Some(&stage)] {
        let mut make = Command::new("make");
        make.current_dir(root())
            .arg("install")
            .arg(format!("PREFIX={}", prefix.display()))
            .arg("PROFILE=debug")
            .arg(format!("TARGET_DIR={}", support::target_dir().display()));
        if let Some(d) = destdir {
            make.arg(format!("DESTDIR={}", d.display()));
        }
        run(&mut make);
    }

    let staged = stage.join(prefix.strip_prefix("/").unwrap());
    for base in [prefix.clone(), staged] {
        let lib = base.join("lib");
        for f in ["libevfd.so.0.1.0", "libevfd.a", "pkgconfig/evfd.pc"] {
            assert!(lib.join(f).is_file(), "missing {}", lib.join(f).display());
        }
        assert_eq!(
            std::fs::read_link(lib.join("libevfd.so.0")).unwrap(),
            Path::new("libevfd.so.0.1.0")
        );
        assert_eq!(
            std::fs::read_link(lib.join("libevfd.so")).unwrap(),
            Path::new("libevfd.so.0")
        );
        assert!(base.join("include/evfd.h").is_file());
        assert!(base.join("include/evfd/proposed.h").is_file());
        let pages: Vec<_> = std::fs::read_dir(base.join("share/man/man3"))
            .unwrap()
            .collect();
        assert!(!pages.is_empty(), "no man pages installed");
        let pc = std::fs::read_to_string(lib.join("pkgconfig/evfd.pc")).unwrap();
        assert!(pc.contains(&format!("prefix={}", prefix.display())), "{pc}");
        assert!(
            !pc.contains('@'),
            "unsubstituted pkg-config template:\n{pc}"
        );
    }

    // The consumer: built only from what pkg-config says about the prefix.
    let pkgconfig = prefix.join("lib/pkgconfig");
    let flags = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", &pkgconfig)
        .args(["--cflags", "--libs", "evfd"]));
    let dir = prefix.parent().unwrap();
    let source = dir.join("consumer.c");
    std::fs::write(
        &source,
        r#"
#include <evfd.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    int fd = evfd_eventfd(41);
    uint64_t one = 1, v = 0;
    if (fd < 0 || write(fd, &one, 8) != 8 || read(fd, &v, 8) != 8 || v != 42)
        return 1;
    close(fd);
    printf("consumer ok %llu\n", (unsigned long long)v);
    return 0;
}
"#,
    )
    .unwrap();
    let exe = dir.join("consumer");
    run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .args(flags.split_whitespace()));
    // No rpath: the installed library is found through LD_LIBRARY_PATH, as
    // it would be through ld.so.conf in a real prefix.
    let out = run(Command::new(&exe).env("LD_LIBRARY_PATH", prefix.join("lib")));
    assert_eq!(out.trim(), "consumer ok 42");
    // And it really loaded the installed copy, by soname.
    let ldd = run(Command::new("ldd")
        .arg(&exe)
        .env("LD_LIBRARY_PATH", prefix.join("lib")));
    assert!(
        ldd.contains(&format!(
            "libevfd.so.0 => {}",
            prefix.join("lib/libevfd.so.0").display()
        )),
        "{ldd}"
    );

    // Static linking through pkg-config --static.
    let static_flags = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", &pkgconfig)
        .args(["--cflags", "--static", "--libs", "evfd"]));
    let static_exe = dir.join("consumer-static");
    let libdir = format!("-L{}", prefix.join("lib").display());
    let mut args: Vec<String> = static_flags
        .split_whitespace()
        .filter(|f| *f != "-levfd" && !f.starts_with("-L"))
        .map(String::from)
        .collect();
    args.insert(0, prefix.join("lib/libevfd.a").display().to_string());
    args.insert(0, libdir);
    run(Command::new("cc")
        .arg(&source)
        .arg("-o")
        .arg(&static_exe)
        .args(&args));
    assert_eq!(run(&mut Command::new(&static_exe)).trim(), "consumer ok 42");
}
