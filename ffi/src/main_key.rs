//! The main-key handle.

use core::ffi::c_char;

use keywheel::{FINGERPRINT_LEN, KeyFileError, KeyFileMode, MainKey};

use crate::ptr;
use crate::result::{Failure, guard, guard_void, keywheel_result};

/// The cluster's long-term main secret (opaque). Made by `keywheel_main_key_new` or
/// `keywheel_main_key_from_file`, released (and wiped) by `keywheel_main_key_free`.
///
/// The handle is immutable: any number of threads may use one handle at the same time, as long
/// as none of them frees it meanwhile.
#[allow(non_camel_case_types)] // C naming.
pub struct keywheel_main_key {
    pub(crate) key: MainKey,
}

fn publish(key: MainKey, out: *mut *mut keywheel_main_key) {
    let handle = Box::into_raw(Box::new(keywheel_main_key { key }));
    // SAFETY: `out` was checked non-NULL and is valid for a write (caller's contract).
    unsafe { out.write(handle) };
}

/// Makes a main key from the first `KEYWHEEL_MAIN_KEY_LEN` (32) bytes of `material` (longer
/// material is accepted and the rest ignored, as tofurkey does with its key file) and stores a
/// new handle in `*out`.
///
/// Ownership: `material` stays the caller's (wipe it when done); the handle in `*out` is the
/// caller's and must be released with `keywheel_main_key_free`.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` (`material` or `out` NULL),
/// `KEYWHEEL_RESULT_MAIN_KEY_TOO_SHORT` (`material_len` < 32), `KEYWHEEL_RESULT_MAIN_KEY_ZERO`
/// (the first 32 bytes are all zero). On failure `*out` is untouched.
///
/// # Safety
/// `material` must be valid for reads of `material_len` bytes; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_main_key_new(
    material: *const u8,
    material_len: usize,
    out: *mut *mut keywheel_main_key,
) -> keywheel_result {
    guard("keywheel_main_key_new", || {
        // SAFETY: forwarded caller's contract on `material`.
        let material = unsafe { ptr::input(material, material_len, "material") }?;
        ptr::out(out, "out")?;
        publish(MainKey::from_bytes(material)?, out);
        Ok(())
    })
}

/// Reads a main key from the file at `path` (NUL-terminated): its first
/// `KEYWHEEL_MAIN_KEY_LEN` (32) bytes; the file must have at least that many. Stores a new
/// handle in `*out`. The file must be a regular file (it is opened with `O_NONBLOCK`, so a FIFO
/// cannot hang the call) that neither group nor others may access (mode 0600 or stricter;
/// `keywheel_main_key_from_file_allow_insecure` skips that check). Only 32 bytes are read;
/// the read buffer is wiped. The CLI and the Python binding read key files the same way.
///
/// Ownership: the handle in `*out` is the caller's and must be released with
/// `keywheel_main_key_free`.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` (`path` or `out` NULL),
/// `KEYWHEEL_RESULT_IO` (the file cannot be opened or read),
/// `KEYWHEEL_RESULT_KEY_FILE_NOT_REGULAR`, `KEYWHEEL_RESULT_KEY_FILE_INSECURE` or
/// `KEYWHEEL_RESULT_MAIN_KEY_TOO_SHORT` (fewer than 32 bytes) or
/// `KEYWHEEL_RESULT_MAIN_KEY_ZERO` (the first 32 bytes are all zero). On failure `*out` is
/// untouched.
///
/// # Safety
/// `path` must be a NUL-terminated string; `out` must be valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_main_key_from_file(
    path: *const c_char,
    out: *mut *mut keywheel_main_key,
) -> keywheel_result {
    guard("keywheel_main_key_from_file", || {
        // SAFETY: forwarded caller's contract on `path`.
        unsafe { from_file(path, KeyFileMode::Private, out) }
    })
}

/// `keywheel_main_key_from_file` without the check of the file's mode: a key file that group
/// or others may access is accepted. Only for an operator who asked for it explicitly (as the
/// CLI's `--allow-insecure-key-file`).
///
/// Returns, ownership, thread-safety: as `keywheel_main_key_from_file` (never
/// `KEYWHEEL_RESULT_KEY_FILE_INSECURE`).
///
/// # Safety
/// `path` must be a NUL-terminated string; `out` must be valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_main_key_from_file_allow_insecure(
    path: *const c_char,
    out: *mut *mut keywheel_main_key,
) -> keywheel_result {
    guard("keywheel_main_key_from_file_allow_insecure", || {
        // SAFETY: forwarded caller's contract on `path`.
        unsafe { from_file(path, KeyFileMode::AllowInsecure, out) }
    })
}

/// The body of both file readers.
///
/// # Safety
/// As `keywheel_main_key_from_file`.
unsafe fn from_file(
    path: *const c_char,
    mode: KeyFileMode,
    out: *mut *mut keywheel_main_key,
) -> Result<(), Failure> {
    // SAFETY: forwarded caller's contract on `path`.
    let path = unsafe { ptr::c_string(path, "path") }?;
    ptr::out(out, "out")?;
    let path = std::path::Path::new(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path.to_bytes()),
    );
    let key = MainKey::from_file(path, mode).map_err(|e| {
        let code = match e {
            KeyFileError::Open(_) | KeyFileError::Read(_) => keywheel_result::Io,
            KeyFileError::NotRegular(_) => keywheel_result::KeyFileNotRegular,
            KeyFileError::Insecure(_) => keywheel_result::KeyFileInsecure,
            KeyFileError::Short(_) => keywheel_result::MainKeyTooShort,
            KeyFileError::Zero => keywheel_result::MainKeyZero,
        };
        Failure::new(
            code,
            e.message(
                "main key file",
                path,
                "keywheel_main_key_from_file_allow_insecure",
            ),
        )
    })?;
    publish(key, out);
    Ok(())
}

/// The main key's public fingerprint (`KEYWHEEL_FINGERPRINT_LEN`, 8 bytes) into `out`: nodes
/// with the same fingerprint have the same main key; it reveals nothing about the key (SPEC.md,
/// "Fingerprints").
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK` or `KEYWHEEL_RESULT_NULL_POINTER`. On failure `out` is
/// untouched.
///
/// # Safety
/// `key` must be a live handle; `out` valid for writes of 8 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_main_key_fingerprint(
    key: *const keywheel_main_key,
    out: *mut u8,
) -> keywheel_result {
    guard("keywheel_main_key_fingerprint", || {
        // SAFETY: forwarded caller's contract.
        let key = unsafe { ptr::object(key, "key") }?;
        ptr::out(out, "out")?;
        let fp = key.key.fingerprint();
        // SAFETY: `out` is valid for writes of FINGERPRINT_LEN bytes (caller's contract).
        unsafe { core::ptr::copy_nonoverlapping(fp.as_ptr(), out, FINGERPRINT_LEN) };
        Ok(())
    })
}

/// Wipes and frees a main key made by `keywheel_main_key_new` or `keywheel_main_key_from_file`.
/// NULL is accepted and does nothing.
///
/// Ownership: `key` must not be used after this call. Handles derived from it (such as
/// `keywheel_ticket_keys`) are independent and stay valid.
///
/// Thread-safety: no other thread may be using `key` during or after this call.
///
/// # Safety
/// `key` must be NULL or a handle from this library that was not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_main_key_free(key: *mut keywheel_main_key) {
    if key.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: `key` came from `Box::into_raw` in `publish` and is freed once (caller's
        // contract). Dropping the `MainKey` wipes it.
        drop(unsafe { Box::from_raw(key) });
    });
}
