//! Gives the shared library `libkeywheel.so` its SONAME, `libkeywheel.so.<SOVERSION>` (rustc
//! sets none for a cdylib). Programs linked with `-lkeywheel` then record
//! `NEEDED libkeywheel.so.0`, so a future incompatible ABI (a new SONAME) can be installed next
//! to this one, and Debian's dpkg-shlibdeps can make packages depend on the library package
//! (`libkeywheel0`, packaging/deb). `ffi/install.sh` installs the real file as
//! `libkeywheel.so.<version>` with the `libkeywheel.so.<SOVERSION>` and `libkeywheel.so`
//! symlinks. Only the cdylib gets the flag: the static and Rust libraries, the tests and the
//! other crates (Python, wasm) are not linked with it.

/// The ABI version in the SONAME: raise it whenever a change breaks programs linked against
/// the previous library (a removed or changed function, type or constant of include/keywheel.h);
/// additions keep it.
const SOVERSION: u32 = 0;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // ELF targets (GNU ld, gold, lld and mold all take -soname); macOS uses install names and
    // Windows DLL names, wasm has no shared libraries.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    let elf = family.split(',').any(|f| f == "unix")
        && !matches!(
            os.as_str(),
            "macos" | "ios" | "tvos" | "watchos" | "visionos"
        );
    if elf {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkeywheel.so.{SOVERSION}");
    }
}
