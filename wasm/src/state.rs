//! Forward-secure mode: `State` (SPEC §6).

use keywheel as kw;
use keywheel::schedule::Schedule;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::io::{Io, Put, ok, read, state_ok};
use crate::objects::{Object, add, get, get_mut, table};
use crate::tfo::put_tfo_keys;

/// The state at `s0` of the tree of the seed in the buffer, `len` bytes long (JavaScript
/// writes it only when it is 32 bytes; another length is refused with the core's message);
/// its handle.
#[wasm_bindgen]
pub fn state_new(len: usize, s0: u64) -> u32 {
    let mut buf = Zeroizing::new([0u8; kw::FS_SEED_LEN]);
    read(&mut buf[..]);
    let state = if len == kw::FS_SEED_LEN {
        kw::State::new(&buf[..], s0)
    } else {
        Err(kw::StateError::SeedLength { len })
    };
    kw::scrub_stack();
    state_ok(state).map_or(0, |s| add(Object::State(s)))
}

/// Reads a state from the first `n` bytes of the buffer, of a state file `len` bytes long
/// (JavaScript writes at most one byte more than the longest state file); its handle.
#[wasm_bindgen]
pub fn state_from_bytes(n: usize, len: usize) -> u32 {
    let mut buf = Zeroizing::new([0u8; kw::STATE_FILE_MAX_LEN + 1]);
    read(&mut buf[..]);
    let state = kw::State::from_bytes(buf.get(..n).unwrap_or_default());
    kw::scrub_stack();
    let state = state.map_err(|e| match e {
        // Longer than any state file: only the first bytes were copied; name the length.
        kw::StateError::StateFile(kw::StateFileError::Trailing { expected, .. }) => {
            kw::StateError::StateFile(kw::StateFileError::Trailing { len, expected })
        }
        other => other,
    });
    state_ok(state).map_or(0, |s| add(Object::State(s)))
}

/// Writes the state file into the buffer; returns its length.
#[wasm_bindgen]
pub fn state_to_bytes(state: u32) -> usize {
    let table = table();
    let Some(Object::State(state)) = get(&table, state) else {
        return 0;
    };
    let mut buf = Zeroizing::new([0u8; kw::STATE_FILE_MAX_LEN]);
    // The buffer holds the largest state file.
    let n = state.to_bytes(&mut buf[..]).unwrap_or(0);
    Io(0).put(buf.get(..n).unwrap_or_default());
    kw::scrub_stack();
    n
}

/// Moves the start forward to `s1`.
#[wasm_bindgen]
pub fn state_advance(state: u32, s1: u64) -> bool {
    let mut table = table();
    let Some(Object::State(state)) = get_mut(&mut table, state) else {
        return false;
    };
    let done = state.advance(s1);
    kw::scrub_stack();
    state_ok(done).is_some()
}

/// Writes the start, the number of nodes held (1..=40) and the public 8-byte id of the tree's
/// root.
#[wasm_bindgen]
pub fn state_info(state: u32) {
    if let Some(Object::State(state)) = get(&table(), state) {
        let mut w = Io(0);
        w.u64(state.s0());
        w.u64(state.node_count() as u64);
        w.put(&state.root_id());
    }
}

/// Writes the forward-secure TFO keys at `now` with `interval`.
#[wasm_bindgen]
pub fn state_tfo_keys(state: u32, interval: u64, now: u64) -> bool {
    let table = table();
    let Some(Object::State(state)) = get(&table, state) else {
        return false;
    };
    let Some(schedule) = ok(Schedule::new(interval)) else {
        return false;
    };
    let keys = state.tfo_keys(&schedule, now);
    kw::scrub_stack();
    state_ok(keys).map(|k| put_tfo_keys(&k)).is_some()
}
