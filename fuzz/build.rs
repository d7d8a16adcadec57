//! Compiles ffi/tests/c/fuzz_api.c (without its `main`) for the `c_api` target: the harness of
//! the C entry points, its choices read from the fuzzer's input.

fn main() {
    println!("cargo:rerun-if-changed=../ffi/tests/c/fuzz_api.c");
    println!("cargo:rerun-if-changed=../include/keywheel.h");
    cc::Build::new()
        .file("../ffi/tests/c/fuzz_api.c")
        .include("../include")
        .define("FUZZ_API_NO_MAIN", None)
        .std("c11")
        .warnings_into_errors(true)
        .compile("fuzz_api");
}
