//! The main-key handle.

use core::ffi::c_char;
use std::io::Read;

use keywheel::{MAIN_KEY_LEN, MainKey};
use zeroize::Zeroizing;

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
/// `KEYWHEEL_RESULT_MAIN_KEY_TOO_SHORT` (`material_len` < 32). On failure `*out` is untouched.
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
/// handle in `*out`. Only 32 bytes are read; the read buffer is wiped. A file whose mode gives
/// group or others any access (`mode & 0077`, as the CLI refuses) is refused before anything
/// is read from it.
///
/// Ownership: the handle in `*out` is the caller's and must be released with
/// `keywheel_main_key_free`.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` (`path` or `out` NULL),
/// `KEYWHEEL_RESULT_IO` (the file cannot be opened or read),
/// `KEYWHEEL_RESULT_INVALID_ARGUMENT` (group or others may access the file),
/// `KEYWHEEL_RESULT_MAIN_KEY_TOO_SHORT` (fewer than 32 bytes). On failure `*out` is untouched.
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
        let path = unsafe { ptr::c_string(path, "path") }?;
        ptr::out(out, "out")?;
        let path = std::path::Path::new(
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path.to_bytes()),
        );
        let io = |e: std::io::Error| {
            Failure::new(
                keywheel_result::Io,
                std::format!("cannot read main key file {}: {e}", path.display()),
            )
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&file.metadata().map_err(io)?.permissions());
        if mode & 0o077 != 0 {
            return Err(Failure::new(
                keywheel_result::InvalidArgument,
                std::format!(
                    "main key file {} has mode {:04o}, so group or others can access it; \
                     it must be accessible by its owner only (chmod 600 {})",
                    path.display(),
                    mode & 0o7777,
                    path.display()
                ),
            ));
        }
        let mut buf = Zeroizing::new([0u8; MAIN_KEY_LEN]);
        let mut len = 0;
        while len < MAIN_KEY_LEN {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        let key = MainKey::from_bytes(&buf[..len]).map_err(|e| {
            Failure::new(
                keywheel_result::MainKeyTooShort,
                std::format!("main key file {}: {e}", path.display()),
            )
        })?;
        publish(key, out);
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
