//! `MainKey` and `deriveKey`.

use keywheel as kw;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::io::{Io, Put, ok, read};
use crate::objects::{Object, add, get, table};

/// The main key made of the first `len` bytes of the buffer (JavaScript writes at most 32:
/// a shorter material whole, so that the core's message gives its length); its handle.
#[wasm_bindgen]
pub fn main_key_new(len: usize) -> u32 {
    let mut buf = Zeroizing::new([0u8; kw::MAIN_KEY_LEN]);
    read(&mut buf[..]);
    match ok(kw::MainKey::from_bytes(buf.get(..len).unwrap_or_default())) {
        Some(key) => add(Object::MainKey(key)),
        None => 0,
    }
}

/// Writes the main key's public 8-byte fingerprint into the buffer.
#[wasm_bindgen]
pub fn main_key_fingerprint(main: u32) {
    if let Some(Object::MainKey(key)) = get(&table(), main) {
        Io(0).put(&key.fingerprint());
    }
}

/// Derives `len` bytes (the caller checked it is at most 64) of subkey `id` of `main` under the
/// 8-byte context in the buffer, and writes them into the buffer.
#[wasm_bindgen]
pub fn derive_key(main: u32, id: u64, len: usize) -> bool {
    let mut context = [0u8; kw::CONTEXT_LEN];
    read(&mut context);
    let table = table();
    let Some(Object::MainKey(key)) = get(&table, main) else {
        return false;
    };
    let mut buf = Zeroizing::new([0u8; kw::DERIVE_MAX_LEN]);
    let out = buf.get_mut(..len).unwrap_or_default();
    let done = ok(kw::derive_key(key, &context, id, out)).is_some();
    if done {
        Io(0).put(out);
    }
    done
}
