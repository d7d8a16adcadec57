//! `MainKey` and `deriveKey`.

use keywheel as kw;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::io::{Io, Put, ok, read};

/// The cluster's long-term main secret (js/keywheel.mjs: `MainKey`). Its bytes live in wasm
/// memory and are wiped by `free()` (or when the object is garbage-collected).
#[wasm_bindgen]
pub struct MainKey(pub(crate) kw::MainKey);

/// The main key made of the first `len` bytes of the buffer (JavaScript writes at most 32:
/// a shorter material whole, so that the core's message gives its length).
#[wasm_bindgen]
pub fn main_key_new(len: usize) -> Option<MainKey> {
    let mut buf = Zeroizing::new([0u8; kw::MAIN_KEY_LEN]);
    read(&mut buf[..]);
    ok(kw::MainKey::from_bytes(buf.get(..len).unwrap_or_default())).map(MainKey)
}

#[wasm_bindgen]
impl MainKey {
    /// Writes the main key's public 8-byte fingerprint into the buffer.
    pub fn fingerprint(&self) {
        Io(0).put(&self.0.fingerprint());
    }
}

/// Derives `len` bytes (the caller checked it is at most 64) of subkey `id` of `main` under the
/// 8-byte context in the buffer, and writes them into the buffer.
#[wasm_bindgen]
pub fn derive_key(main: &MainKey, id: u64, len: usize) -> bool {
    let mut context = [0u8; kw::CONTEXT_LEN];
    read(&mut context);
    let mut buf = Zeroizing::new([0u8; kw::DERIVE_MAX_LEN]);
    let out = buf.get_mut(..len).unwrap_or_default();
    let done = ok(kw::derive_key(&main.0, &context, id, out)).is_some();
    if done {
        Io(0).put(out);
    }
    done
}
