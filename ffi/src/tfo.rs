//! The KDF, the TFO schedule and the TFO keys.

use core::ffi::c_char;

use keywheel::schedule::Schedule;
use keywheel::{CONTEXT_LEN, DERIVE_MAX_LEN, TFO_KEY_LEN, TFO_PROCFS_TEXT_LEN, TfoKeys};
use zeroize::Zeroizing;

use crate::main_key::keywheel_main_key;
use crate::ptr;
use crate::result::{Failure, guard, keywheel_result};

/// What the TFO schedule says at one unix time (all times in unix seconds).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)] // C naming.
pub struct keywheel_slot {
    /// The time this slot was computed for.
    pub now: u64,
    /// `floor(now / interval)`: the counter of the primary key.
    pub primary: u64,
    /// The counter of the backup key: `primary - 1` in the first half of the interval,
    /// `primary + 1` in the second half.
    pub backup: u64,
    /// The next half-interval boundary after `now`, where the backup key changes.
    pub next_wake: u64,
    /// When a daemon should wake: `next_wake` + 2 s ...
    pub wake_sec: u64,
    /// ... + this many nanoseconds (20000000: 2.02 s after the boundary, never early).
    pub wake_nsec: u32,
}

/// Derives subkey `subkey_id` of `main_key` under the 8-byte `context` into `out` (all of its
/// `out_len` bytes), exactly as libsodium's `crypto_kdf_blake2b_derive_from_key(out, out_len,
/// subkey_id, context, main_key)`.
///
/// Ownership: all buffers stay the caller's; `main_key` is only read.
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`,
/// `KEYWHEEL_RESULT_CONTEXT_LENGTH` (`context_len` != 8) or `KEYWHEEL_RESULT_OUTPUT_LENGTH`
/// (`out_len` not in 16..=64). On failure `out` is untouched.
///
/// # Safety
/// `main_key` must be a live handle; `context` valid for reads of `context_len` bytes; `out`
/// valid for writes of `out_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_derive_key(
    main_key: *const keywheel_main_key,
    context: *const u8,
    context_len: usize,
    subkey_id: u64,
    out: *mut u8,
    out_len: usize,
) -> keywheel_result {
    guard("keywheel_derive_key", || {
        // SAFETY: forwarded caller's contracts.
        let main_key = unsafe { ptr::object(main_key, "main_key") }?;
        // SAFETY: forwarded caller's contracts.
        let context = unsafe { ptr::input(context, context_len, "context") }?;
        ptr::out(out, "out")?;
        let context: &[u8; CONTEXT_LEN] = context.try_into().map_err(|_| {
            Failure::new(
                keywheel_result::ContextLength,
                std::format!("context is {context_len} bytes; it must be {CONTEXT_LEN} bytes"),
            )
        })?;
        let mut buf = Zeroizing::new([0u8; DERIVE_MAX_LEN]);
        // Longer than 64 bytes: the core's error (shorter ones are refused by the core).
        let derived = buf
            .get_mut(..out_len)
            .ok_or(keywheel::Error::OutputLength { len: out_len })?;
        keywheel::derive_key(&main_key.key, context, subkey_id, derived)?;
        // SAFETY: `out` is valid for `out_len` bytes (caller's contract).
        unsafe { ptr::copy_out(derived, out, out_len, "out") }
    })
}

/// The TFO schedule at unix time `now` for `interval` seconds, written to `*out`.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` (`out`),
/// `KEYWHEEL_RESULT_INTERVAL` or `KEYWHEEL_RESULT_TIME`. On failure `*out` is untouched.
///
/// # Safety
/// `out` must be valid for one write of a `keywheel_slot`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_schedule_at(
    interval: u64,
    now: u64,
    out: *mut keywheel_slot,
) -> keywheel_result {
    guard("keywheel_schedule_at", || {
        ptr::out(out, "out")?;
        let slot = Schedule::new(interval)?.at(now)?;
        let (wake_sec, wake_nsec) = slot.wake_time();
        let c = keywheel_slot {
            now: slot.now(),
            primary: slot.primary(),
            backup: slot.backup(),
            next_wake: slot.next_wake(),
            wake_sec,
            wake_nsec,
        };
        // SAFETY: `out` is not NULL and valid for a write (caller's contract).
        unsafe { out.write(c) };
        Ok(())
    })
}

/// The TFO keys to install at unix time `now` with `interval`: the primary key (new cookies)
/// into `primary` and the backup key (still accepted) into `backup`, `KEYWHEEL_TFO_KEY_LEN`
/// (16) bytes each.
///
/// Ownership: all buffers stay the caller's (wipe the keys when done).
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`, `KEYWHEEL_RESULT_INTERVAL`,
/// `KEYWHEEL_RESULT_TIME` or `KEYWHEEL_RESULT_BUFFER_TOO_SMALL` (a length below 16). On failure
/// neither buffer is written.
///
/// # Safety
/// `main_key` must be a live handle; `primary` and `backup` valid for writes of their lengths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_tfo_keys(
    main_key: *const keywheel_main_key,
    interval: u64,
    now: u64,
    primary: *mut u8,
    primary_len: usize,
    backup: *mut u8,
    backup_len: usize,
) -> keywheel_result {
    guard("keywheel_tfo_keys", || {
        // SAFETY: forwarded caller's contract.
        let main_key = unsafe { ptr::object(main_key, "main_key") }?;
        ptr::out(primary, "primary")?;
        ptr::out(backup, "backup")?;
        ptr::room(primary_len, TFO_KEY_LEN)?;
        ptr::room(backup_len, TFO_KEY_LEN)?;
        let keys = keywheel::tfo_keys(&main_key.key, &Schedule::new(interval)?, now)?;
        // SAFETY: both buffers checked above; valid for their lengths (caller's contract).
        unsafe {
            ptr::copy_out(keys.primary(), primary, primary_len, "primary")?;
            ptr::copy_out(keys.backup(), backup, backup_len, "backup")
        }
    })
}

/// The text the kernel takes in `/proc/sys/net/ipv4/tcp_fastopen_key` at unix time `now` with
/// `interval`: "primary,backup", each key as four groups of eight lowercase hex digits joined
/// by '-' (`KEYWHEEL_TFO_PROCFS_TEXT_LEN` = 71 characters), written to `out` followed by a NUL
/// (72 bytes, as tofurkey writes them); `*out_written` gets 71.
///
/// Ownership: `out` stays the caller's (it holds keys: wipe it when done).
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`, `KEYWHEEL_RESULT_INTERVAL`,
/// `KEYWHEEL_RESULT_TIME` or `KEYWHEEL_RESULT_BUFFER_TOO_SMALL` (`out_len` < 72). On failure
/// nothing is written.
///
/// # Safety
/// `main_key` must be a live handle; `out` valid for writes of `out_len` bytes; `out_written`
/// valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_tfo_procfs_text(
    main_key: *const keywheel_main_key,
    interval: u64,
    now: u64,
    out: *mut c_char,
    out_len: usize,
    out_written: *mut usize,
) -> keywheel_result {
    guard("keywheel_tfo_procfs_text", || {
        // SAFETY: forwarded caller's contract.
        let main_key = unsafe { ptr::object(main_key, "main_key") }?;
        ptr::out(out, "out")?;
        ptr::out(out_written, "out_written")?;
        ptr::room(out_len, TFO_PROCFS_TEXT_LEN + 1)?;
        let keys = TfoKeys::new(&main_key.key, &Schedule::new(interval)?.at(now)?);
        let mut text = Zeroizing::new([0u8; TFO_PROCFS_TEXT_LEN + 1]);
        text[..TFO_PROCFS_TEXT_LEN].copy_from_slice(keys.procfs_text().as_bytes());
        // SAFETY: `out` checked above, valid for `out_len` bytes; `out_written` for a write.
        unsafe {
            ptr::copy_out(&text[..], out.cast(), out_len, "out")?;
            out_written.write(TFO_PROCFS_TEXT_LEN);
        }
        Ok(())
    })
}

/// The public fingerprint (`KEYWHEEL_FINGERPRINT_LEN`, 8 bytes) of one TCP Fast Open key
/// (`KEYWHEEL_TFO_KEY_LEN`, 16 bytes, e.g. the primary key the kernel holds) into `out`: two
/// nodes whose primary keys have the same fingerprint accept each other's cookies; it reveals
/// nothing usable about the key (SPEC.md, "Fingerprints").
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or
/// `KEYWHEEL_RESULT_INVALID_ARGUMENT` (`key_len` is not 16). On failure `out` is untouched.
///
/// # Safety
/// `key` must be valid for reads of `key_len` bytes; `out` valid for writes of 8 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_tfo_key_fingerprint(
    key: *const u8,
    key_len: usize,
    out: *mut u8,
) -> keywheel_result {
    guard("keywheel_tfo_key_fingerprint", || {
        // SAFETY: forwarded caller's contract.
        let key = unsafe { ptr::input(key, key_len, "key") }?;
        ptr::out(out, "out")?;
        let key: &[u8; TFO_KEY_LEN] = key.try_into().map_err(|_| {
            Failure::new(
                keywheel_result::InvalidArgument,
                std::format!("TFO key is {key_len} bytes; it must be {TFO_KEY_LEN} bytes"),
            )
        })?;
        let fp = keywheel::tfo_key_fingerprint(key);
        // SAFETY: `out` is valid for writes of FINGERPRINT_LEN bytes (caller's contract).
        unsafe { core::ptr::copy_nonoverlapping(fp.as_ptr(), out, fp.len()) };
        Ok(())
    })
}
