//! The WebAssembly binding of keywheel: the npm package `keywheel`, for Node and edge workers
//! (Cloudflare's workerd) that must hold the same rotating keys as the origin servers.
//!
//! The binding is thin: every byte is computed by the core crate `keywheel`; this crate only
//! checks and converts JavaScript arguments and results. Its API follows the C library's
//! (`keywheel_derive_key` → `deriveKey`, `keywheel_ticket_keys_lookup` →
//! `TicketKeys.lookup`): two classes that hold secrets in wasm memory (`MainKey`, `TicketKeys`)
//! and functions; results are plain objects. Conventions:
//!
//! - Counters and subkey ids (64-bit) are `bigint`s in results; arguments take a `bigint` or a
//!   `number` that is a safe integer. Times, intervals, `keep` and lengths are `number`s (they
//!   are far below 2^53); a time may be omitted for `Date.now()`.
//! - An argument of the wrong type throws a `TypeError`; a value keywheel refuses throws an
//!   `Error` whose message names the value (the core's message, e.g. "interval 11 is odd; it
//!   must be even and in 10..=604800"). No input makes the module panic.
//! - Secrets: key material copied into wasm memory is wiped after use (`Zeroizing`, and the
//!   core's types wipe on drop). Keys handed to JavaScript are built as `Uint8Array`s straight
//!   from Rust buffers that are then wiped — never through wasm-bindgen's `Vec<u8>` results,
//!   which free wasm memory without wiping it. Copies in the JavaScript heap are not wiped.
//! - Size: the npm package's .wasm must stay small (build.sh checks ≤ 40 KiB), hence no std,
//!   js-sys, `core::fmt`, `Vec` or `String` here, no code that could panic, few imports, a
//!   small allocator (README "Size and speed").

#![no_std]
#![forbid(unsafe_code)]

use keywheel as kw;
use keywheel::schedule::{Schedule, Slot};
use keywheel::ticket::TicketSchedule;
use wasm_bindgen::JsCast;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** A ticket-key strength: AES-256-CBC with a 32-byte HMAC-SHA256 key (80-byte records), or AES-128-CBC with a 16-byte HMAC key (48-byte records). */
export type Strength = "aes256" | "aes128";
/** A server's ticket-key format: one of `formats()`, the core's table ("nginx", "haproxy", ...). */
export type FormatName = string;
/** A key's role in a ticket window: "current" encrypts; "next" and "previous" only decrypt. */
export type Role = "current" | "next" | "previous";
/** What the TFO schedule says at one time (unix seconds). */
export interface Slot {
  now: number;
  /** floor(now / interval): the counter of the primary key. */
  primary: bigint;
  /** primary - 1 in the first half of the interval, primary + 1 in the second. */
  backup: bigint;
  /** The next half-interval boundary, where the backup key changes. */
  nextWake: number;
  /** [seconds, nanoseconds]: when a daemon wakes, nextWake + 2.02 s. */
  wakeTime: [number, number];
}
/** The TCP Fast Open keys to install at one time. */
export interface TfoKeys {
  /** 16 bytes: the kernel makes new cookies with it. */
  primary: Uint8Array;
  /** 16 bytes: the kernel still accepts cookies made with it. */
  backup: Uint8Array;
  /** "primary,backup" for /proc/sys/net/ipv4/tcp_fastopen_key (71 characters). */
  procfsText: string;
}
/** One key of a ticket window; `age` (1..=keep) is given for "previous". */
export interface WindowEntry { counter: bigint; role: Role; age?: number }
/** The ticket window at one time (unix seconds). */
export interface TicketSlot {
  now: number;
  interval: number;
  keep: number;
  /** (keep + 1) * interval: the longest a ticket is accepted for. */
  maxTicketAge: number;
  /** floor(now / interval): the counter of the key that encrypts new tickets. */
  current: bigint;
  /** (current + 1) * interval: when the next key takes over. */
  nextRotation: number;
  /** Every accepted key, oldest first: previous keep, ..., previous 1, current, next. */
  window: WindowEntry[];
}
/** One session-ticket key. The name is public (sent in clear in every ticket). */
export interface TicketKey {
  strength: Strength;
  counter: bigint;
  /** 16 bytes. */
  name: Uint8Array;
  /** 32 bytes (aes256) or 16 (aes128). */
  aesKey: Uint8Array;
  /** HMAC-SHA256 key: 32 bytes (aes256) or 16 (aes128). */
  hmacKey: Uint8Array;
}
/** The result of `TicketKeys.lookup`: "current" (decrypt, keep the ticket), "accepted" (decrypt, issue a fresh ticket; `role` and `age` say which key) or "not_found". */
export interface Lookup { kind: "current" | "accepted" | "not_found"; key?: TicketKey; role?: Role; age?: number }
"#;

// The few JavaScript built-ins the binding needs, declared here rather than taken from js-sys:
// linking js-sys adds several KB of closure and future support to the .wasm. None of these
// throws for the arguments it is given.
#[wasm_bindgen]
extern "C" {
    /// `String.prototype.concat.call(a, b, value, d, e)`: the five as strings, joined; how
    /// messages name a bad value (never a symbol here, which has no string form).
    #[wasm_bindgen(js_namespace = ["String", "prototype", "concat"], js_name = call)]
    fn concat(a: &str, b: &str, value: &JsValue, d: &str, e: &str) -> JsValue;

    /// `String.prototype.concat.call(a, b)`: `a` and `b` as strings, joined.
    #[wasm_bindgen(js_namespace = ["String", "prototype", "concat"], js_name = call)]
    fn concat_value(a: &JsValue, b: &JsValue) -> JsValue;

    /// `JSON.stringify(s)` of a string: `s` quoted, with lone surrogates escaped.
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify)]
    fn json_quote(s: &JsValue) -> JsValue;

    /// An `Error`.
    #[wasm_bindgen(js_name = Error)]
    type JsErrorValue;
    #[wasm_bindgen(constructor, js_class = "Error")]
    fn new(message: &JsValue) -> JsErrorValue;

    /// `String.prototype.isWellFormed.call(s)`: false when the string holds a lone surrogate.
    #[wasm_bindgen(js_namespace = ["String", "prototype", "isWellFormed"], js_name = call)]
    fn is_well_formed(s: &JsValue) -> bool;

    /// `Date.now()`: milliseconds since the unix epoch.
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;

    /// A `TypeError`.
    #[wasm_bindgen(js_name = TypeError)]
    type JsTypeError;
    #[wasm_bindgen(constructor, js_class = "TypeError")]
    fn new(message: &JsValue) -> JsTypeError;

    /// A `TextEncoder`: the UTF-8 bytes of strings.
    type TextEncoder;
    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> TextEncoder;
    /// `this.encode(s)`: the UTF-8 bytes of the string `s`, in a new array.
    #[wasm_bindgen(method, js_class = "TextEncoder")]
    fn encode(this: &TextEncoder, s: &JsValue) -> Uint8Array;

    /// A byte array (a Node `Buffer` is one).
    #[wasm_bindgen(js_name = Uint8Array, typescript_type = "Uint8Array")]
    pub type Uint8Array;
    /// A new array of `len` zeros.
    #[wasm_bindgen(constructor, js_class = "Uint8Array")]
    fn with_length(len: u32) -> Uint8Array;
    /// `this.set(src, offset)`: copies `src` (a view of wasm memory) into `this` at `offset`.
    #[wasm_bindgen(method, js_class = "Uint8Array", js_name = set)]
    fn set_at(this: &Uint8Array, src: &[u8], offset: u32);
    #[wasm_bindgen(method, getter, js_class = "Uint8Array")]
    fn length(this: &Uint8Array) -> u32;
    /// `this.subarray(begin, end)`: a view; indices are clamped.
    #[wasm_bindgen(method, js_class = "Uint8Array")]
    fn subarray(this: &Uint8Array, begin: u32, end: u32) -> Uint8Array;
    /// `Uint8Array.prototype.set.call(dst, src)`: copies `src` into `dst`, a view of wasm
    /// memory; `src` must not be longer.
    #[wasm_bindgen(js_namespace = ["Uint8Array", "prototype", "set"], js_name = call)]
    fn set_bytes(dst: &mut [u8], src: &Uint8Array);

    /// A JavaScript array.
    pub type Array;
    #[wasm_bindgen(constructor, js_class = "Array")]
    fn new() -> Array;
    #[wasm_bindgen(method, js_class = "Array")]
    fn push(this: &Array, value: &JsValue) -> u32;

    /// A plain object.
    pub type Object;
    #[wasm_bindgen(constructor, js_class = "Object")]
    fn new() -> Object;
    /// `Reflect.set(target, key, value)`.
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    fn set(target: &Object, key: &str, value: &JsValue) -> bool;
}

/// Without std (the npm package's build), a panic traps at once. The core never panics and the
/// binding checks every input, so this is a last resort, and it keeps the .wasm small.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// A small allocator (see Cargo.toml), single-threaded wasm only.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

type JsResult<T> = Result<T, JsValue>;

/// A message written piece by piece, as a JavaScript string (no buffer, no allocation, no
/// `core::fmt` machinery in the module).
struct Message(JsValue);

impl core::fmt::Write for Message {
    #[inline(never)]
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0 = concat("", "", &self.0, s, "");
        Ok(())
    }
}

/// The core's error as an `Error` carrying the core's message.
fn error(e: kw::Error) -> JsValue {
    let mut m = Message(JsValue::from_str(""));
    // Appending to a string cannot fail.
    let _ = e.write_message(&mut m);
    JsErrorValue::new(&m.0).into()
}

/// An `Error` whose message is the five parts joined (`value` is the bad value).
fn naming_error(what: &str, sep: &str, value: &JsValue, problem: &str, rule: &str) -> JsValue {
    JsErrorValue::new(&concat(what, sep, value, problem, rule)).into()
}

/// `TypeError: <what><must_be><typeof value>`, `must_be` being " must be …, not ".
fn type_error(what: &str, must_be: &str, value: &JsValue) -> JsValue {
    let kind = if *value == JsValue::NULL {
        JsValue::from_str("null")
    } else {
        value.js_typeof()
    };
    JsTypeError::new(&concat(what, must_be, &kind, "", "")).into()
}

/// The largest integer a `number` holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// An unsigned 64-bit integer argument: a `bigint` in 0..=2^64-1 or a `number` that is a safe
/// integer (in 0..=2^53-1: a bigger `number` may not be the integer the caller wrote). Other
/// values get an `Error` naming them that ends with "it must be <rule>"; the range of a valid
/// u64 is left to the core, so that its message is the one every binding gives.
fn uint(value: &JsValue, what: &str, rule: &str) -> JsResult<u64> {
    uint_ending(value, what, rule, None)
}

/// [`uint`], whose rule ends with `rule_end` (a number) if given.
fn uint_ending(
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
fn counter(value: &JsValue, what: &str) -> JsResult<u64> {
    uint(
        value,
        what,
        "in 0..=18446744073709551615 (above 2^53 - 1 as a bigint)",
    )
}

/// A unix time in seconds; `undefined` means now (`Date.now()`, rounded down to a second).
fn time(value: &JsValue) -> JsResult<u64> {
    if value.is_undefined() {
        // Date.now() is a positive integer far below 2^53: the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Ok((date_now() / 1000.0) as u64);
    }
    uint(value, "time", "in 1000000..=100000000000")
}

/// An interval in seconds (the core checks its range).
fn interval(value: &JsValue) -> JsResult<u64> {
    uint(value, "interval", "even and in 10..=604800")
}

/// A string argument as UTF-8: its first bytes copied into `buf`, as many as fit, and its
/// length in bytes. A string with a lone surrogate has no UTF-8 form (it would silently become
/// U+FFFD), so it is refused.
fn utf8(value: &JsValue, what: &str, buf: &mut [u8]) -> JsResult<usize> {
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
fn name_index(value: &JsValue, what: &str, names: &[&str]) -> JsResult<Option<usize>> {
    if !value.is_string() {
        return Err(type_error(what, " must be a string, not ", value));
    }
    Ok(names
        .iter()
        .position(|name| *value == JsValue::from_str(name)))
}

/// A `Uint8Array` argument.
fn bytes<'a>(value: &'a JsValue, what: &str) -> JsResult<&'a Uint8Array> {
    value
        .dyn_ref::<Uint8Array>()
        .ok_or_else(|| type_error(what, " must be a Uint8Array, not ", value))
}

/// Copies the first bytes of `src` into `buf`, as many as fit; returns how many.
fn copy_in(src: &Uint8Array, buf: &mut [u8]) -> usize {
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
fn to_js(data: &[u8]) -> JsValue {
    // `data` is at most 64 bytes.
    #[allow(clippy::cast_possible_truncation)]
    let array = Uint8Array::with_length(data.len() as u32);
    array.set_at(data, 0);
    array.into()
}

/// A `number` of a u64 that is far below 2^53 (times, intervals, `keep`).
fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// `obj[key] = value`.
#[inline(never)]
fn put(obj: &Object, key: &str, value: JsValue) {
    set(obj, key, &value);
}

/// `obj[key] = n` (a `number`: `n` is far below 2^53).
#[inline(never)]
fn put_num(obj: &Object, key: &str, n: u64) {
    put(obj, key, num(n));
}

/// Role names.
fn role(obj: &Object, role: kw::Role) {
    put(obj, "role", role.as_str().into());
    if let Some(n) = role.age() {
        put_num(obj, "age", n);
    }
}

/// A `TicketKey` object; the key's own copy is wiped when `key` is dropped.
fn ticket_key(key: &kw::TicketKey) -> Object {
    let obj = Object::new();
    put(&obj, "strength", key.strength().as_str().into());
    put(&obj, "counter", key.counter().into());
    put(&obj, "name", to_js(key.name()));
    put(&obj, "aesKey", to_js(key.aes_key()));
    put(&obj, "hmacKey", to_js(key.hmac_key()));
    obj
}

// ---------------------------------------------------------------------------------------------
// Main key and derivation

/// The cluster's long-term main secret: the first 32 bytes of the key material. Its bytes live
/// in wasm memory and are wiped by `free()` (or when the object is garbage-collected); nothing
/// reads them back.
#[wasm_bindgen]
pub struct MainKey(kw::MainKey);

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

// ---------------------------------------------------------------------------------------------
// TCP Fast Open

/// The TFO schedule: a slot at unix time `now` (seconds; default: now) for `interval` (even,
/// 10..=604800 s; default 86400, tofurkey's).
#[wasm_bindgen(js_name = scheduleAt, unchecked_return_type = "Slot")]
pub fn schedule_at(
    #[wasm_bindgen(unchecked_optional_param_type = "number")] interval: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
) -> JsResult<Object> {
    let slot = tfo_slot(&interval, &now)?;
    let obj = Object::new();
    put_num(&obj, "now", slot.now());
    put(&obj, "primary", slot.primary().into());
    put(&obj, "backup", slot.backup().into());
    put_num(&obj, "nextWake", slot.next_wake());
    let (secs, nanos) = slot.wake_time();
    let wake = Array::new();
    wake.push(&num(secs));
    wake.push(&nanos.into());
    put(&obj, "wakeTime", wake.into());
    Ok(obj)
}

fn tfo_slot(interval: &JsValue, now: &JsValue) -> JsResult<Slot> {
    let i = if interval.is_undefined() {
        kw::DEFAULT_INTERVAL
    } else {
        self::interval(interval)?
    };
    let schedule = Schedule::new(i).map_err(error)?;
    schedule.at(time(now)?).map_err(error)
}

/// The TCP Fast Open keys to install at unix time `now` (default: now) with `interval`
/// (default 86400): tofurkey 1.3.4's keys.
#[wasm_bindgen(js_name = tfoKeys, unchecked_return_type = "TfoKeys")]
pub fn tfo_keys(
    main: &MainKey,
    #[wasm_bindgen(unchecked_optional_param_type = "number")] interval: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
) -> JsResult<Object> {
    let keys = kw::TfoKeys::new(&main.0, &tfo_slot(&interval, &now)?);
    Ok(tfo_object(&keys))
}

/// A `TfoKeys` object.
fn tfo_object(keys: &kw::TfoKeys) -> Object {
    let obj = Object::new();
    put(&obj, "primary", to_js(keys.primary()));
    put(&obj, "backup", to_js(keys.backup()));
    // Decoded by JavaScript straight from the text's buffer, which is wiped on drop.
    put(
        &obj,
        "procfsText",
        JsValue::from_str(keys.procfs_text().as_str()),
    );
    obj
}

/// The public 8-byte fingerprint of one 16-byte TCP Fast Open key (e.g. `tfoKeys(...).primary`):
/// nodes whose primary keys have the same fingerprint accept each other's cookies.
#[wasm_bindgen(js_name = tfoKeyFingerprint, unchecked_return_type = "Uint8Array")]
pub fn tfo_key_fingerprint(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] key: JsValue,
) -> JsResult<JsValue> {
    let array = bytes(&key, "TFO key")?;
    let mut buf = Zeroizing::new([0u8; kw::TFO_KEY_LEN]);
    copy_in(array, &mut buf[..]);
    if array.length() as usize != kw::TFO_KEY_LEN {
        return Err(naming_error(
            "TFO key is ",
            "",
            &num(u64::from(array.length())),
            " bytes; it must be 16 bytes",
            "",
        ));
    }
    Ok(to_js(&kw::tfo_key_fingerprint(&buf)))
}

// ---------------------------------------------------------------------------------------------
// Session-ticket keys

/// The session-ticket keys of one label (a service or cluster name, 1..=64 bytes of UTF-8) in
/// one strength and rotation schedule: `interval` (even, 10..=604800 s) and `keep`, how many
/// previous keys stay accepted ((keep + 1) × interval ≤ 604800, RFC 8446's 7 days). It holds
/// the label's key (derived from the main key) in wasm memory, wiped by `free()`.
#[wasm_bindgen]
pub struct TicketKeys(kw::TicketKeys);

#[wasm_bindgen]
impl TicketKeys {
    /// The keys of `label` under `main` in `strength` ("aes256" or "aes128"), rotated every
    /// `interval` seconds, with `keep` previous keys accepted (default 1).
    #[wasm_bindgen(constructor)]
    pub fn new(
        main: &MainKey,
        #[wasm_bindgen(unchecked_param_type = "string")] label: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Strength")] strength: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] interval: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] keep: JsValue,
    ) -> JsResult<TicketKeys> {
        let args = TicketArgs::parse(&label, &strength, &interval, &keep)?;
        kw::TicketKeys::new(&main.0, args.text(), args.strength, args.schedule)
            .map(TicketKeys)
            .map_err(error)
    }

    /// The keys of `label` in forward-secure mode from `state` (SPEC.md section 6): the same
    /// object as `new TicketKeys(main, ...)`, names, keys and every format as in main-key mode.
    /// It keeps its own copy of the state (wiped by `free()`), advanced to the start of the
    /// oldest key accepted at `now` (default: now), so it derives no older key; `advance`
    /// moves it on. `state` stays the caller's.
    #[wasm_bindgen(js_name = fromState)]
    pub fn from_state(
        state: &State,
        #[wasm_bindgen(unchecked_param_type = "string")] label: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Strength")] strength: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] interval: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] keep: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<TicketKeys> {
        let args = TicketArgs::parse(&label, &strength, &interval, &keep)?;
        let now = time(&now)?;
        let keys =
            kw::TicketKeys::from_state(&state.0, args.text(), args.strength, args.schedule, now);
        kw::scrub_stack();
        keys.map(TicketKeys).map_err(state_error)
    }

    /// Forward-secure mode: punctures this object's copy of the state up to the start of the
    /// oldest key accepted at `now` (default: now; the nodes it replaces are wiped), after
    /// checking that every key accepted at `now` can be derived. Main-key mode: checks `now`.
    pub fn advance(
        &mut self,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<()> {
        let now = time(&now)?;
        let done = self.0.advance(now);
        kw::scrub_stack();
        done.map_err(state_error)
    }

    /// Forward-secure mode: the start of this object's copy of the state (unix seconds);
    /// `undefined` in main-key mode.
    #[wasm_bindgen(getter = stateStart, unchecked_return_type = "number | undefined")]
    pub fn state_start(&self) -> JsValue {
        match self.0.state_start() {
            Some((s0, _)) => num(s0),
            None => JsValue::UNDEFINED,
        }
    }

    fn slot_at(&self, now: &JsValue) -> JsResult<kw::ticket::TicketSlot> {
        self.0.slot(time(now)?).map_err(error)
    }

    /// The ticket window at unix time `now` (default: now).
    #[wasm_bindgen(unchecked_return_type = "TicketSlot")]
    pub fn slot(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Object> {
        let slot = self.slot_at(&now)?;
        let schedule = self.0.schedule();
        let obj = Object::new();
        put_num(&obj, "now", slot.now());
        put_num(&obj, "interval", schedule.interval());
        put_num(&obj, "keep", slot.keep());
        put_num(&obj, "maxTicketAge", schedule.max_ticket_age());
        put(&obj, "current", slot.current().into());
        put_num(&obj, "nextRotation", slot.next_rotation());
        let window = Array::new();
        for (c, r) in slot.window() {
            let entry = Object::new();
            put(&entry, "counter", c.into());
            role(&entry, r);
            window.push(&entry);
        }
        put(&obj, "window", window.into());
        Ok(obj)
    }

    /// The key that encrypts new tickets at unix time `now` (default: now).
    #[wasm_bindgen(unchecked_return_type = "TicketKey")]
    pub fn current(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Object> {
        let key = self.0.current(time(&now)?);
        self.scrub();
        Ok(ticket_key(&key.map_err(error)?))
    }

    /// The key of interval `counter` (any counter, in the window or not).
    #[wasm_bindgen(js_name = byCounter, unchecked_return_type = "TicketKey")]
    pub fn by_counter(
        &self,
        #[wasm_bindgen(unchecked_param_type = "bigint | number")] counter: JsValue,
    ) -> JsResult<Object> {
        let c = self::counter(&counter, "counter")?;
        let key = self.0.by_counter(c);
        self.scrub();
        Ok(ticket_key(&key.map_err(error)?))
    }

    /// The Go crypto/tls / Caddy session-ticket seed (32 bytes) of interval `counter`.
    #[wasm_bindgen(js_name = goSeed, unchecked_return_type = "Uint8Array")]
    pub fn go_seed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "bigint | number")] counter: JsValue,
    ) -> JsResult<JsValue> {
        let seed = self.0.go_seed(self::counter(&counter, "counter")?);
        self.scrub();
        Ok(to_js(seed.map_err(error)?.bytes()))
    }

    /// Looks a ticket's 16-byte key name up among the keys accepted at unix time `now`
    /// (default: now). A name of another length is never found.
    #[wasm_bindgen(unchecked_return_type = "Lookup")]
    pub fn lookup(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] name: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Object> {
        // Names are public; one byte more than a name is enough to tell a longer one.
        let mut buf = [0u8; kw::TICKET_NAME_LEN + 1];
        let n = copy_in(bytes(&name, "name")?, &mut buf[..]);
        let now = time(&now)?;
        let obj = Object::new();
        let name = buf.get(..n).unwrap_or_default();
        // The key stays where lookup put it (wiped when dropped), not moved around.
        let found = self.0.lookup(name, now);
        self.scrub();
        let found = found.map_err(error)?;
        let (key, r) = match &found {
            kw::Lookup::Current(key) => (Some(key), kw::Role::Current),
            kw::Lookup::Accepted(key, r) => (Some(key), *r),
            kw::Lookup::NotFound => (None, kw::Role::Current),
        };
        put(&obj, "kind", found.as_str().into());
        if let Some(key) = key {
            put(&obj, "key", ticket_key(key).into());
            role(&obj, r);
        }
        Ok(obj)
    }

    /// The key file of `format` at unix time `now` (default: now): every key the format holds,
    /// in its order — for nginx, which takes one key per file, the files concatenated (file i
    /// is bytes i × 80 (or 48) to (i + 1) × 80). The key's strength must be the format's.
    pub fn render(
        &self,
        #[wasm_bindgen(unchecked_param_type = "FormatName")] format: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Uint8Array> {
        self.render_with(&format, &[], &now)
    }

    /// Main-key rollover (SPEC.md §5.2): `render(format, now)`, then, for formats that hold any
    /// number of keys (nginx, nginx48, ats), the same window of `decryptOnly` (the
    /// `TicketKeys` of the same label under the previous or the next main key) as decrypt-only
    /// keys. Other formats get this object's keys alone.
    #[wasm_bindgen(js_name = renderRollover)]
    pub fn render_rollover(
        &self,
        #[wasm_bindgen(unchecked_param_type = "FormatName")] format: JsValue,
        #[wasm_bindgen(js_name = decryptOnly)] decrypt_only: &TicketKeys,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Uint8Array> {
        self.render_with(&format, &[&decrypt_only.0], &now)
    }
}

/// The label, strength and schedule arguments of `new TicketKeys` and `TicketKeys.fromState`,
/// checked in the order of the spec: label, interval, keep (then the strength's name).
struct TicketArgs {
    label: [u8; kw::MAX_LABEL_LEN + 1],
    len: usize,
    strength: kw::Strength,
    schedule: TicketSchedule,
}

impl TicketArgs {
    fn parse(
        label: &JsValue,
        strength: &JsValue,
        interval: &JsValue,
        keep: &JsValue,
    ) -> JsResult<TicketArgs> {
        // One byte more than the longest label, enough to tell a longer one.
        let mut buf = [0u8; kw::MAX_LABEL_LEN + 1];
        let len = utf8(label, "label", &mut buf)?;
        if !(1..=kw::MAX_LABEL_LEN).contains(&len) {
            return Err(error(kw::Error::LabelLength { len }));
        }
        let i = self::interval(interval)?;
        let k = if keep.is_undefined() {
            1
        } else {
            // The interval is checked before keep, as the core does.
            TicketSchedule::new(i, 0).map_err(error)?;
            // The interval is at least 10 here: checked_div only spares a panic path.
            let max = kw::MAX_TICKET_AGE
                .checked_div(i)
                .unwrap_or(1)
                .saturating_sub(1);
            uint_ending(keep, "keep", "in 0..=", Some(&num(max)))?
        };
        let schedule = TicketSchedule::new(i, k).map_err(error)?;
        let names = kw::Strength::ALL.map(kw::Strength::as_str);
        let index = name_index(strength, "strength", &names)?;
        let Some(&strength_value) = index.and_then(|i| kw::Strength::ALL.get(i)) else {
            return Err(unknown_name(
                "strength ",
                strength,
                "",
                &names,
                "\" or \"",
                "\"",
            ));
        };
        Ok(TicketArgs {
            label: buf,
            len,
            strength: strength_value,
            schedule,
        })
    }

    /// The label (1..=64 bytes of a string's UTF-8: valid).
    fn text(&self) -> &str {
        self.label
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl TicketKeys {
    /// The key file of `format` at `now`, with the windows of `decrypt_only` appended where
    /// the format takes them.
    fn render_with(
        &self,
        format: &JsValue,
        decrypt_only: &[&kw::TicketKeys],
        now: &JsValue,
    ) -> JsResult<Uint8Array> {
        let format = format_arg(format)?;
        let now = time(now)?;
        let len = self
            .0
            .rollover_len(format, decrypt_only.len())
            .map_err(error)?;
        self.0.slot(now).map_err(error)?;
        // One key at a time: each record is rendered into a buffer on the stack (wiped when
        // dropped) and copied into the JavaScript array, so no copy of the whole content is
        // left in wasm memory. At most 3 × (60479 + 2) × 109 bytes: a u32.
        #[allow(clippy::cast_possible_truncation)]
        let file = Uint8Array::with_length(len as u32);
        let mut record = Zeroizing::new([0u8; 128]);
        let mut offset = 0;
        for (_, key) in self
            .0
            .rollover_keys(format, now, decrypt_only)
            .map_err(error)?
        {
            let n = format.render_key(&key, &mut record[..]).map_err(error)?;
            file.set_at(record.get(..n).unwrap_or_default(), offset);
            // A record is at most 109 bytes.
            #[allow(clippy::cast_possible_truncation)]
            {
                offset += n as u32;
            }
        }
        self.scrub();
        Ok(file)
    }

    /// Forward-secure mode: overwrites the stack the core used (node values, leaves, keys).
    fn scrub(&self) {
        if self.0.state_start().is_some() {
            kw::scrub_stack();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Forward-secure mode

/// A forward-secure error as an `Error` carrying the core's message.
fn state_error(e: kw::StateError) -> JsValue {
    let mut m = Message(JsValue::from_str(""));
    // Appending to a string cannot fail.
    let _ = core::fmt::write(&mut m, format_args!("{e}"));
    JsErrorValue::new(&m.0).into()
}

/// A second of the forward-secure tree (the core checks that it is below 2^40).
fn tree_time(value: &JsValue) -> JsResult<u64> {
    uint(value, "time", "in 0..=1099511627775")
}

/// A forward-secure state (SPEC.md section 6): the tree nodes covering the unix seconds from
/// its start `s0` on, and nothing that derives an earlier second. Its nodes live in wasm
/// memory, wiped when `advance` replaces them and by `free()` (or garbage collection).
#[wasm_bindgen]
pub struct State(kw::State);

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

/// The format called by the string `value`; an `Error` listing the core's names otherwise.
fn format_arg(value: &JsValue) -> JsResult<kw::Format> {
    if !value.is_string() {
        return Err(type_error("format", " must be a string, not ", value));
    }
    let found = kw::FORMATS
        .iter()
        .find(|f| *value == JsValue::from_str(f.name()));
    if let Some(&format) = found {
        return Ok(format);
    }
    let mut names = [""; kw::FORMATS.len()];
    for (n, f) in names.iter_mut().zip(&kw::FORMATS) {
        *n = f.name();
    }
    Err(unknown_name("format ", value, "one of ", &names, ", ", ""))
}

/// `Error: <what><"value"> is unknown; it must be <lead><names joined by sep, in quote>`.
fn unknown_name(
    what: &str,
    value: &JsValue,
    lead: &str,
    names: &[&str],
    sep: &str,
    quote: &str,
) -> JsValue {
    let message = concat(
        what,
        "",
        &json_quote(value),
        " is unknown; it must be ",
        lead,
    );
    let mut message = message;
    for (i, name) in names.iter().enumerate() {
        let before = if i == 0 { quote } else { sep };
        message = concat("", "", &message, before, name);
    }
    JsErrorValue::new(&concat("", "", &message, quote, "")).into()
}

/// The names of the server formats, from the core's table: "nginx", "nginx48", ...
#[wasm_bindgen(unchecked_return_type = "FormatName[]")]
pub fn formats() -> JsValue {
    let names = Array::new();
    for f in &kw::FORMATS {
        names.push(&JsValue::from_str(f.name()));
    }
    names.into()
}

/// The length of one record of `format`: 80 or 48 raw bytes, or a base64 line with its newline
/// (109 or 65) for HAProxy. For nginx, which takes one key per file, file i of
/// `TicketKeys.render` is record i.
#[wasm_bindgen(js_name = formatRecordLen)]
pub fn format_record_len(
    #[wasm_bindgen(unchecked_param_type = "FormatName")] format: JsValue,
) -> JsResult<u32> {
    // At most 109.
    #[allow(clippy::cast_possible_truncation)]
    Ok(format_arg(&format)?.record_len() as u32)
}
