//! The C ABI of keywheel: `libkeywheel.so` / `libkeywheel.a` with the header
//! `include/keywheel.h` (generated from this crate by cbindgen; see `tests/header.rs`).
//!
//! Conventions (after rustls-ffi):
//! - names are `keywheel_<noun>_<verb>`; handles come in `_new`/`_free` pairs; a `const *`
//!   argument is only read;
//! - every fallible function returns a `keywheel_result` (fixed numbers, never reused);
//!   `keywheel_result_message` describes a code, `keywheel_last_error_message` gives the
//!   detailed message of the last failure on the calling thread;
//! - every pointer is checked for NULL, every buffer comes with its length, outputs are written
//!   only on success;
//! - panics never cross the boundary: they are caught and become `KEYWHEEL_RESULT_PANIC`.
//!
//! All logic lives in the core crate `keywheel`; this crate only converts arguments.

// A C ABI needs `unsafe`: raw pointers from C and `#[unsafe(no_mangle)]` entry points. The crate
// denies `unsafe_code` and allows it only in the modules below, which hold the entry points and
// the pointer helpers; each unsafe block is small and has a SAFETY comment.
#[allow(unsafe_code)]
mod format;
#[allow(unsafe_code)]
mod main_key;
#[allow(unsafe_code)]
mod ptr;
#[allow(unsafe_code)]
mod result;
#[allow(unsafe_code)]
mod state;
#[allow(unsafe_code)]
mod tfo;
#[allow(unsafe_code)]
mod ticket;

pub use format::{
    keywheel_format, keywheel_format_count, keywheel_format_from_name, keywheel_format_name,
    keywheel_format_record_len, keywheel_strength_from_name, keywheel_ticket_keys_render,
    keywheel_ticket_keys_render_rollover, keywheel_ticket_keys_rendered_len,
    keywheel_ticket_keys_rollover_len,
};
pub use main_key::{
    keywheel_main_key, keywheel_main_key_fingerprint, keywheel_main_key_free,
    keywheel_main_key_from_file, keywheel_main_key_from_file_allow_insecure, keywheel_main_key_new,
};
pub use result::{
    KEYWHEEL_MESSAGE_MAX_LEN, keywheel_last_error_message, keywheel_result,
    keywheel_result_message, keywheel_version,
};
pub use state::{
    keywheel_state, keywheel_state_advance, keywheel_state_free, keywheel_state_from_bytes,
    keywheel_state_from_file, keywheel_state_from_file_allow_insecure, keywheel_state_new,
    keywheel_state_node_count, keywheel_state_root_id, keywheel_state_s0, keywheel_state_tfo_keys,
    keywheel_state_to_bytes,
};
pub use tfo::{
    keywheel_derive_key, keywheel_schedule_at, keywheel_slot, keywheel_tfo_key_fingerprint,
    keywheel_tfo_keys, keywheel_tfo_procfs_text,
};
pub use ticket::{
    KEYWHEEL_GO_SEED_LEN, KEYWHEEL_TICKET_NAME_LEN, keywheel_lookup, keywheel_strength,
    keywheel_ticket_key, keywheel_ticket_key_wipe, keywheel_ticket_keys,
    keywheel_ticket_keys_advance, keywheel_ticket_keys_by_counter, keywheel_ticket_keys_current,
    keywheel_ticket_keys_free, keywheel_ticket_keys_from_state, keywheel_ticket_keys_go_seed,
    keywheel_ticket_keys_lookup, keywheel_ticket_keys_new, keywheel_ticket_keys_slot,
    keywheel_ticket_slot,
};

/// Length in bytes of the main key (longer material is accepted; its first 32 bytes are used).
pub const KEYWHEEL_MAIN_KEY_LEN: usize = 32;
/// Length in bytes of a KDF context.
pub const KEYWHEEL_CONTEXT_LEN: usize = 8;
/// Shortest derived key, in bytes.
pub const KEYWHEEL_DERIVE_MIN_LEN: usize = 16;
/// Longest derived key, in bytes.
pub const KEYWHEEL_DERIVE_MAX_LEN: usize = 64;
/// Shortest rotation interval, in seconds.
pub const KEYWHEEL_MIN_INTERVAL: u64 = 10;
/// Longest rotation interval, in seconds (7 days).
pub const KEYWHEEL_MAX_INTERVAL: u64 = 604_800;
/// Default TFO rotation interval, in seconds (1 day), as tofurkey.
pub const KEYWHEEL_DEFAULT_INTERVAL: u64 = 86_400;
/// Earliest unix time accepted.
pub const KEYWHEEL_MIN_TIME: u64 = 1_000_000;
/// Latest unix time accepted.
pub const KEYWHEEL_MAX_TIME: u64 = 100_000_000_000;
/// Length in bytes of one TFO key.
pub const KEYWHEEL_TFO_KEY_LEN: usize = 16;
/// Length of the TFO procfs text "primary,backup", without its NUL.
pub const KEYWHEEL_TFO_PROCFS_TEXT_LEN: usize = 71;
/// Longest label, in bytes of UTF-8.
pub const KEYWHEEL_MAX_LABEL_LEN: usize = 64;
/// Longest age, in seconds, a ticket may be accepted for: `(keep + 1) * interval` must not
/// exceed it (RFC 8446: 7 days).
pub const KEYWHEEL_MAX_TICKET_AGE: u64 = 604_800;
/// Length in bytes of a fingerprint (`keywheel_main_key_fingerprint`).
pub const KEYWHEEL_FINGERPRINT_LEN: usize = 8;
/// Length in bytes of a forward-secure seed (`keywheel_state_new`).
pub const KEYWHEEL_SEED_LEN: usize = 32;
/// Length in bytes of a forward-secure root id (`keywheel_state_root_id`).
pub const KEYWHEEL_ROOT_ID_LEN: usize = 8;
/// Longest state file, in bytes (`keywheel_state_to_bytes`: 41 + 32 * 40).
pub const KEYWHEEL_STATE_FILE_MAX_LEN: usize = 1321;
/// The first second past the forward-secure tree (2^40): states, advances and keys stay below.
pub const KEYWHEEL_TREE_END: u64 = 1_099_511_627_776;

// The header's constants are literals (cbindgen copies literals); they must equal the core's.
const _: () = {
    assert!(KEYWHEEL_MAIN_KEY_LEN == keywheel::MAIN_KEY_LEN);
    assert!(KEYWHEEL_CONTEXT_LEN == keywheel::CONTEXT_LEN);
    assert!(KEYWHEEL_DERIVE_MIN_LEN == keywheel::DERIVE_MIN_LEN);
    assert!(KEYWHEEL_DERIVE_MAX_LEN == keywheel::DERIVE_MAX_LEN);
    assert!(KEYWHEEL_MIN_INTERVAL == keywheel::MIN_INTERVAL);
    assert!(KEYWHEEL_MAX_INTERVAL == keywheel::MAX_INTERVAL);
    assert!(KEYWHEEL_DEFAULT_INTERVAL == keywheel::DEFAULT_INTERVAL);
    assert!(KEYWHEEL_MIN_TIME == keywheel::MIN_TIME);
    assert!(KEYWHEEL_MAX_TIME == keywheel::MAX_TIME);
    assert!(KEYWHEEL_TFO_KEY_LEN == keywheel::TFO_KEY_LEN);
    assert!(KEYWHEEL_TFO_PROCFS_TEXT_LEN == keywheel::TFO_PROCFS_TEXT_LEN);
    assert!(KEYWHEEL_MAX_LABEL_LEN == keywheel::MAX_LABEL_LEN);
    assert!(KEYWHEEL_MAX_TICKET_AGE == keywheel::MAX_TICKET_AGE);
    assert!(KEYWHEEL_FINGERPRINT_LEN == keywheel::FINGERPRINT_LEN);
    assert!(KEYWHEEL_SEED_LEN == keywheel::FS_SEED_LEN);
    assert!(KEYWHEEL_ROOT_ID_LEN == keywheel::FS_ROOT_ID_LEN);
    assert!(KEYWHEEL_STATE_FILE_MAX_LEN == keywheel::STATE_FILE_MAX_LEN);
    assert!(KEYWHEEL_TREE_END == keywheel::FS_END);
};
