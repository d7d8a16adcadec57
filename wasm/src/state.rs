//! Forward-secure mode: `State` (SPEC §6).

use keywheel as kw;
use keywheel::schedule::Schedule;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::js::{
    JsErrorValue, Object, Uint8Array, bytes, copy_in, error, interval, time, to_js, uint,
};
use crate::js::{JsResult, Message};
use crate::tfo::tfo_object;

/// A forward-secure error as an `Error` carrying the core's message.
pub(crate) fn state_error(e: kw::StateError) -> JsValue {
    let mut m = Message(JsValue::from_str(""));
    // Appending to a string cannot fail.
    let _ = core::fmt::write(&mut m, format_args!("{e}"));
    JsErrorValue::new(&m.0).into()
}

/// A second of the forward-secure tree (the core checks that it is below 2^40).
pub(crate) fn tree_time(value: &JsValue) -> JsResult<u64> {
    uint(value, "time", "in 0..=1099511627775")
}

/// A forward-secure state (SPEC.md section 6): the tree nodes covering the unix seconds from
/// its start `s0` on, and nothing that derives an earlier second. Its nodes live in wasm
/// memory, wiped when `advance` replaces them and by `free()` (or garbage collection).
#[wasm_bindgen]
pub struct State(pub(crate) kw::State);

#[wasm_bindgen]
impl State {
    /// The state at `s0` of the tree of `seed` (exactly 32 random bytes made for this mode).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] seed: JsValue,
        #[wasm_bindgen(unchecked_param_type = "bigint | number")] s0: JsValue,
    ) -> JsResult<State> {
        let array = bytes(&seed, "seed")?;
        let s0 = tree_time(&s0)?;
        // One byte more than a seed, enough to tell a longer one (the length is named).
        let mut buf = Zeroizing::new([0u8; kw::FS_SEED_LEN + 1]);
        copy_in(array, &mut buf[..]);
        let len = array.length() as usize;
        let state = if len == kw::FS_SEED_LEN {
            kw::State::new(buf.get(..len).unwrap_or_default(), s0)
        } else {
            Err(kw::StateError::SeedLength { len })
        };
        kw::scrub_stack();
        state.map(State).map_err(state_error)
    }

    /// Reads a state from the bytes of a state file (version 1, strict: every malformed field,
    /// truncation, trailing byte or bad checksum is refused with a message naming it).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] data: JsValue,
    ) -> JsResult<State> {
        let array = bytes(&data, "state file")?;
        let mut buf = Zeroizing::new([0u8; kw::STATE_FILE_MAX_LEN + 1]);
        let n = copy_in(array, &mut buf[..]);
        let state = kw::State::from_bytes(buf.get(..n).unwrap_or_default());
        kw::scrub_stack();
        state.map(State).map_err(|e| {
            // Longer than any state file: only the first bytes were copied; name the length.
            let e = match e {
                kw::StateError::StateFile(kw::StateFileError::Trailing { expected, .. }) => {
                    kw::StateError::StateFile(kw::StateFileError::Trailing {
                        len: array.length() as usize,
                        expected,
                    })
                }
                other => other,
            };
            state_error(e)
        })
    }

    /// The state file (version 1, 41 + 32 × nodeCount bytes). It is a secret.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Uint8Array {
        let mut buf = Zeroizing::new([0u8; kw::STATE_FILE_MAX_LEN]);
        // The buffer holds the largest state file.
        let n = self.0.to_bytes(&mut buf[..]).unwrap_or(0);
        // At most 1321 bytes.
        #[allow(clippy::cast_possible_truncation)]
        let out = Uint8Array::with_length(n as u32);
        out.set_at(buf.get(..n).unwrap_or_default(), 0);
        kw::scrub_stack();
        out
    }

    /// Moves the start forward to `s1` (never backwards); every node it replaces is wiped.
    pub fn advance(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "bigint | number")] s1: JsValue,
    ) -> JsResult<()> {
        let s1 = tree_time(&s1)?;
        let done = self.0.advance(s1);
        kw::scrub_stack();
        done.map_err(state_error)
    }

    /// The start: the first second whose keys this state derives.
    #[wasm_bindgen(getter)]
    pub fn s0(&self) -> f64 {
        // Below 2^40: exact.
        self.0.s0() as f64
    }

    /// The public 8-byte id of the tree's root: equal on every node of one seed.
    #[wasm_bindgen(getter = rootId, unchecked_return_type = "Uint8Array")]
    pub fn root_id(&self) -> JsValue {
        to_js(&self.0.root_id())
    }

    /// The number of nodes held (1..=40).
    #[wasm_bindgen(getter = nodeCount)]
    pub fn node_count(&self) -> u32 {
        // At most 40.
        #[allow(clippy::cast_possible_truncation)]
        {
            self.0.node_count() as u32
        }
    }

    /// The forward-secure TCP Fast Open keys (not tofurkey's) to install at unix time `now`
    /// (default: now) with `interval` (default 86400).
    #[wasm_bindgen(js_name = tfoKeys, unchecked_return_type = "TfoKeys")]
    pub fn tfo_keys(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] interval: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Object> {
        let i = if interval.is_undefined() {
            kw::DEFAULT_INTERVAL
        } else {
            self::interval(&interval)?
        };
        let schedule = Schedule::new(i).map_err(error)?;
        let keys = self.0.tfo_keys(&schedule, time(&now)?);
        kw::scrub_stack();
        Ok(tfo_object(&keys.map_err(state_error)?))
    }
}
