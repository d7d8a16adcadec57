//! The few conversions from C pointers that every entry point needs. Each checks for NULL and
//! for lengths no Rust slice can have; validity of the memory itself is the C caller's contract.

use core::ffi::{CStr, c_char};

use crate::result::{Failure, keywheel_result};

/// Borrows `len` bytes at `ptr` (the argument named `arg`).
///
/// # Safety
/// Unless NULL, `ptr` must be valid for reads of `len` bytes that nothing writes for `'a`.
pub(crate) unsafe fn input<'a>(ptr: *const u8, len: usize, arg: &str) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::null(arg));
    }
    if len > isize::MAX as usize {
        return Err(Failure::new(
            keywheel_result::InvalidArgument,
            std::format!("argument `{arg}_len` is {len}, more than any buffer can hold"),
        ));
    }
    // SAFETY: not NULL, len fits a slice; validity for reads is the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Borrows the NUL-terminated string at `ptr` (the argument named `arg`).
///
/// # Safety
/// Unless NULL, `ptr` must point to a NUL-terminated string that nothing writes for `'a`.
pub(crate) unsafe fn c_string<'a>(ptr: *const c_char, arg: &str) -> Result<&'a CStr, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(arg));
    }
    // SAFETY: not NULL; NUL termination and validity are the caller's contract.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// Borrows the object at `ptr` (the argument named `arg`).
///
/// # Safety
/// Unless NULL, `ptr` must point to a live `T` that nothing mutates for `'a`.
pub(crate) unsafe fn object<'a, T>(ptr: *const T, arg: &str) -> Result<&'a T, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(arg));
    }
    // SAFETY: not NULL; liveness is the caller's contract.
    Ok(unsafe { &*ptr })
}

/// Checks that the output pointer `ptr` (the argument named `arg`) is not NULL.
pub(crate) fn out<T>(ptr: *mut T, arg: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        return Err(Failure::null(arg));
    }
    Ok(())
}

/// Checks that a caller's buffer of `len` bytes can take `needed` bytes (with the core's
/// message, worded as in every binding).
pub(crate) fn room(len: usize, needed: usize) -> Result<(), Failure> {
    if len < needed {
        return Err(keywheel::Error::BufferTooSmall { len, needed }.into());
    }
    Ok(())
}

/// Copies `src` to the caller's buffer `dst` (the argument named `arg`) of `dst_len` bytes.
/// Checks everything before writing: on error nothing is written.
///
/// # Safety
/// Unless NULL, `dst` must be valid for writes of `dst_len` bytes and not overlap `src`.
pub(crate) unsafe fn copy_out(
    src: &[u8],
    dst: *mut u8,
    dst_len: usize,
    arg: &str,
) -> Result<(), Failure> {
    out(dst, arg)?;
    room(dst_len, src.len())?;
    // SAFETY: `dst` is not NULL and valid for `dst_len >= src.len()` bytes (caller's
    // contract); `src` is Rust memory the caller cannot alias.
    unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
    Ok(())
}
