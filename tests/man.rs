// SPDX-License-Identifier: MIT OR Apache-2.0
//! The man pages: every `man/man3/*.3` renders without a single warning,
//! every public function has a page that names it, and every page's
//! example program compiles against the built library and runs.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The overview page lists every function; it must not count as a
/// function's own page.
const OVERVIEW: &str = "evfd.3";

fn pages() -> Vec<PathBuf> {
    let dir = support::root().join("man").join("man3");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "3"))
        .collect();
    pages.sort();
    assert!(!pages.is_empty(), "no man pages in {}", dir.display());
    pages
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Whether `program` can be started at all.
fn available(program: &str, version_arg: &str) -> bool {
    Command::new(program)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a renderer on `page` with its output discarded; returns what it
/// said on stderr, or a line saying it failed.
fn complaints(mut cmd: Command, page: &Path) -> String {
    let shown = format!("{cmd:?}");
    let out = cmd
        .env("LC_ALL", "C.UTF-8")
        .env("MANWIDTH", "80")
        .output()
        .unwrap_or_else(|e| panic!("run {shown}: {e}"));
    let mut said = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        said.push_str(&format!("{shown} exited with {}\n", out.status));
    }
    if out.stdout.is_empty() && cmd.get_program() == "man" {
        said.push_str(&format!(
            "{shown} rendered nothing for {}\n",
            page.display()
        ));
    }
    said
}

#[test]
fn pages_render_without_warnings() {
    let have_man = available("man", "--version");
    let have_groff = available("groff", "--version");
    assert!(
        have_man || have_groff,
        "neither man(1) nor groff(1) is installed, so the man pages cannot be \
         checked; install them (Debian: apt-get install man-db groff)"
    );
    let mut failures = String::new();
    for page in pages() {
        let mut said = String::new();
        if have_man {
            let mut cmd = Command::new("man");
            // `.so man3/x.3` alias pages resolve from the man root, as
            // man(1) resolves them from an installed section.
            cmd.current_dir(support::root().join("man"))
                .args(["-l", "--warnings=all"])
                .arg(&page);
            said.push_str(&complaints(cmd, &page));
        }
        if have_groff {
            let mut cmd = Command::new("groff");
            cmd.current_dir(support::root().join("man"))
                .args(["-t", "-man", "-ww", "-z"])
                .arg(&page);
            said.push_str(&complaints(cmd, &page));
        }
        if !said.is_empty() {
            failures.push_str(&format!("{}:\n{said}\n", page.display()));
        }
    }
    assert!(failures.is_empty(), "man pages with warnings:\n{failures}");
}

/// `text` with `/* */` and `//` comments removed.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        let block_first = match (block, line) {
            (Some(b), Some(l)) => b < l,
            (Some(_), None) => true,
            (None, _) => false,
        };
        match (block, line) {
            (Some(b), _) if block_first => {
                out.push_str(&rest[..b]);
                let end = rest[b + 2..].find("*/").expect("unterminated comment");
                rest = &rest[b + 2 + end + 2..];
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |n| &rest[l + n..]);
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The functions a header declares: every top-level declaration line
/// (cbindgen starts each at column 0) whose name is followed by `(`.
/// `static` helpers and typedefs are not public functions.
fn declared_functions(header: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(header)
        .unwrap_or_else(|e| panic!("read {}: {e}", header.display()));
    let mut names = BTreeSet::new();
    for line in strip_comments(&text).lines() {
        let starts_decl = line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        if !starts_decl
            || line.starts_with("typedef")
            || line.starts_with("static")
            || line.starts_with("extern \"C\"")
        {
            continue;
        }
        let Some(paren) = line.find('(') else {
            continue;
        };
        let before = line[..paren].trim_end();
        let name: String = before
            .chars()
            .rev()
            .take_while(|&c| is_ident(c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
    names
}

/// The source of the sections `wanted` of a page.
fn sections(source: &str, wanted: &[&str]) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in source.lines() {
        if let Some(title) = line.strip_prefix(".SH ") {
            inside = wanted.contains(&title.trim().trim_matches('"'));
            continue;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

#[test]
fn every_public_function_has_a_page() {
    let include = support::root().join("include");
    let mut functions = declared_functions(&include.join("evfd.h"));
    assert!(
        functions.contains("evfd_signalfd"),
        "the header parser found no evfd_signalfd in include/evfd.h: {functions:?}"
    );
    functions.extend(declared_functions(&include.join("evfd").join("proposed.h")));

    let named: Vec<(String, String)> = pages()
        .iter()
        .filter(|p| file_name(p) != OVERVIEW)
        .map(|p| {
            let source = std::fs::read_to_string(p).unwrap();
            (file_name(p), sections(&source, &["NAME", "SYNOPSIS"]))
        })
        .collect();
    let missing: Vec<&String> = functions
        .iter()
        .filter(|f| !named.iter().any(|(_, text)| mentions(text, f)))
        .collect();
    assert!(
        missing.is_empty(),
        "these public functions are named in the NAME or SYNOPSIS of no page in \
         man/man3 ({OVERVIEW} does not count): {}\nwrite a page for each (one page \
         may cover several functions)",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Turns the troff of an example back into the C a reader copies.
fn untroff(line: &str, page: &str) -> String {
    let line = line.strip_prefix("\\&").unwrap_or(line);
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let table = [
            ("\\-", "-"),
            ("\\e", "\\"),
            ("\\&", ""),
            ("\\(aq", "'"),
            ("\\(dq", "\""),
            ("\\(ti", "~"),
            ("\\(ha", "^"),
            ("\\(rs", "\\"),
            ("\\fB", ""),
            ("\\fI", ""),
            ("\\fR", ""),
            ("\\fP", ""),
        ];
        let Some((from, to)) = table.iter().find(|(from, _)| rest.starts_with(from)) else {
            panic!("{page}: an escape this test cannot turn back into C: {line}");
        };
        out.push_str(to);
        rest = &rest[from.len()..];
    }
    out.push_str(rest);
    out
}

/// The `.EX` blocks of `section`, each turned back into text.
fn example_blocks(section: &str, page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line.trim()) {
            (None, ".EX") => current = Some(String::new()),
            (Some(block), ".EE") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(_), _) if line.starts_with(".\\\"") => {}
            (Some(block), _) => {
                assert!(
                    !line.starts_with('.') && !line.starts_with('\''),
                    "{page}: a request inside an example: {line}"
                );
                block.push_str(&untroff(line, page));
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "{page}: an .EX without .EE");
    blocks
}

/// A page's example: its program and the `$ cc ...` command the page tells
/// readers to build it with.
struct Example {
    program: String,
    command: String,
}

fn example(source: &str, page: &str) -> Option<Example> {
    let section = sections(source, &["EXAMPLES"]);
    if section.is_empty() {
        return None;
    }
    let blocks = example_blocks(&section, page);
    let program = blocks
        .iter()
        .find(|b| b.contains("main("))
        .unwrap_or_else(|| panic!("{page}: EXAMPLES has no program (an .EX with main)"))
        .clone();
    let command = blocks
        .iter()
        .flat_map(|b| b.lines())
        .find_map(|l| l.strip_prefix("$ ").filter(|c| c.starts_with("cc ")))
        .unwrap_or_else(|| {
            panic!("{page}: EXAMPLES names no `$ cc ...` command to build its program")
        })
        .to_owned();
    Some(Example { program, command })
}

/// An uninstalled evfd.pc: the tree's headers and the freshly built library.
fn uninstalled_pkgconfig(dir: &Path) -> PathBuf {
    let pc_dir = dir.join("pkgconfig");
    std::fs::create_dir_all(&pc_dir).unwrap();
    std::fs::write(
        pc_dir.join("evfd.pc"),
        format!(
            "Name: evfd\nDescription: evfd, uninstalled\nVersion: {}\n\
             Libs: -L{} -levfd\nCflags: -I{}\n",
            env!("CARGO_PKG_VERSION"),
            support::lib_dir().display(),
            support::root().join("include").display()
        ),
    )
    .unwrap();
    pc_dir
}

/// Every EXAMPLES section: its program is built with exactly the command
/// the page gives (pkg-config answering for the built tree), built again
/// with -Wall -Wextra -Werror -pedantic added, and run.
#[test]
fn examples_compile_with_the_page_s_command_and_run() {
    let out_dir = support::target_dir().join("man-examples");
    let pc_dir = uninstalled_pkgconfig(&out_dir);
    let mut ran = Vec::new();
    for page in pages() {
        let name = file_name(&page);
        let source = std::fs::read_to_string(&page).unwrap();
        let Some(ex) = example(&source, &name) else {
            continue;
        };
        let dir = out_dir.join(&name);
        // An earlier layout kept a file of this name here.
        let _ = std::fs::remove_file(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c_file = ex
            .command
            .split_whitespace()
            .find(|w| w.ends_with(".c"))
            .unwrap_or_else(|| panic!("{name}: `{}` names no .c file", ex.command));
        std::fs::write(dir.join(c_file), &ex.program).unwrap();
        let strict = format!(
            "{} -Wall -Wextra -Werror -pedantic -o strict.out",
            ex.command
        );
        for command in [&ex.command, &strict] {
            let out = Command::new("sh")
                .current_dir(&dir)
                .env("PKG_CONFIG_PATH", &pc_dir)
                .args(["-c", command])
                .output()
                .expect("run sh");
            assert!(
                out.status.success(),
                "{name}: the example does not build with `{command}`:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let binary = dir.join("a.out");
        let mut run = Command::new(&binary);
        run.env("LD_LIBRARY_PATH", support::lib_dir());
        let (code, stdout, stderr) = support::run_with_deadline(run, Duration::from_secs(60));
        assert_eq!(
            code, 0,
            "the example of {name} failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        ran.push(name);
    }
    for must in [
        "evfd_signalfd.3",
        "evfd_timerfd.3",
        "evfd_eventfd.3",
        "evfd_eventfs_signalfd.3",
        "evfd_ring.3",
        "evfd_version.3",
    ] {
        assert!(ran.iter().any(|n| n == must), "{must}: no example ran");
    }
}

/// Whether `page` is a `.so` alias of another page.
fn is_alias(source: &str) -> bool {
    source.lines().any(|l| l.starts_with(".so "))
}

/// The function names of a page's NAME section.
fn named_functions(source: &str) -> Vec<String> {
    let name = sections(source, &["NAME"]);
    let names = name.split("\\-").next().unwrap_or("");
    names
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| n.starts_with(|c: char| c.is_ascii_lowercase()))
        .map(str::to_owned)
        .collect()
}

/// The Linux man-pages layout: LIBRARY names the link flags, ATTRIBUTES
/// gives the thread safety of every function the page names, VERSIONS
/// exists, and every page has the one footer.
#[test]
fn pages_have_library_attributes_versions_and_one_footer() {
    let footer = format!("\"evfd {}\" \"evfd Manual\"", env!("CARGO_PKG_VERSION"));
    let mut failures = String::new();
    for page in pages() {
        let name = file_name(&page);
        let source = std::fs::read_to_string(&page).unwrap();
        if is_alias(&source) {
            continue;
        }
        let th = source.lines().find(|l| l.starts_with(".TH "));
        if !th.is_some_and(|l| l.ends_with(&footer)) {
            failures.push_str(&format!("{name}: .TH must end with {footer}: {th:?}\n"));
        }
        let library = sections(&source, &["LIBRARY"]);
        if !library.contains("\\-levfd") || !library.contains("pkg\\-config") {
            failures.push_str(&format!(
                "{name}: no LIBRARY section naming -levfd and pkg-config\n"
            ));
        }
        let attributes = sections(&source, &["ATTRIBUTES"]);
        if !attributes.contains("Thread safety") {
            failures.push_str(&format!("{name}: no ATTRIBUTES table with thread safety\n"));
        }
        if name != OVERVIEW {
            for f in named_functions(&source) {
                if !mentions(&attributes, &f) {
                    failures.push_str(&format!("{name}: ATTRIBUTES does not list {f}()\n"));
                }
            }
        }
        if sections(&source, &["VERSIONS"]).trim().is_empty() {
            failures.push_str(&format!("{name}: no VERSIONS section\n"));
        }
        if attributes.contains(".TS") && !source.starts_with("'\\\" t") {
            failures.push_str(&format!(
                "{name}: a table without the '\\\" t line for tbl\n"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
