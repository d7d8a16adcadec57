//! AFL target `c_api`: every C entry point of include/keywheel.h, called by
//! ffi/tests/c/fuzz_api.c with arguments chosen by the input's bytes (guard bytes after every
//! output, untouched outputs on failure, known result codes; a failed check aborts).

// The library's `keywheel_*` symbols, which the C harness calls.
extern crate ffi;

unsafe extern "C" {
    fn fuzz_api_input(data: *const u8, len: usize);
}

fn main() {
    afl::fuzz!(|data: &[u8]| {
        // SAFETY: `data` is valid for `data.len()` bytes for the call.
        unsafe { fuzz_api_input(data.as_ptr(), data.len()) };
    });
}
