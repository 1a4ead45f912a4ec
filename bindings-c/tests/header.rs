//! The committed header belongs to this crate: its version macros match Cargo.toml, and every
//! exported function is declared in it (CI also regenerates it and diffs).

use std::path::PathBuf;

fn header() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../include/ferroftp.h");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn define(header: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} is not defined in include/ferroftp.h"))
        .trim()
        .to_string()
}

#[test]
fn version_macros_match_cargo_toml() {
    let h = header();
    assert_eq!(
        define(&h, "FERROFTP_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        define(&h, "FERROFTP_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        define(&h, "FERROFTP_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    assert_eq!(
        define(&h, "FERROFTP_VERSION"),
        format!("\"{}\"", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn header_has_banner_and_every_exported_function() {
    let h = header();
    assert!(h.contains("DO NOT EDIT"), "the header lacks its banner");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut count = 0;
    for file in std::fs::read_dir(&src).expect("src") {
        let text = std::fs::read_to_string(file.expect("entry").path()).expect("read");
        for rest in text.split("pub extern \"C\" fn ").skip(1) {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                h.contains(&format!(" {name}(")) || h.contains(&format!("*{name}(")),
                "{name} is exported but not declared in include/ferroftp.h: run bindings-c/gen_header.sh"
            );
            count += 1;
        }
    }
    assert!(count > 60, "only {count} exported functions found");
}

/// The shared library's SONAME is `libferroftp.so.MAJOR`, MAJOR being the header's
/// `FERROFTP_VERSION_MAJOR` (build.rs sets it from the same Cargo.toml version; the rule is in
/// bindings-c/README.md, "Versions and the SONAME"). tests/c/run.py checks the installed
/// library with `readelf -d` too.
#[cfg(target_os = "linux")]
#[test]
fn soname_moves_with_the_major_version() {
    let major = define(&header(), "FERROFTP_VERSION_MAJOR");
    // The test binary is target/<profile>/deps/header-*; the library is built beside deps/.
    let exe = std::env::current_exe().expect("the test's path");
    let lib = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join("libferroftp.so");
    let bytes = std::fs::read(&lib).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared library is built by `cargo build -p ferroftp-c`, which \
             `make test` runs first)",
            lib.display()
        )
    });
    let soname = format!("libferroftp.so.{major}\0");
    assert!(
        bytes.windows(soname.len()).any(|w| w == soname.as_bytes()),
        "{} has no SONAME {soname:?}",
        lib.display()
    );
}
