//! Sets the soname, generates `evfd.h` with cbindgen, and lists the C tests
//! for `tests/c_tests.rs`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());

    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libevfd.so.0");
    // Symbols leave the .so only if they are #[no_mangle] extern "C": rustc
    // writes an anonymous version script for the cdylib with exactly those
    // (tests/exports.rs checks the list). A second, named version script
    // would version `signalfd`, and a versioned definition no longer
    // interposes glibc's `signalfd@GLIBC_2.8` under LD_PRELOAD.

    generate_header(&manifest, &out);
    list_c_tests(&manifest, &out);
}

fn generate_header(manifest: &Path, out: &Path) {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=EVFD_WRITE_HEADER");
    let config =
        cbindgen::Config::from_file(manifest.join("cbindgen.toml")).expect("cbindgen.toml");
    // Only the boundary is the header: everything C sees is in src/ffi/
    // (cbindgen follows its `mod` declarations).
    let builder = cbindgen::Builder::new()
        .with_config(config)
        .with_src(manifest.join("src/ffi/mod.rs"));
    let bindings = builder
        .generate()
        .expect("cbindgen could not generate evfd.h");
    let generated = out.join("evfd.h");
    bindings.write_to_file(&generated);
    if env::var_os("EVFD_WRITE_HEADER").is_some() {
        fs::copy(&generated, manifest.join("include/evfd.h")).expect("write include/evfd.h");
    }
}

/// One `#[test]` per `c-tests/*.c`, so that `cargo test` names each C
/// program and runs them in parallel.
fn list_c_tests(manifest: &Path, out: &Path) {
    let dir = manifest.join("c-tests");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".c").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut code = String::new();
    for name in names {
        let ident: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        code.push_str(&format!(
            "#[test]\nfn {ident}() {{\n    run_c_test(\"{name}\");\n}}\n"
        ));
    }
    fs::write(out.join("c_tests.rs"), code).expect("write c_tests.rs");
}
