//! Server ticket-key formats: the format values, their names, and rendering a handle's keys in one.

use core::ffi::c_char;
use keywheel::{FORMATS, Format, Strength};
use std::string::String;
use std::vec::Vec;

use crate::ptr;
use crate::result::{Failure, guard, guard_forward, keywheel_result};
use crate::ticket::{keywheel_ticket_keys, strength_to};

/// Server ticket-key formats (see SPEC.md, "Server layouts"). Functions take it as a
/// `uint32_t`. Value `n` is entry `n - 1` of the core's format table (`keywheel_format_name`
/// gives its name, `keywheel_format_from_name` the value of a name; a test checks that the
/// constants below match the table).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)] // C naming.
pub enum keywheel_format {
    /// nginx `ssl_session_ticket_key`, 80-byte files (name | hmac32 | aes32); one file per
    /// key: current, next, previous 1, ...; the first file encrypts.
    Nginx = 1,
    /// nginx 48-byte files (name | aes16 | hmac16).
    Nginx48 = 2,
    /// HAProxy `tls-ticket-keys`: base64 lines of 80 bytes; previous ..., current, next.
    Haproxy = 3,
    /// HAProxy with 48-byte keys.
    Haproxy48 = 4,
    /// Apache httpd `SSLSessionTicketKeyFile`: one 48-byte key (current only).
    Apache = 5,
    /// Apache Traffic Server: 48-byte records, current first.
    Ats = 6,
    /// OpenSSL `SSL_CTX_set_tlsext_ticket_keys`: one 80-byte key (current only).
    Openssl = 7,
}

fn format_from(value: u32) -> Result<Format, Failure> {
    value
        .checked_sub(1)
        .and_then(|i| FORMATS.get(usize::try_from(i).ok()?).copied())
        .ok_or_else(|| {
            Failure::new(
                keywheel_result::UnknownFormat,
                std::format!(
                    "format {value} is unknown; it must be a keywheel_format value (1..={})",
                    FORMATS.len()
                ),
            )
        })
}

/// The length `keywheel_ticket_keys_render` writes for `format` (a `keywheel_format`) with the
/// keep of `keys`, into `*out_len`.
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`, `KEYWHEEL_RESULT_UNKNOWN_FORMAT`,
/// `KEYWHEEL_RESULT_FORMAT_STRENGTH` or `KEYWHEEL_RESULT_FORMAT_KEEP`. On failure `*out_len` is
/// untouched.
///
/// # Safety
/// `keys` must be a live handle; `out_len` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_rendered_len(
    keys: *const keywheel_ticket_keys,
    format: u32,
    out_len: *mut usize,
) -> keywheel_result {
    guard("keywheel_ticket_keys_rendered_len", || {
        // SAFETY: forwarded caller's contract.
        let keys = unsafe { ptr::object(keys, "keys") }?;
        ptr::out(out_len, "out_len")?;
        let len = keys.keys.rendered_len(format_from(format)?)?;
        // SAFETY: `out_len` is not NULL and valid for a write (caller's contract).
        unsafe { out_len.write(len) };
        Ok(())
    })
}

/// The length of one record of `format` (a `keywheel_format`) into `*out_len`: 80 or 48 raw
/// bytes, or a base64 line with its newline (109 or 65) for HAProxy. For nginx, which takes one
/// key per file, file `i` is record `i` of `keywheel_ticket_keys_render`.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or
/// `KEYWHEEL_RESULT_UNKNOWN_FORMAT`. On failure `*out_len` is untouched.
///
/// # Safety
/// `out_len` must be valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_format_record_len(
    format: u32,
    out_len: *mut usize,
) -> keywheel_result {
    guard("keywheel_format_record_len", || {
        ptr::out(out_len, "out_len")?;
        let len = format_from(format)?.record_len();
        // SAFETY: `out_len` is not NULL and valid for a write (caller's contract).
        unsafe { out_len.write(len) };
        Ok(())
    })
}

/// Renders every key of `format` (a `keywheel_format`) at unix time `now`, in the format's
/// order, into `out`, and its length into `*out_written`: the key file for single-file formats;
/// for nginx the concatenation of its per-key files (file `i` is record `i`; see
/// `keywheel_format_record_len`). `keywheel_ticket_keys_rendered_len` gives the length needed.
///
/// Ownership: `out` stays the caller's; it holds keys: wipe it when done.
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`,
/// `KEYWHEEL_RESULT_UNKNOWN_FORMAT`, `KEYWHEEL_RESULT_FORMAT_STRENGTH` (the handle's strength
/// is not the format's), `KEYWHEEL_RESULT_FORMAT_KEEP`, `KEYWHEEL_RESULT_TIME` or
/// `KEYWHEEL_RESULT_BUFFER_TOO_SMALL`. On failure nothing is written.
///
/// # Safety
/// `keys` must be a live handle; `out` valid for writes of `out_len` bytes; `out_written` valid
/// for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_render(
    keys: *const keywheel_ticket_keys,
    format: u32,
    now: u64,
    out: *mut u8,
    out_len: usize,
    out_written: *mut usize,
) -> keywheel_result {
    guard_forward("keywheel_ticket_keys_render", false, |forward| {
        // SAFETY: forwarded caller's contract.
        let keys = unsafe { ptr::object(keys, "keys") }?;
        *forward = keys.keys.state_start().is_some();
        ptr::out(out, "out")?;
        ptr::out(out_written, "out_written")?;
        let format = format_from(format)?;
        let needed = keys.keys.rendered_len(format)?;
        // The time, and in forward-secure mode that every key can be derived.
        drop(keys.keys.keys(format, now)?);
        ptr::room(out_len, needed)?;
        // Every check that can fail is done: from here on the call succeeds.
        // SAFETY: `out` is valid for writes of `out_len >= needed` bytes (caller's contract);
        // zeroing it first makes the slice below refer to initialised memory.
        let dst = unsafe {
            core::ptr::write_bytes(out, 0, needed);
            core::slice::from_raw_parts_mut(out, needed)
        };
        let written = keys.keys.render(format, now, dst)?;
        // SAFETY: `out_written` is not NULL and valid for a write (caller's contract).
        unsafe { out_written.write(written) };
        Ok(())
    })
}

/// The length `keywheel_ticket_keys_render_rollover` writes for `format` with
/// `decrypt_only_len` decrypt-only handles, into `*out_len`.
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns as `keywheel_ticket_keys_rendered_len`, and `KEYWHEEL_RESULT_INVALID_ARGUMENT` when
/// the length would exceed `PTRDIFF_MAX` (no buffer holds it).
///
/// # Safety
/// `keys` must be a live handle; `out_len` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_rollover_len(
    keys: *const keywheel_ticket_keys,
    format: u32,
    decrypt_only_len: usize,
    out_len: *mut usize,
) -> keywheel_result {
    guard("keywheel_ticket_keys_rollover_len", || {
        // SAFETY: forwarded caller's contract.
        let keys = unsafe { ptr::object(keys, "keys") }?;
        ptr::out(out_len, "out_len")?;
        let len = keys
            .keys
            .rollover_len(format_from(format)?, decrypt_only_len)?;
        // SAFETY: `out_len` is not NULL and valid for a write (caller's contract).
        unsafe { out_len.write(len) };
        Ok(())
    })
}

/// Main-key rollover (SPEC.md §5.2): renders as `keywheel_ticket_keys_render`, then, for
/// formats that hold any number of keys (nginx, nginx48, ats), the same window of each of the
/// `decrypt_only_len` handles in `decrypt_only` (the same label under the previous main key,
/// then the next) as decrypt-only keys. Other formats get the keys of `keys` alone.
/// `keywheel_ticket_keys_rollover_len` gives the length needed.
///
/// Ownership: `out` stays the caller's; it holds keys: wipe it when done. The handles stay
/// the caller's.
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns as `keywheel_ticket_keys_render`. On failure nothing is written.
///
/// # Safety
/// `keys` must be a live handle; `decrypt_only` valid for reads of `decrypt_only_len` live
/// handles (NULL when `decrypt_only_len` is 0 is allowed); `out` valid for writes of `out_len`
/// bytes; `out_written` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_render_rollover(
    keys: *const keywheel_ticket_keys,
    format: u32,
    now: u64,
    decrypt_only: *const *const keywheel_ticket_keys,
    decrypt_only_len: usize,
    out: *mut u8,
    out_len: usize,
    out_written: *mut usize,
) -> keywheel_result {
    guard_forward("keywheel_ticket_keys_render_rollover", false, |forward| {
        // SAFETY: forwarded caller's contract.
        let keys = unsafe { ptr::object(keys, "keys") }?;
        *forward = keys.keys.state_start().is_some();
        ptr::out(out, "out")?;
        ptr::out(out_written, "out_written")?;
        let mut others = Vec::with_capacity(decrypt_only_len);
        if decrypt_only_len > 0 {
            if decrypt_only.is_null() {
                return Err(Failure::null("decrypt_only"));
            }
            for i in 0..decrypt_only_len {
                // SAFETY: `decrypt_only` is valid for reads of `decrypt_only_len` pointers
                // (caller's contract).
                let handle = unsafe { decrypt_only.add(i).read() };
                // SAFETY: each is a live handle or NULL (caller's contract).
                others.push(&unsafe { ptr::object(handle, "decrypt_only[i]") }?.keys);
            }
        }
        let format = format_from(format)?;
        let needed = keys.keys.rollover_len(format, others.len())?;
        // The time, and in forward-secure mode that every key can be derived.
        drop(keys.keys.rollover_keys(format, now, &others)?);
        ptr::room(out_len, needed)?;
        // SAFETY: `out` is valid for writes of `out_len >= needed` bytes (caller's contract);
        // zeroing it first makes the slice below refer to initialised memory.
        let dst = unsafe {
            core::ptr::write_bytes(out, 0, needed);
            core::slice::from_raw_parts_mut(out, needed)
        };
        let written = keys.keys.render_rollover(format, now, &others, dst)?;
        // SAFETY: `out_written` is not NULL and valid for a write (caller's contract).
        unsafe { out_written.write(written) };
        Ok(())
    })
}

/// How many formats there are: the `keywheel_format` values are `1..=keywheel_format_count()`.
#[unsafe(no_mangle)]
pub extern "C" fn keywheel_format_count() -> u32 {
    // Seven formats today; the table is small by construction.
    u32::try_from(FORMATS.len()).unwrap_or(u32::MAX)
}

/// The names of the formats, NUL-terminated, made once from the core's table.
fn format_names() -> &'static [std::ffi::CString] {
    static NAMES: std::sync::OnceLock<Vec<std::ffi::CString>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        FORMATS
            .iter()
            .filter_map(|f| std::ffi::CString::new(f.name()).ok())
            .collect()
    })
}

/// The name of `format` (a `keywheel_format`) as the CLI and every binding spell it ("nginx",
/// "haproxy48", ...), NUL-terminated, into `*out_name`. The string is static: do not free it.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or
/// `KEYWHEEL_RESULT_UNKNOWN_FORMAT`. On failure `*out_name` is untouched.
///
/// # Safety
/// `out_name` must be valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_format_name(
    format: u32,
    out_name: *mut *const c_char,
) -> keywheel_result {
    guard("keywheel_format_name", || {
        ptr::out(out_name, "out_name")?;
        let name = format_from(format)?.name();
        let found = format_names()
            .iter()
            .find(|c| c.to_bytes() == name.as_bytes())
            .ok_or_else(|| Failure::new(keywheel_result::UnknownFormat, "format has no name"))?;
        // SAFETY: `out_name` is not NULL and valid for a write (caller's contract).
        unsafe { out_name.write(found.as_ptr()) };
        Ok(())
    })
}

/// The `keywheel_format` value of the format called `name` (`name_len` bytes, not
/// NUL-terminated), into `*out_format`.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or
/// `KEYWHEEL_RESULT_UNKNOWN_FORMAT` (the message lists the names). On failure `*out_format` is
/// untouched.
///
/// # Safety
/// `name` must be valid for reads of `name_len` bytes; `out_format` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_format_from_name(
    name: *const u8,
    name_len: usize,
    out_format: *mut u32,
) -> keywheel_result {
    guard("keywheel_format_from_name", || {
        // SAFETY: forwarded caller's contract.
        let name = unsafe { ptr::input(name, name_len, "name") }?;
        ptr::out(out_format, "out_format")?;
        let index = FORMATS
            .iter()
            .position(|f| f.name().as_bytes() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = FORMATS.iter().map(|f| f.name()).collect();
                Failure::new(
                    keywheel_result::UnknownFormat,
                    std::format!(
                        "format {:?} is unknown; it must be one of {}",
                        String::from_utf8_lossy(name),
                        names.join(", ")
                    ),
                )
            })?;
        let value = u32::try_from(index + 1).unwrap_or(u32::MAX);
        // SAFETY: `out_format` is not NULL and valid for a write (caller's contract).
        unsafe { out_format.write(value) };
        Ok(())
    })
}

/// The `keywheel_strength` value of the strength called `name` (`name_len` bytes, not
/// NUL-terminated: "aes256" or "aes128", as the CLI and every binding spell it), into
/// `*out_strength`.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or
/// `KEYWHEEL_RESULT_UNKNOWN_STRENGTH` (the message lists the names). On failure
/// `*out_strength` is untouched.
///
/// # Safety
/// `name` must be valid for reads of `name_len` bytes; `out_strength` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_strength_from_name(
    name: *const u8,
    name_len: usize,
    out_strength: *mut u32,
) -> keywheel_result {
    guard("keywheel_strength_from_name", || {
        // SAFETY: forwarded caller's contract.
        let name = unsafe { ptr::input(name, name_len, "name") }?;
        ptr::out(out_strength, "out_strength")?;
        let strength = std::str::from_utf8(name)
            .ok()
            .and_then(Strength::from_name)
            .ok_or_else(|| {
                let names: Vec<&str> = Strength::ALL.iter().map(|s| s.as_str()).collect();
                Failure::new(
                    keywheel_result::UnknownStrength,
                    std::format!(
                        "strength {:?} is unknown; it must be one of {}",
                        String::from_utf8_lossy(name),
                        names.join(", ")
                    ),
                )
            })?;
        // SAFETY: `out_strength` is not NULL and valid for a write (caller's contract).
        unsafe { out_strength.write(strength_to(strength) as u32) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C constants are the core table's entries, by name.
    #[test]
    fn format_constants_match_the_core_table() {
        let constants = [
            (keywheel_format::Nginx, "nginx"),
            (keywheel_format::Nginx48, "nginx48"),
            (keywheel_format::Haproxy, "haproxy"),
            (keywheel_format::Haproxy48, "haproxy48"),
            (keywheel_format::Apache, "apache"),
            (keywheel_format::Ats, "ats"),
            (keywheel_format::Openssl, "openssl"),
        ];
        // The constants name the first entries; a format added to the table is reachable by its
        // number or by keywheel_format_from_name before it gets a constant.
        assert!(constants.len() <= FORMATS.len());
        for (c, name) in constants {
            assert_eq!(format_from(c as u32).ok().map(Format::name), Some(name));
        }
        assert_eq!(keywheel_format_count() as usize, FORMATS.len());
        for (i, f) in FORMATS.iter().enumerate() {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            assert_eq!(format_from(n).ok().map(Format::name), Some(f.name()));
        }
    }
}
