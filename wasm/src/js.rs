//! JavaScript values: the few built-ins the binding imports, argument checks that name the bad
//! value, and results built as plain objects.

use keywheel as kw;
use wasm_bindgen::JsCast;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;

// The few JavaScript built-ins the binding needs, declared here rather than taken from js-sys:
// linking js-sys adds several KB of closure and future support to the .wasm. None of these
// throws for the arguments it is given.
#[wasm_bindgen]
extern "C" {
    /// `String.prototype.concat.call(a, b, value, d, e)`: the five as strings, joined; how
    /// messages name a bad value (never a symbol here, which has no string form).
    #[wasm_bindgen(js_namespace = ["String", "prototype", "concat"], js_name = call)]
    pub(crate) fn concat(a: &str, b: &str, value: &JsValue, d: &str, e: &str) -> JsValue;

    /// `String.prototype.concat.call(a, b)`: `a` and `b` as strings, joined.
    #[wasm_bindgen(js_namespace = ["String", "prototype", "concat"], js_name = call)]
    pub(crate) fn concat_value(a: &JsValue, b: &JsValue) -> JsValue;

    /// `JSON.stringify(s)` of a string: `s` quoted, with lone surrogates escaped.
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify)]
    pub(crate) fn json_quote(s: &JsValue) -> JsValue;

    /// An `Error`.
    #[wasm_bindgen(js_name = Error)]
    pub(crate) type JsErrorValue;
    #[wasm_bindgen(constructor, js_class = "Error")]
    pub(crate) fn new(message: &JsValue) -> JsErrorValue;

    /// `String.prototype.isWellFormed.call(s)`: false when the string holds a lone surrogate.
    #[wasm_bindgen(js_namespace = ["String", "prototype", "isWellFormed"], js_name = call)]
    pub(crate) fn is_well_formed(s: &JsValue) -> bool;

    /// `Date.now()`: milliseconds since the unix epoch.
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    pub(crate) fn date_now() -> f64;

    /// A `TypeError`.
    #[wasm_bindgen(js_name = TypeError)]
    pub(crate) type JsTypeError;
    #[wasm_bindgen(constructor, js_class = "TypeError")]
    pub(crate) fn new(message: &JsValue) -> JsTypeError;

    /// A `TextDecoder` (UTF-8).
    pub(crate) type TextDecoder;
    #[wasm_bindgen(constructor, js_class = "TextDecoder")]
    pub(crate) fn new() -> TextDecoder;
    /// `this.decode(bytes)`: the string of the UTF-8 `bytes` (a view of wasm memory).
    #[wasm_bindgen(method, js_class = "TextDecoder")]
    pub(crate) fn decode(this: &TextDecoder, bytes: &[u8]) -> JsValue;

    /// A `TextEncoder`: the UTF-8 bytes of strings.
    pub(crate) type TextEncoder;
    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    pub(crate) fn new() -> TextEncoder;
    /// `this.encode(s)`: the UTF-8 bytes of the string `s`, in a new array.
    #[wasm_bindgen(method, js_class = "TextEncoder")]
    pub(crate) fn encode(this: &TextEncoder, s: &JsValue) -> Uint8Array;

    /// A byte array (a Node `Buffer` is one).
    #[wasm_bindgen(js_name = Uint8Array, typescript_type = "Uint8Array")]
    pub type Uint8Array;
    /// A new array of `len` zeros.
    #[wasm_bindgen(constructor, js_class = "Uint8Array")]
    pub(crate) fn with_length(len: u32) -> Uint8Array;
    /// `this.set(src, offset)`: copies `src` (a view of wasm memory) into `this` at `offset`.
    #[wasm_bindgen(method, js_class = "Uint8Array", js_name = set)]
    pub(crate) fn set_at(this: &Uint8Array, src: &[u8], offset: u32);
    #[wasm_bindgen(method, getter, js_class = "Uint8Array")]
    pub(crate) fn length(this: &Uint8Array) -> u32;
    /// `this.subarray(begin, end)`: a view; indices are clamped.
    #[wasm_bindgen(method, js_class = "Uint8Array")]
    pub(crate) fn subarray(this: &Uint8Array, begin: u32, end: u32) -> Uint8Array;
    /// `Uint8Array.prototype.set.call(dst, src)`: copies `src` into `dst`, a view of wasm
    /// memory; `src` must not be longer.
    #[wasm_bindgen(js_namespace = ["Uint8Array", "prototype", "set"], js_name = call)]
    pub(crate) fn set_bytes(dst: &mut [u8], src: &Uint8Array);

    /// A JavaScript array.
    pub type Array;
    #[wasm_bindgen(constructor, js_class = "Array")]
    pub(crate) fn new() -> Array;
    #[wasm_bindgen(method, js_class = "Array")]
    pub(crate) fn push(this: &Array, value: &JsValue) -> u32;

    /// A plain object.
    pub type Object;
    #[wasm_bindgen(constructor, js_class = "Object")]
    pub(crate) fn new() -> Object;
    /// `Reflect.set(target, key, value)`.
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    pub(crate) fn set(target: &Object, key: &str, value: &JsValue) -> bool;
}

pub(crate) type JsResult<T> = Result<T, JsValue>;

/// A message written piece by piece, as a JavaScript string (no buffer, no allocation, no
/// `core::fmt` machinery in the module).
pub(crate) struct Message(pub(crate) JsValue);

impl core::fmt::Write for Message {
    #[inline(never)]
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0 = concat("", "", &self.0, s, "");
        Ok(())
    }
}

/// The core's error as an `Error` carrying the core's message.
pub(crate) fn error(e: kw::Error) -> JsValue {
    let mut m = Message(JsValue::from_str(""));
    // Appending to a string cannot fail.
    let _ = e.write_message(&mut m);
    JsErrorValue::new(&m.0).into()
}

/// An `Error` whose message is the five parts joined (`value` is the bad value).
pub(crate) fn naming_error(
    what: &str,
    sep: &str,
    value: &JsValue,
    problem: &str,
    rule: &str,
) -> JsValue {
    JsErrorValue::new(&concat(what, sep, value, problem, rule)).into()
}

/// `TypeError: <what><must_be><typeof value>`, `must_be` being " must be …, not ".
pub(crate) fn type_error(what: &str, must_be: &str, value: &JsValue) -> JsValue {
    let kind = if *value == JsValue::NULL {
        JsValue::from_str("null")
    } else {
        value.js_typeof()
    };
    JsTypeError::new(&concat(what, must_be, &kind, "", "")).into()
}

/// The largest integer a `number` holds exactly (`Number.MAX_SAFE_INTEGER`).
pub(crate) const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// An unsigned 64-bit integer argument: a `bigint` in 0..=2^64-1 or a `number` that is a safe
/// integer (in 0..=2^53-1: a bigger `number` may not be the integer the caller wrote). Other
/// values get an `Error` naming them that ends with "it must be <rule>"; the range of a valid
/// u64 is left to the core, so that its message is the one every binding gives.
pub(crate) fn uint(value: &JsValue, what: &str, rule: &str) -> JsResult<u64> {
    uint_ending(value, what, rule, None)
}

/// [`uint`], whose rule ends with `rule_end` (a number) if given.
pub(crate) fn uint_ending(
    value: &JsValue,
    what: &str,
    rule: &str,
    rule_end: Option<&JsValue>,
) -> JsResult<u64> {
    let problem = if let Some(f) = value.as_f64() {
        // `as` is exact for whole numbers of magnitude up to 2^53 (and saturates beyond).
        #[allow(clippy::cast_possible_truncation)]
        let whole = f as i64 as f64 == f;
        if whole && (0.0..=MAX_SAFE_INTEGER).contains(&f) {
            #[allow(clippy::cast_possible_truncation)]
            return Ok(f as u64);
        }
        let magnitude = if f < 0.0 { -f } else { f };
        if whole || magnitude > MAX_SAFE_INTEGER {
            // Negative, too big, or an infinity.
            " is out of range; it must be "
        } else {
            // A fraction, or NaN.
            " is not an integer; it must be "
        }
    } else if value.is_bigint() {
        match u64::try_from_js_value_ref(value) {
            Some(v) => return Ok(v),
            None => " is out of range; it must be ",
        }
    } else {
        return Err(type_error(
            what,
            " must be a number or a bigint, not ",
            value,
        ));
    };
    let mut message = concat(what, " ", value, problem, rule);
    if let Some(end) = rule_end {
        message = concat_value(&message, end);
    }
    Err(JsErrorValue::new(&message).into())
}

/// A counter or subkey id.
pub(crate) fn counter(value: &JsValue, what: &str) -> JsResult<u64> {
    uint(
        value,
        what,
        "in 0..=18446744073709551615 (above 2^53 - 1 as a bigint)",
    )
}

/// A unix time in seconds; `undefined` means now (`Date.now()`, rounded down to a second).
pub(crate) fn time(value: &JsValue) -> JsResult<u64> {
    if value.is_undefined() {
        // Date.now() is a positive integer far below 2^53: the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Ok((date_now() / 1000.0) as u64);
    }
    uint(value, "time", "in 1000000..=100000000000")
}

/// An interval in seconds (the core checks its range).
pub(crate) fn interval(value: &JsValue) -> JsResult<u64> {
    uint(value, "interval", "even and in 10..=604800")
}

/// A string argument as UTF-8: its first bytes copied into `buf`, as many as fit, and its
/// length in bytes. A string with a lone surrogate has no UTF-8 form (it would silently become
/// U+FFFD), so it is refused.
pub(crate) fn utf8(value: &JsValue, what: &str, buf: &mut [u8]) -> JsResult<usize> {
    if !value.is_string() {
        return Err(type_error(what, " must be a string, not ", value));
    }
    if !is_well_formed(value) {
        return Err(naming_error(
            what,
            " ",
            &json_quote(value),
            " is not valid Unicode (it holds a lone surrogate)",
            "",
        ));
    }
    let bytes = TextEncoder::new().encode(value);
    copy_in(&bytes, buf);
    Ok(bytes.length() as usize)
}

/// The index of the string argument `value` in `names`, if it is one of them (a `TypeError`
/// when it is no string).
pub(crate) fn name_index(value: &JsValue, what: &str, names: &[&str]) -> JsResult<Option<usize>> {
    if !value.is_string() {
        return Err(type_error(what, " must be a string, not ", value));
    }
    Ok(names
        .iter()
        .position(|name| *value == JsValue::from_str(name)))
}

/// A `Uint8Array` argument.
pub(crate) fn bytes<'a>(value: &'a JsValue, what: &str) -> JsResult<&'a Uint8Array> {
    value
        .dyn_ref::<Uint8Array>()
        .ok_or_else(|| type_error(what, " must be a Uint8Array, not ", value))
}

/// Copies the first bytes of `src` into `buf`, as many as fit; returns how many.
pub(crate) fn copy_in(src: &Uint8Array, buf: &mut [u8]) -> usize {
    let n = (src.length() as usize).min(buf.len());
    if let Some(dst) = buf.get_mut(..n) {
        // `n` is at most the buffer's length (≤ 64 here).
        #[allow(clippy::cast_possible_truncation)]
        set_bytes(dst, &src.subarray(0, n as u32));
    }
    n
}

/// A new `Uint8Array` holding a copy of `data`. No Rust allocation is left behind; the caller
/// wipes `data`'s own buffer.
pub(crate) fn to_js(data: &[u8]) -> JsValue {
    // `data` is at most 64 bytes.
    #[allow(clippy::cast_possible_truncation)]
    let array = Uint8Array::with_length(data.len() as u32);
    array.set_at(data, 0);
    array.into()
}

/// A `number` of a u64 that is far below 2^53 (times, intervals, `keep`).
pub(crate) fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// `obj[key] = value`.
#[inline(never)]
pub(crate) fn put(obj: &Object, key: &str, value: JsValue) {
    set(obj, key, &value);
}

/// `obj[key] = n` (a `number`: `n` is far below 2^53).
#[inline(never)]
pub(crate) fn put_num(obj: &Object, key: &str, n: u64) {
    put(obj, key, num(n));
}

/// Role names.
pub(crate) fn role(obj: &Object, role: kw::Role) {
    put(obj, "role", role.as_str().into());
    if let Some(n) = role.age() {
        put_num(obj, "age", n);
    }
}

/// A `TicketKey` object; the key's own copy is wiped when `key` is dropped.
pub(crate) fn ticket_key(key: &kw::TicketKey) -> Object {
    let obj = Object::new();
    put(&obj, "strength", key.strength().as_str().into());
    put(&obj, "counter", key.counter().into());
    put(&obj, "name", to_js(key.name()));
    put(&obj, "aesKey", to_js(key.aes_key()));
    put(&obj, "hmacKey", to_js(key.hmac_key()));
    obj
}
