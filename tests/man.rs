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
                .args(["-man", "-ww", "-z"])
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

/// The program of a page's `.SS Program source` subsection, if it has one.
fn example_program(source: &str, page: &str) -> Option<String> {
    let mut lines = source
        .lines()
        .skip_while(|l| l.trim() != ".SS Program source");
    lines.next()?;
    let mut lines = lines.skip_while(|l| l.trim() != ".EX");
    lines.next()?;
    let mut program = String::new();
    for line in lines {
        if line.trim() == ".EE" {
            return Some(program);
        }
        if line.starts_with(".\\\"") {
            continue;
        }
        assert!(
            !line.starts_with('.') && !line.starts_with('\''),
            "{page}: a request inside the example: {line}"
        );
        program.push_str(&untroff(line, page));
        program.push('\n');
    }
    panic!("{page}: .EX of the program source has no .EE");
}

#[test]
fn examples_compile_and_run() {
    let out_dir = support::target_dir().join("man-examples");
    let mut ran = 0;
    for page in pages() {
        let name = file_name(&page);
        let source = std::fs::read_to_string(&page).unwrap();
        let Some(program) = example_program(&source, &name) else {
            continue;
        };
        std::fs::create_dir_all(&out_dir).unwrap();
        let c_file = out_dir.join(format!("{name}.c"));
        let binary = out_dir.join(&name);
        std::fs::write(&c_file, program).unwrap();
        support::compile(&c_file, &binary, true, &[], support::Mode::Plain);
        let (code, stdout, stderr) =
            support::run_with_deadline(Command::new(&binary), Duration::from_secs(60));
        assert_eq!(
            code, 0,
            "the example of {name} failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        ran += 1;
    }
    assert!(
        ran >= 3,
        "only {ran} man pages have a Program source example"
    );
}
