//! `TicketKeys`: the one ticket API of the core, from a main key or a forward-secure state.

use keywheel as kw;
use keywheel::ticket::TicketSchedule;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

extern crate alloc;
use alloc::vec;

use crate::io::{Cursor, Io, Put, error, ok, out, read, state_ok};
use crate::objects::{Object, Table, add, get, get_mut, table};

/// Checks a label's length in bytes (the core's message if refused).
#[wasm_bindgen]
pub fn label_check(len: usize) -> bool {
    if (1..=kw::MAX_LABEL_LEN).contains(&len) {
        return true;
    }
    error(kw::Error::LabelLength { len });
    false
}

/// Checks a ticket schedule (the core's message if refused).
#[wasm_bindgen]
pub fn ticket_schedule_check(interval: u64, keep: u64) -> bool {
    ok(TicketSchedule::new(interval, keep)).is_some()
}

/// The largest `keep` with `interval` (at least 10: checked first).
#[wasm_bindgen]
pub fn max_keep(interval: u64) -> u64 {
    kw::MAX_TICKET_AGE
        .checked_div(interval)
        .unwrap_or(1)
        .saturating_sub(1)
}

/// The strength number `strength` (of `names`) and the schedule of a new `TicketKeys`.
fn args(strength: usize, interval: u64, keep: u64) -> Option<(kw::Strength, TicketSchedule)> {
    Some((
        *kw::Strength::ALL.get(strength)?,
        ok(TicketSchedule::new(interval, keep))?,
    ))
}

/// `new TicketKeys(main, label, strength, interval, keep)`: its handle.
#[wasm_bindgen]
pub fn ticket_keys_new(main: u32, label: &str, strength: usize, interval: u64, keep: u64) -> u32 {
    let keys = {
        let table = table();
        let Some(Object::MainKey(main)) = get(&table, main) else {
            return 0;
        };
        let Some((strength, schedule)) = args(strength, interval, keep) else {
            return 0;
        };
        kw::TicketKeys::new(main, label, strength, schedule)
    };
    ok(keys).map_or(0, |k| add(Object::TicketKeys(k)))
}

/// `TicketKeys.fromState(state, label, strength, interval, keep, now)`: its handle.
#[wasm_bindgen]
pub fn ticket_keys_from_state(
    state: u32,
    label: &str,
    strength: usize,
    interval: u64,
    keep: u64,
    now: u64,
) -> u32 {
    let keys = {
        let table = table();
        let Some(Object::State(state)) = get(&table, state) else {
            return 0;
        };
        let Some((strength, schedule)) = args(strength, interval, keep) else {
            return 0;
        };
        kw::TicketKeys::from_state(state, label, strength, schedule, now)
    };
    kw::scrub_stack();
    state_ok(keys).map_or(0, |k| add(Object::TicketKeys(k)))
}

/// The ticket keys of `handle` in `table`.
fn keys(table: &Table, handle: u32) -> Option<&kw::TicketKeys> {
    match get(table, handle)? {
        Object::TicketKeys(keys) => Some(keys),
        _ => None,
    }
}

/// Forward-secure mode: punctures the copy of the state up to the oldest key accepted at
/// `now`; main-key mode: checks `now`.
#[wasm_bindgen]
pub fn ticket_keys_advance(keys: u32, now: u64) -> bool {
    let mut table = table();
    let Some(Object::TicketKeys(keys)) = get_mut(&mut table, keys) else {
        return false;
    };
    let done = keys.advance(now);
    kw::scrub_stack();
    state_ok(done).is_some()
}

/// The start of the copy of the state; -1 in main-key mode.
#[wasm_bindgen]
pub fn ticket_keys_state_start(keys: u32) -> f64 {
    let table = table();
    // Below 2^40: exact.
    self::keys(&table, keys)
        .and_then(kw::TicketKeys::state_start)
        .map_or(-1.0, |(s0, _)| s0 as f64)
}

/// The ticket window at `now`, as the result (`out`): now, interval, keep, max ticket age,
/// current, next rotation, the number of keys, then each key's counter and role.
#[wasm_bindgen]
pub fn ticket_keys_slot(keys: u32, now: u64) -> bool {
    let table = table();
    let Some(keys) = self::keys(&table, keys) else {
        return false;
    };
    let Some(slot) = ok(keys.slot(now)) else {
        return false;
    };
    let schedule = keys.schedule();
    // 7 numbers, then per key a counter, a role number and an age.
    let count = slot.window().count();
    let mut data = Zeroizing::new(vec![0u8; 7 * 8 + count * (8 + 1 + 8)].into_boxed_slice());
    let mut w = Cursor(&mut data[..], 0);
    w.u64(slot.now());
    w.u64(schedule.interval());
    w.u64(slot.keep());
    w.u64(schedule.max_ticket_age());
    w.u64(slot.current());
    w.u64(slot.next_rotation());
    w.u64(count as u64);
    for (counter, role) in slot.window() {
        w.u64(counter);
        w.role(role);
    }
    out(data);
    true
}

/// What `ticket_keys_key` writes (js/keywheel.mjs has the same numbers): the key that
/// encrypts new tickets at unix time `value`.
const KEY_CURRENT: u32 = 0;
/// The key of interval `value`.
const KEY_BY_COUNTER: u32 = 1;
/// The Go crypto/tls seed of interval `value`.
const KEY_GO_SEED: u32 = 2;

/// Writes a key of `keys`: `of` is [`KEY_CURRENT`], [`KEY_BY_COUNTER`] or [`KEY_GO_SEED`].
#[wasm_bindgen]
pub fn ticket_keys_key(keys: u32, of: u32, value: u64) -> bool {
    let table = table();
    let Some(keys) = self::keys(&table, keys) else {
        return false;
    };
    let done = match of {
        KEY_CURRENT => ok(keys.current(value)).map(|k| Io(0).ticket_key(&k)),
        KEY_BY_COUNTER => ok(keys.by_counter(value)).map(|k| Io(0).ticket_key(&k)),
        KEY_GO_SEED => ok(keys.go_seed(value)).map(|s| Io(0).put(s.bytes())),
        _ => None,
    };
    scrub(keys);
    done.is_some()
}

/// Looks the name in the buffer (`len` bytes; more than 16 are never found) up at `now`;
/// writes the kind, then 1 and the key and its role if a key was found, else 0.
#[wasm_bindgen]
pub fn ticket_keys_lookup(keys: u32, len: usize, now: u64) -> bool {
    // Names are public; one byte more than a name is enough to tell a longer one.
    let mut buf = [0u8; kw::TICKET_NAME_LEN + 1];
    read(&mut buf);
    let name = buf.get(..len).unwrap_or_default();
    let table = table();
    let Some(keys) = self::keys(&table, keys) else {
        return false;
    };
    // The key stays where lookup put it (wiped when dropped), not moved around.
    let found = keys.lookup(name, now);
    scrub(keys);
    let Some(found) = ok(found) else {
        return false;
    };
    let mut w = Io(0);
    w.bytes(found.as_str().as_bytes());
    let (key, role) = match &found {
        kw::Lookup::Current(key) => (key, kw::Role::Current),
        kw::Lookup::Accepted(key, role) => (key, *role),
        kw::Lookup::NotFound => {
            w.u64(0);
            return true;
        }
    };
    w.u64(1);
    w.ticket_key(key);
    w.role(role);
    true
}

/// The key file of format number `format` (of `names`) at `now` as the result (`out`), with
/// the window of `decrypt_only` (a handle, or 0 for none) appended where the format takes it
/// (main-key rollover).
#[wasm_bindgen]
pub fn ticket_keys_render(keys: u32, format: usize, decrypt_only: u32, now: u64) -> bool {
    let table = table();
    let Some(keys) = self::keys(&table, keys) else {
        return false;
    };
    let Some(&format) = kw::FORMATS.get(format) else {
        return false;
    };
    let other = self::keys(&table, decrypt_only);
    let others: &[&kw::TicketKeys] = match &other {
        Some(other) => core::slice::from_ref(other),
        None => &[],
    };
    let Some(len) = ok(keys.rollover_len(format, others.len())) else {
        return false;
    };
    let mut file = Zeroizing::new(vec![0u8; len].into_boxed_slice());
    let done = keys.render_rollover(format, now, others, &mut file[..]);
    scrub(keys);
    if ok(done).is_none() {
        return false;
    }
    out(file);
    true
}

/// Forward-secure mode: overwrites the stack the core used (node values, leaves, keys).
fn scrub(keys: &kw::TicketKeys) {
    if keys.state_start().is_some() {
        kw::scrub_stack();
    }
}
