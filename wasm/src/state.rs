//! Forward-secure mode: `State` (SPEC §6).

use keywheel as kw;
use keywheel::schedule::Schedule;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::io::{Io, Put, ok, read, state_ok};
use crate::tfo::put_tfo_keys;

/// A forward-secure state (js/keywheel.mjs: `State`). Its nodes live in wasm memory, wiped
/// when `advance` replaces them and by `free()` (or garbage collection).
#[wasm_bindgen]
pub struct State(pub(crate) kw::State);

/// The state at `s0` of the tree of the seed in the buffer, `len` bytes long (JavaScript
/// writes it only when it is 32 bytes; another length is refused with the core's message).
#[wasm_bindgen]
pub fn state_new(len: usize, s0: u64) -> Option<State> {
    let mut buf = Zeroizing::new([0u8; kw::FS_SEED_LEN]);
    read(&mut buf[..]);
    let state = if len == kw::FS_SEED_LEN {
        kw::State::new(&buf[..], s0)
    } else {
        Err(kw::StateError::SeedLength { len })
    };
    kw::scrub_stack();
    state_ok(state).map(State)
}

/// Reads a state from the first `n` bytes of the buffer, of a state file `len` bytes long
/// (JavaScript writes at most one byte more than the longest state file).
#[wasm_bindgen]
pub fn state_from_bytes(n: usize, len: usize) -> Option<State> {
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
    state_ok(state).map(State)
}

#[wasm_bindgen]
impl State {
    /// Writes the state file into the buffer; returns its length.
    pub fn to_bytes(&self) -> usize {
        let mut buf = Zeroizing::new([0u8; kw::STATE_FILE_MAX_LEN]);
        // The buffer holds the largest state file.
        let n = self.0.to_bytes(&mut buf[..]).unwrap_or(0);
        Io(0).put(buf.get(..n).unwrap_or_default());
        kw::scrub_stack();
        n
    }

    /// Moves the start forward to `s1`.
    pub fn advance(&mut self, s1: u64) -> bool {
        let done = self.0.advance(s1);
        kw::scrub_stack();
        state_ok(done).is_some()
    }

    /// The start (below 2^40: exact).
    pub fn s0(&self) -> f64 {
        self.0.s0() as f64
    }

    /// Writes the public 8-byte id of the tree's root.
    pub fn root_id(&self) {
        Io(0).put(&self.0.root_id());
    }

    /// The number of nodes held (1..=40).
    pub fn node_count(&self) -> usize {
        self.0.node_count()
    }

    /// Writes the forward-secure TFO keys at `now` with `interval`.
    pub fn tfo_keys(&self, interval: u64, now: u64) -> bool {
        let Some(schedule) = ok(Schedule::new(interval)) else {
            return false;
        };
        let keys = self.0.tfo_keys(&schedule, now);
        kw::scrub_stack();
        state_ok(keys).map(|k| put_tfo_keys(&k)).is_some()
    }
}
