//! Gives the shared library its SONAME, `libferroftp.so.MAJOR` (MAJOR: the crate's major
//! version, the header's `FERROFTP_VERSION_MAJOR`), so that a program linked against it is
//! never run with an incompatible release. The rule that moves the two together is in
//! bindings-c/README.md ("Versions and the SONAME").

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // ELF platforms; macOS (install_name) and Windows (DLL names) have other conventions.
    if !matches!(target_os.as_str(), "macos" | "ios" | "windows") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libferroftp.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
