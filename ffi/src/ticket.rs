//! TLS session-ticket keys: the handle, the encrypting key, lookup by name, Go seeds (server
//! formats: format.rs).

use keywheel::ticket::TicketSchedule;
use keywheel::{Lookup, Strength, TICKET_NAME_LEN, TicketKey, TicketKeys};

use zeroize::Zeroize;

use crate::main_key::keywheel_main_key;
use crate::ptr;
use crate::result::{Failure, guard, guard_forward, guard_void, keywheel_result};
use crate::state::keywheel_state;

/// The two strengths of ticket keys. Functions take it as a `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)] // C naming.
pub enum keywheel_strength {
    /// AES-256-CBC with a 32-byte HMAC-SHA256 key (80-byte key records).
    Aes256 = 1,
    /// AES-128-CBC with a 16-byte HMAC-SHA256 key (48-byte key records).
    Aes128 = 2,
}

/// What `keywheel_ticket_keys_lookup` found for a ticket's key name.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)] // C naming.
pub enum keywheel_lookup {
    /// No accepted key has this name: do not decrypt (full handshake).
    NotFound = 0,
    /// The current (encrypting) key: decrypt and keep the ticket.
    Current = 1,
    /// Another accepted key (next or previous): decrypt, then issue a fresh ticket.
    Accepted = 2,
}

/// One ticket key, written by the library into caller-owned memory. It holds secrets: wipe it
/// with `keywheel_ticket_key_wipe` when done.
#[repr(C)]
#[allow(non_camel_case_types)] // C naming.
pub struct keywheel_ticket_key {
    /// The key name: public, sent in clear at the start of every ticket.
    pub name: [u8; KEYWHEEL_TICKET_NAME_LEN],
    /// The AES key: the first `key_len` bytes (the rest is zero).
    pub aes_key: [u8; 32],
    /// The HMAC-SHA256 key: the first `key_len` bytes (the rest is zero).
    pub hmac_key: [u8; 32],
    /// 32 (AES-256-CBC) or 16 (AES-128-CBC).
    pub key_len: usize,
    /// The interval counter of the key.
    pub counter: u64,
    /// The key's `keywheel_strength`.
    pub strength: u32,
}

/// What the ticket schedule says at one unix time.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)] // C naming.
pub struct keywheel_ticket_slot {
    /// The time this slot was computed for.
    pub now: u64,
    /// `floor(now / interval)`: the counter of the encrypting key.
    pub current: u64,
    /// How many previous keys are accepted (keys `current - keep ..= current + 1` decrypt).
    pub keep: u64,
    /// The unix time at which the next interval, and so the next rotation, starts.
    pub next_rotation: u64,
}

/// Length in bytes of a ticket key name.
pub const KEYWHEEL_TICKET_NAME_LEN: usize = 16;
const _: () = assert!(KEYWHEEL_TICKET_NAME_LEN == TICKET_NAME_LEN);

/// Length in bytes of a Go/Caddy session-ticket seed.
pub const KEYWHEEL_GO_SEED_LEN: usize = 32;
const _: () = assert!(KEYWHEEL_GO_SEED_LEN == keywheel::GO_SEED_LEN);

/// The ticket keys of one label, interval, keep and strength (opaque). Made by
/// `keywheel_ticket_keys_new`, freed (and wiped) by `keywheel_ticket_keys_free`.
///
/// It holds the label's key, not the main key, so every call is a few BLAKE2b compressions and
/// allocates nothing: cheap enough for an OpenSSL ticket-key callback. The handle is immutable:
/// any number of threads may use one handle at the same time, as long as none frees it.
#[allow(non_camel_case_types)] // C naming.
pub struct keywheel_ticket_keys {
    pub(crate) keys: TicketKeys,
}

fn strength_from(value: u32) -> Result<Strength, Failure> {
    match value {
        1 => Ok(Strength::Aes256),
        2 => Ok(Strength::Aes128),
        _ => Err(Failure::new(
            keywheel_result::UnknownStrength,
            std::format!(
                "strength {value} is unknown; it must be KEYWHEEL_STRENGTH_AES256 (1) or KEYWHEEL_STRENGTH_AES128 (2)"
            ),
        )),
    }
}

pub(crate) fn strength_to(strength: Strength) -> keywheel_strength {
    match strength {
        Strength::Aes256 => keywheel_strength::Aes256,
        Strength::Aes128 => keywheel_strength::Aes128,
    }
}

fn to_c(key: &TicketKey) -> keywheel_ticket_key {
    let mut c = keywheel_ticket_key {
        name: *key.name(),
        aes_key: [0; 32],
        hmac_key: [0; 32],
        key_len: key.strength().key_len(),
        counter: key.counter(),
        strength: strength_to(key.strength()) as u32,
    };
    c.aes_key[..key.aes_key().len()].copy_from_slice(key.aes_key());
    c.hmac_key[..key.hmac_key().len()].copy_from_slice(key.hmac_key());
    c
}

/// Moves `key` into the caller's `*out` and wipes the temporary.
///
/// # Safety
/// `out` must be non-NULL and valid for one write.
unsafe fn write_key(key: &TicketKey, out: *mut keywheel_ticket_key) {
    let mut c = to_c(key);
    // SAFETY: `out` is valid for one write (caller's contract) and is not the local `c`.
    unsafe { core::ptr::copy_nonoverlapping(&c, out, 1) };
    wipe(&mut c);
}

fn wipe(key: &mut keywheel_ticket_key) {
    key.name.zeroize();
    key.aes_key.zeroize();
    key.hmac_key.zeroize();
    key.key_len.zeroize();
    key.counter.zeroize();
    key.strength.zeroize();
}

/// Makes the ticket keys of `label` (1..=64 bytes of UTF-8, not NUL-terminated) under
/// `main_key`, for tickets encrypted with the key of interval `floor(now / interval)` and
/// accepted with the keys of the `keep` previous intervals and of the next one, in `strength`
/// (a `keywheel_strength`). Stores a new handle in `*out`.
///
/// Ownership: `label` stays the caller's; the handle in `*out` is the caller's and must be
/// released with `keywheel_ticket_keys_free`. It does not refer to `main_key`, which may be
/// freed right after this call.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`,
/// `KEYWHEEL_RESULT_LABEL_LENGTH`, `KEYWHEEL_RESULT_LABEL_NOT_UTF8`,
/// `KEYWHEEL_RESULT_UNKNOWN_STRENGTH`, `KEYWHEEL_RESULT_INTERVAL` or `KEYWHEEL_RESULT_KEEP`
/// (`(keep + 1) * interval` > 604800). On failure `*out` is untouched.
///
/// # Safety
/// `main_key` must be a live handle; `label` valid for reads of `label_len` bytes; `out` valid
/// for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_new(
    main_key: *const keywheel_main_key,
    label: *const u8,
    label_len: usize,
    strength: u32,
    interval: u64,
    keep: u64,
    out: *mut *mut keywheel_ticket_keys,
) -> keywheel_result {
    guard("keywheel_ticket_keys_new", || {
        // SAFETY: forwarded caller's contracts.
        let main_key = unsafe { ptr::object(main_key, "main_key") }?;
        // SAFETY: forwarded caller's contracts.
        let label = unsafe { label_from(label, label_len) }?;
        ptr::out(out, "out")?;
        let strength = strength_from(strength)?;
        let schedule = TicketSchedule::new(interval, keep)?;
        let keys = TicketKeys::new(&main_key.key, label, strength, schedule)?;
        publish(keys, out);
        Ok(())
    })
}

/// The label argument as UTF-8.
///
/// # Safety
/// `label` must be valid for reads of `label_len` bytes.
unsafe fn label_from<'a>(label: *const u8, label_len: usize) -> Result<&'a str, Failure> {
    // SAFETY: forwarded caller's contract.
    let label = unsafe { ptr::input(label, label_len, "label") }?;
    core::str::from_utf8(label).map_err(|e| {
        Failure::new(
            keywheel_result::LabelNotUtf8,
            std::format!(
                "label is not valid UTF-8 (bad byte at offset {}); it must be 1..=64 bytes of UTF-8",
                e.valid_up_to()
            ),
        )
    })
}

/// Stores a new handle holding `keys` in `*out` (checked non-NULL).
fn publish(keys: TicketKeys, out: *mut *mut keywheel_ticket_keys) {
    let handle = Box::into_raw(Box::new(keywheel_ticket_keys { keys }));
    // SAFETY: `out` is not NULL and valid for a write (caller's contract).
    unsafe { out.write(handle) };
}

/// Makes the ticket keys of `label` in forward-secure mode from `state` (SPEC.md section 6):
/// the same handle as `keywheel_ticket_keys_new` (every `keywheel_ticket_keys_*` function takes
/// it; names, keys and every server format as in main-key mode, the key of counter `n` coming
/// from the leaf of `n * interval`). The handle keeps its own copy of the state, advanced to the
/// start of the oldest key accepted at unix time `now`, so it derives no older key;
/// `keywheel_ticket_keys_advance` moves it on. Every key accepted at `now` is checked to be
/// derivable.
///
/// Ownership: `label` and `state` stay the caller's; `state` may be advanced or freed right
/// after this call. The handle in `*out` is the caller's (`keywheel_ticket_keys_free`).
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`,
/// `KEYWHEEL_RESULT_LABEL_LENGTH`, `KEYWHEEL_RESULT_LABEL_NOT_UTF8`,
/// `KEYWHEEL_RESULT_UNKNOWN_STRENGTH`, `KEYWHEEL_RESULT_INTERVAL`, `KEYWHEEL_RESULT_KEEP`,
/// `KEYWHEEL_RESULT_TIME` or `KEYWHEEL_RESULT_PUNCTURED` (the state starts after the oldest
/// key accepted at `now`). On failure `*out` is untouched.
///
/// # Safety
/// `state` must be a live handle; `label` valid for reads of `label_len` bytes; `out` valid
/// for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_from_state(
    state: *const keywheel_state,
    label: *const u8,
    label_len: usize,
    strength: u32,
    interval: u64,
    keep: u64,
    now: u64,
    out: *mut *mut keywheel_ticket_keys,
) -> keywheel_result {
    guard_forward("keywheel_ticket_keys_from_state", true, |_| {
        // SAFETY: forwarded caller's contracts.
        let state = unsafe { ptr::object(state, "state") }?;
        // SAFETY: forwarded caller's contracts.
        let label = unsafe { label_from(label, label_len) }?;
        ptr::out(out, "out")?;
        let strength = strength_from(strength)?;
        let schedule = TicketSchedule::new(interval, keep)?;
        let keys = TicketKeys::from_state(&state.state, label, strength, schedule, now)?;
        publish(keys, out);
        Ok(())
    })
}

/// Forward-secure mode: punctures the handle's copy of the state up to the start of the oldest
/// key accepted at unix time `now` (never backwards: an earlier `now` whose keys it still derives changes nothing), after
/// checking that every key accepted at `now` can be derived; the nodes it replaces are wiped.
/// Call it after each rotation so that the handle holds nothing older than its window.
/// Main-key mode: only checks `now`.
///
/// Thread-safety: no other thread may use `keys` during this call.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`, `KEYWHEEL_RESULT_TIME` or
/// `KEYWHEEL_RESULT_PUNCTURED`; on failure nothing changes.
///
/// # Safety
/// `keys` must be a live handle not used by another thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_advance(
    keys: *mut keywheel_ticket_keys,
    now: u64,
) -> keywheel_result {
    guard_forward("keywheel_ticket_keys_advance", true, |_| {
        ptr::out(keys, "keys")?;
        // SAFETY: not NULL; a live handle used by no other thread (caller's contract).
        let keys = unsafe { &mut *keys };
        keys.keys.advance(now)?;
        Ok(())
    })
}

/// Wipes and frees ticket keys made by `keywheel_ticket_keys_new`. NULL does nothing.
///
/// Thread-safety: no other thread may be using `keys` during or after this call.
///
/// # Safety
/// `keys` must be NULL or a handle from `keywheel_ticket_keys_new` not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_free(keys: *mut keywheel_ticket_keys) {
    if keys.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: `keys` came from `Box::into_raw` and is freed once (caller's contract).
        // Dropping the `TicketKeys` wipes its label key.
        drop(unsafe { Box::from_raw(keys) });
    });
}

/// The ticket schedule of `keys` at unix time `now`, written to `*out`.
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or `KEYWHEEL_RESULT_TIME`. On
/// failure `*out` is untouched.
///
/// # Safety
/// `keys` must be a live handle; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_slot(
    keys: *const keywheel_ticket_keys,
    now: u64,
    out: *mut keywheel_ticket_slot,
) -> keywheel_result {
    guard("keywheel_ticket_keys_slot", || {
        // SAFETY: forwarded caller's contract.
        let keys = unsafe { ptr::object(keys, "keys") }?;
        ptr::out(out, "out")?;
        let slot = keys.keys.slot(now)?;
        let c = keywheel_ticket_slot {
            now: slot.now(),
            current: slot.current(),
            keep: slot.keep(),
            next_rotation: slot.next_rotation(),
        };
        // SAFETY: `out` is not NULL and valid for a write (caller's contract).
        unsafe { out.write(c) };
        Ok(())
    })
}

/// The key that encrypts new tickets at unix time `now` (the current key), written to `*out`.
///
/// Ownership: `*out` is the caller's; wipe it with `keywheel_ticket_key_wipe` when done.
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or `KEYWHEEL_RESULT_TIME`. On
/// failure `*out` is untouched.
///
/// # Safety
/// `keys` must be a live handle; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_current(
    keys: *const keywheel_ticket_keys,
    now: u64,
    out: *mut keywheel_ticket_key,
) -> keywheel_result {
    guard_forward("keywheel_ticket_keys_current", false, |forward| {
        // SAFETY: forwarded caller's contract.
        let keys = unsafe { ptr::object(keys, "keys") }?;
        *forward = keys.keys.state_start().is_some();
        ptr::out(out, "out")?;
        let key = keys.keys.current(now)?;
        // SAFETY: `out` is not NULL and valid for a write (caller's contract).
        unsafe { write_key(&key, out) };
        Ok(())
    })
}

/// The key of interval `counter` (any counter, accepted or not), written to `*out`: for tools
/// and tests that need a specific key.
///
/// Ownership, thread-safety: as `keywheel_ticket_keys_current`.
///
/// Returns `KEYWHEEL_RESULT_OK` or `KEYWHEEL_RESULT_NULL_POINTER`. On failure `*out` is
/// untouched.
///
/// # Safety
/// `keys` must be a live handle; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_by_counter(
    keys: *const keywheel_ticket_keys,
    counter: u64,
    out: *mut keywheel_ticket_key,
) -> keywheel_result {
    guard_forward("keywheel_ticket_keys_by_counter", false, |forward| {
        // SAFETY: forwarded caller's contract.
        let keys = unsafe { ptr::object(keys, "keys") }?;
        *forward = keys.keys.state_start().is_some();
        ptr::out(out, "out")?;
        let key = keys.keys.by_counter(counter)?;
        // SAFETY: `out` is not NULL and valid for a write (caller's contract).
        unsafe { write_key(&key, out) };
        Ok(())
    })
}

/// The Go `crypto/tls` / Caddy session-ticket seed of interval `counter` (SPEC.md §4.5; from a
/// state: §6.3's label key), `KEYWHEEL_GO_SEED_LEN` (32) bytes written to `out`: what Go's
/// `Config.SetSessionTicketKeys` takes. The seed does not depend on the handle's strength.
///
/// Ownership: `out` stays the caller's; it holds a secret: wipe it when done.
///
/// Thread-safety: as `keywheel_ticket_keys_current`.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`,
/// `KEYWHEEL_RESULT_BUFFER_TOO_SMALL` (`out_len` below 32) or, for a handle made from a state,
/// `KEYWHEEL_RESULT_PUNCTURED` or `KEYWHEEL_RESULT_TREE_TIME`. On failure nothing is
/// written.
///
/// # Safety
/// `keys` must be a live handle; `out` valid for writes of `out_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_go_seed(
    keys: *const keywheel_ticket_keys,
    counter: u64,
    out: *mut u8,
    out_len: usize,
) -> keywheel_result {
    guard_forward("keywheel_ticket_keys_go_seed", false, |forward| {
        // SAFETY: forwarded caller's contract.
        let keys = unsafe { ptr::object(keys, "keys") }?;
        *forward = keys.keys.state_start().is_some();
        ptr::out(out, "out")?;
        ptr::room(out_len, KEYWHEEL_GO_SEED_LEN)?;
        let seed = keys.keys.go_seed(counter)?;
        // SAFETY: `out` is valid for writes of `out_len >= 32` bytes (caller's contract).
        unsafe { core::ptr::copy_nonoverlapping(seed.bytes().as_ptr(), out, KEYWHEEL_GO_SEED_LEN) };
        Ok(())
    })
}

/// Looks up a ticket's key name among the keys accepted at unix time `now`:
/// `current - keep ..= current + 1`. Names are `KEYWHEEL_TICKET_NAME_LEN` (16) bytes; a name of
/// another length matches no key (as in every binding). Writes the outcome to
/// `*found`, and when found, the key to `*key`:
/// - `KEYWHEEL_LOOKUP_CURRENT`: the current key; decrypt and keep the ticket;
/// - `KEYWHEEL_LOOKUP_ACCEPTED`: the next or a previous key; decrypt and issue a new ticket
///   (OpenSSL callback: return 2);
/// - `KEYWHEEL_LOOKUP_NOT_FOUND`: `*key` is untouched; make a full handshake.
///
/// Ownership: `*found` and `*key` are the caller's; wipe `*key` with `keywheel_ticket_key_wipe`.
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns `KEYWHEEL_RESULT_OK` (also when not found), `KEYWHEEL_RESULT_NULL_POINTER` or
/// `KEYWHEEL_RESULT_TIME`. On failure neither `*found` nor
/// `*key` is written.
///
/// # Safety
/// `keys` must be a live handle; `name` valid for reads of `name_len` bytes; `found` and `key`
/// valid for one write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_keys_lookup(
    keys: *const keywheel_ticket_keys,
    now: u64,
    name: *const u8,
    name_len: usize,
    found: *mut keywheel_lookup,
    key: *mut keywheel_ticket_key,
) -> keywheel_result {
    guard_forward("keywheel_ticket_keys_lookup", false, |forward| {
        // SAFETY: forwarded caller's contracts.
        let keys = unsafe { ptr::object(keys, "keys") }?;
        *forward = keys.keys.state_start().is_some();
        // SAFETY: forwarded caller's contracts.
        let name = unsafe { ptr::input(name, name_len, "name") }?;
        ptr::out(found, "found")?;
        ptr::out(key, "key")?;
        let outcome = match keys.keys.lookup(name, now)? {
            Lookup::Current(k) => {
                // SAFETY: `key` is not NULL and valid for a write (caller's contract).
                unsafe { write_key(&k, key) };
                keywheel_lookup::Current
            }
            Lookup::Accepted(k, _) => {
                // SAFETY: as above.
                unsafe { write_key(&k, key) };
                keywheel_lookup::Accepted
            }
            Lookup::NotFound => keywheel_lookup::NotFound,
        };
        // SAFETY: `found` is not NULL and valid for a write (caller's contract).
        unsafe { found.write(outcome) };
        Ok(())
    })
}

/// Wipes (zeroes) a `keywheel_ticket_key` with writes the compiler cannot remove. NULL does
/// nothing.
///
/// Thread-safety: the caller must not use `key` from another thread meanwhile.
///
/// # Safety
/// `key` must be NULL or valid for reads and writes of one `keywheel_ticket_key`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_ticket_key_wipe(key: *mut keywheel_ticket_key) {
    if key.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: not NULL; valid for writes (caller's contract). All fields are plain
        // integers, so any bytes the caller left there are a valid value.
        wipe(unsafe { &mut *key });
    });
}
