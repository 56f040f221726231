// SPDX-License-Identifier: MIT OR Apache-2.0
//! What leaves the shared object and what runs when it is loaded: the
//! export list is exactly the functions of `evfd.h` plus `signalfd` and
//! `timerfd` (`evfd_version` among them), the soname is `libevfd.so.MAJOR`, evfd never reaches its own or
//! glibc's signalfd/eventfd/timerfd names through the dynamic linker, and
//! the only load-time code is the C runtime's and Rust std's argv capture.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Runs a binutils tool on the library; skips the test (with a message)
/// if the tool is missing, panics if it fails.
fn tool(program: &str, args: &[&str], lib: &Path) -> Option<String> {
    match Command::new(program).args(args).arg(lib).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{program} {args:?} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).expect("utf-8 tool output"))
        }
        Err(e) => {
            eprintln!("SKIP: {program} is not available ({e}); install binutils");
            None
        }
    }
}

/// The functions `include/evfd.h` declares: the identifier before the `(`
/// on every line that starts a declaration at column 0.
fn header_functions() -> BTreeSet<String> {
    let header = std::fs::read_to_string(support::root().join("include/evfd.h")).unwrap();
    let mut names = BTreeSet::new();
    for line in header.lines() {
        let starts_declaration = line
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !starts_declaration || line.starts_with("typedef") {
            continue;
        }
        let Some(before) = line.split('(').next().filter(|_| line.contains('(')) else {
            continue;
        };
        let name = before
            .split_whitespace()
            .last()
            .unwrap()
            .trim_start_matches('*');
        names.insert(name.to_owned());
    }
    assert!(
        names.contains("evfd_signalfd"),
        "could not read the prototypes of evfd.h: {names:?}"
    );
    names
}

#[test]
fn export_list_is_the_header_plus_signalfd_and_timerfd() {
    let lib = support::lib_path();
    let Some(nm) = tool("nm", &["-D", "--defined-only"], &lib) else {
        return;
    };
    let mut exported = BTreeSet::new();
    for line in nm.lines() {
        let name = line.split_whitespace().last().unwrap();
        // A named version would stop `signalfd` from interposing glibc's
        // `signalfd@GLIBC_2.7` under LD_PRELOAD.
        assert!(!name.contains('@'), "versioned export {name}");
        exported.insert(name.to_owned());
    }
    let mut expected = header_functions();
    expected.insert("signalfd".into());
    expected.insert("timerfd".into());
    assert_eq!(
        exported,
        expected,
        "nm -D --defined-only {} differs from evfd.h + signalfd + timerfd",
        lib.display()
    );
    assert!(!exported.contains("eventfd"), "eventfd must stay glibc's");
    assert!(
        exported.contains("evfd_version"),
        "the runtime version call is not exported"
    );
}

/// The soname carries Cargo.toml's major version (build.rs derives it).
#[test]
fn soname_is_libevfd_so_major() {
    let lib = support::lib_path();
    let Some(dynamic) = tool("readelf", &["-dW"], &lib) else {
        return;
    };
    let sonames: Vec<&str> = dynamic.lines().filter(|l| l.contains("(SONAME)")).collect();
    assert_eq!(sonames.len(), 1, "{dynamic}");
    let want = format!("[libevfd.so.{}]", env!("CARGO_PKG_VERSION_MAJOR"));
    assert!(sonames[0].contains(&want), "soname: {}", sonames[0]);
}

/// The names evfd must never reach through the dynamic linker: its own
/// exports (a call through the PLT could land in an interposed copy) and
/// the libc wrappers whose names evfd also defines or shadows.
fn forbidden_imports() -> BTreeSet<String> {
    let mut names = header_functions();
    for name in [
        "signalfd",
        "signalfd4",
        "timerfd",
        "timerfd_create",
        "timerfd_settime",
        "timerfd_gettime",
        "eventfd",
        "eventfd_read",
        "eventfd_write",
    ] {
        names.insert(name.into());
    }
    names
}

#[test]
fn no_undefined_reference_to_signalfd_eventfd_or_timerfd_names() {
    let lib = support::lib_path();
    let Some(nm) = tool("nm", &["-D", "--undefined-only"], &lib) else {
        return;
    };
    let forbidden = forbidden_imports();
    for line in nm.lines() {
        let name = line.split_whitespace().last().unwrap();
        let bare = name.split('@').next().unwrap();
        assert!(
            !forbidden.contains(bare),
            "libevfd.so imports {name}: it must use raw system calls"
        );
    }
}

#[test]
fn no_dynamic_relocation_against_an_exported_or_libc_event_name() {
    let lib = support::lib_path();
    let Some(relocs) = tool("readelf", &["-rW"], &lib) else {
        return;
    };
    let forbidden = forbidden_imports();
    let mut seen = 0;
    for line in relocs.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Offset Info Type Sym.Value Sym.Name [+ Addend]
        if fields.len() < 5 || !fields[2].starts_with("R_") {
            continue;
        }
        seen += 1;
        let bare = fields[4].split('@').next().unwrap();
        assert!(
            !forbidden.contains(bare),
            "relocation against {bare}: evfd would call it through the PLT/GOT:\n{line}"
        );
    }
    assert!(seen > 0, "no symbol relocations parsed from:\n{relocs}");
}

/// Code address -> symbol name, from the static symbol table.
fn symbol_at(nm_output: &str, address: u64) -> Option<String> {
    nm_output.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 3 && u64::from_str_radix(f[0], 16).ok() == Some(address))
            .then(|| f[2].to_owned())
    })
}

/// The functions `.init_array` runs, by name: the entries are RELATIVE
/// relocations (or symbol relocations) at the section's addresses.
fn init_array_functions(lib: &Path) -> Option<Vec<String>> {
    let sections = tool("readelf", &["-SW"], lib)?;
    let relocs = tool("readelf", &["-rW"], lib)?;
    let nm = tool("nm", &[], lib)?;
    let Some(line) = sections.lines().find(|l| l.contains(" .init_array ")) else {
        return Some(Vec::new());
    };
    // "[20] .init_array INIT_ARRAY <addr> <off> <size> ..."
    let f: Vec<&str> = line.split(']').nth(1).unwrap().split_whitespace().collect();
    let start = u64::from_str_radix(f[2], 16).unwrap();
    let size = u64::from_str_radix(f[4], 16).unwrap();
    let mut names = Vec::new();
    for rel in relocs.lines() {
        let r: Vec<&str> = rel.split_whitespace().collect();
        let Some(offset) = r.first().and_then(|o| u64::from_str_radix(o, 16).ok()) else {
            continue;
        };
        if r.len() < 4 || !(start..start + size).contains(&offset) {
            continue;
        }
        let name = if r[2].ends_with("_RELATIVE") {
            let target = u64::from_str_radix(r.last().unwrap(), 16).unwrap();
            symbol_at(&nm, target).unwrap_or_else(|| format!("<unnamed {target:#x}>"))
        } else {
            r[4].to_owned()
        };
        names.push(name);
    }
    assert_eq!(
        names.len() as u64,
        size / 8,
        "every .init_array slot should have a relocation:\n{line}"
    );
    Some(names)
}

#[test]
fn load_time_code_cannot_fail_or_deadlock() {
    let lib = support::lib_path();
    let Some(constructors) = init_array_functions(&lib) else {
        return;
    };
    for name in &constructors {
        if name == "frame_dummy" {
            // The C runtime's: registers transactional-memory clones only
            // if libitm is loaded (a weak symbol, NULL otherwise).
            continue;
        }
        assert!(
            name.contains("ARGV_INIT_ARRAY") && name.contains("init_wrapper"),
            "unexpected load-time constructor {name} in libevfd.so"
        );
        // Rust std's: it copies argc/argv into two statics. It must stay a
        // leaf (no calls: no allocation, no locks).
        let Some(code) = tool("objdump", &["-d", &format!("--disassemble={name}")], &lib) else {
            return;
        };
        let body: Vec<&str> = code
            .lines()
            .filter(|l| l.contains(":\t") && !l.trim_end().ends_with(">:"))
            .collect();
        assert!(!body.is_empty(), "no code found for {name}:\n{code}");
        for insn in &body {
            assert!(
                !insn.contains("call") && !insn.contains("jmp"),
                "std's argv constructor is no longer a leaf:\n{insn}"
            );
        }
    }
    eprintln!("load-time constructors: {constructors:?}");
}
