//! `MainKey` and `deriveKey`.

use keywheel as kw;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::js::JsResult;
use crate::js::{bytes, copy_in, counter, error, naming_error, num, to_js, type_error, uint, utf8};

/// The cluster's long-term main secret: the first 32 bytes of the key material. Its bytes live
/// in wasm memory and are wiped by `free()` (or when the object is garbage-collected); nothing
/// reads them back.
#[wasm_bindgen]
pub struct MainKey(pub(crate) kw::MainKey);

#[wasm_bindgen]
impl MainKey {
    /// The main key made of the first 32 bytes of `material` (at least 32 bytes; longer
    /// material is accepted and the rest ignored, as tofurkey reads its key file).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] material: JsValue,
    ) -> JsResult<MainKey> {
        // Copy no more than the bytes used (a shorter array is copied whole, so the core's
        // message gives its length) into a buffer wiped when dropped.
        let mut head = Zeroizing::new([0u8; kw::MAIN_KEY_LEN]);
        let n = copy_in(bytes(&material, "main key")?, &mut head[..]);
        let material = head.get(..n).unwrap_or_default();
        kw::MainKey::from_bytes(material)
            .map(MainKey)
            .map_err(error)
    }

    /// The main key's public 8-byte fingerprint: equal on nodes with the same main key; it
    /// reveals nothing about the key.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn fingerprint(&self) -> JsValue {
        to_js(&self.0.fingerprint())
    }
}

/// Derives `length` bytes (16..=64): the subkey `subkeyId` of `main` under the 8-byte `context`
/// (a `Uint8Array`, or a string of 8 UTF-8 bytes such as `"tofurkey"`). This is libsodium's
/// `crypto_kdf_blake2b_derive_from_key`: BLAKE2b(key = main, salt = LE64(subkeyId) ‖ 0⁸,
/// personal = context ‖ 0⁸, empty message).
#[wasm_bindgen(js_name = deriveKey, unchecked_return_type = "Uint8Array")]
pub fn derive_key(
    main: &MainKey,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] context: JsValue,
    #[wasm_bindgen(js_name = subkeyId, unchecked_param_type = "bigint | number")]
    subkey_id: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] length: JsValue,
) -> JsResult<JsValue> {
    // One byte more than a context, enough to tell a longer one.
    let mut ctx = [0u8; kw::CONTEXT_LEN + 1];
    let ctx_len = if context.is_string() {
        utf8(&context, "context", &mut ctx)?
    } else {
        let a = bytes(&context, "context").map_err(|_| {
            type_error(
                "context",
                " must be a Uint8Array or a string, not ",
                &context,
            )
        })?;
        copy_in(a, &mut ctx[..]);
        a.length() as usize
    };
    let context = match ctx.first_chunk::<{ kw::CONTEXT_LEN }>() {
        Some(c) if ctx_len == kw::CONTEXT_LEN => c,
        _ => {
            // "context is {ctx_len} bytes; it must be 8 bytes", the number written by JavaScript.
            return Err(naming_error(
                "context is ",
                "",
                &num(ctx_len as u64),
                " bytes; it must be 8 bytes",
                "",
            ));
        }
    };
    let id = counter(&subkey_id, "subkey id")?;
    let rule = "in 16..=64";
    let len = uint(&length, "output length", rule)?;
    let mut buf = Zeroizing::new([0u8; kw::DERIVE_MAX_LEN]);
    // Longer than any derived key (or than any buffer, 4 GiB on wasm32): the core's message,
    // naming the value as given. Shorter lengths are the core's to refuse.
    let Some(out) = usize::try_from(len).ok().and_then(|n| buf.get_mut(..n)) else {
        return Err(naming_error(
            "output length",
            " ",
            &length,
            " is out of range; it must be ",
            rule,
        ));
    };
    kw::derive_key(&main.0, context, id, out).map_err(error)?;
    Ok(to_js(out))
}
