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
//! - Size: the npm package's .wasm must stay small (build.sh checks ≤ 24 KB), hence a small
//!   allocator, no js-sys, no `format!` and few exports.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use core::fmt::Write as _;

use keywheel as kw;
use wasm_bindgen::JsCast;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** A ticket-key strength: AES-256-CBC with a 32-byte HMAC-SHA256 key (80-byte records), or AES-128-CBC with a 16-byte HMAC key (48-byte records). */
export type Strength = "aes256" | "aes128";
/** A server's ticket-key format. */
export type FormatName = "nginx" | "nginx48" | "haproxy" | "haproxy48" | "apache" | "ats" | "openssl";
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
    /// `String.prototype.concat.call(a, b, c, d, e)`: the five as strings, joined; how messages
    /// name a bad value (never a symbol here, which has no string form).
    #[wasm_bindgen(js_namespace = ["String", "prototype", "concat"], js_name = call)]
    fn concat(a: &JsValue, b: &JsValue, c: &JsValue, d: &JsValue, e: &JsValue) -> JsValue;

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

    /// `String.fromCharCode.apply(null, codes)`: the text of ASCII bytes (read by JavaScript
    /// straight from wasm memory).
    #[wasm_bindgen(js_namespace = ["String", "fromCharCode"], js_name = apply)]
    fn ascii_text(this: &JsValue, codes: &[u8]) -> JsValue;

    /// A `TypeError`.
    #[wasm_bindgen(js_name = TypeError)]
    type JsTypeError;
    #[wasm_bindgen(constructor, js_class = "TypeError")]
    fn new(message: &JsValue) -> JsTypeError;

    /// A byte array (a Node `Buffer` is one).
    #[wasm_bindgen(js_name = Uint8Array, typescript_type = "Uint8Array")]
    pub type Uint8Array;
    /// A new array holding a copy of `data` (copied by JavaScript out of wasm memory).
    #[wasm_bindgen(constructor, js_class = "Uint8Array")]
    fn new(data: &[u8]) -> Uint8Array;
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

/// A small allocator (std's dlmalloc is several KB bigger).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

type JsResult<T> = Result<T, JsValue>;

/// An `Error` with `message`.
fn value_error(message: &str) -> JsValue {
    JsError::new(message).into()
}

/// An `Error` with the message of `args`.
fn message_error(args: core::fmt::Arguments<'_>) -> JsValue {
    let mut m = String::new();
    // Writing to a String cannot fail.
    let _ = m.write_fmt(args);
    value_error(&m)
}

/// The core's error as an `Error` carrying the core's message.
fn error(e: kw::Error) -> JsValue {
    message_error(format_args!("{e}"))
}

/// An `Error` whose message is the five parts joined (`parts[2]` is the bad value).
fn naming_error(what: &str, sep: &str, value: &JsValue, problem: &str, rule: &JsValue) -> JsValue {
    JsErrorValue::new(&concat(
        &what.into(),
        &sep.into(),
        value,
        &problem.into(),
        rule,
    ))
    .into()
}

/// `TypeError: <what> must be <expected>, not <typeof value>`.
fn type_error(what: &str, expected: &str, value: &JsValue) -> JsValue {
    let kind = if value.is_null() {
        JsValue::from_str("null")
    } else {
        value.js_typeof()
    };
    JsTypeError::new(&concat(
        &what.into(),
        &" must be ".into(),
        &expected.into(),
        &", not ".into(),
        &kind,
    ))
    .into()
}

/// The largest integer a `number` holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// An unsigned 64-bit integer argument: a `bigint` in 0..=2^64-1 or a `number` that is a safe
/// integer (in 0..=2^53-1: a bigger `number` may not be the integer the caller wrote). Other
/// values get an `Error` naming them that ends with "it must be <rule>"; the range of a valid
/// u64 is left to the core, so that its message is the one every binding gives.
fn uint(value: &JsValue, what: &str, rule: &JsValue) -> JsResult<u64> {
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
        return Err(type_error(what, "a number or a bigint", value));
    };
    Err(naming_error(what, " ", value, problem, rule))
}

/// A counter or subkey id.
fn counter(value: &JsValue, what: &str) -> JsResult<u64> {
    uint(
        value,
        what,
        &"in 0..=18446744073709551615 (above 2^53 - 1 as a bigint)".into(),
    )
}

/// A unix time in seconds; `undefined` means now (`Date.now()`, rounded down to a second).
fn time(value: &JsValue) -> JsResult<u64> {
    if value.is_undefined() {
        // Date.now() is a positive integer far below 2^53: the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Ok((date_now() / 1000.0) as u64);
    }
    uint(value, "time", &"in 1000000..=100000000000".into())
}

/// An interval in seconds (the core checks its range).
fn interval(value: &JsValue) -> JsResult<u64> {
    uint(value, "interval", &"even and in 10..=604800".into())
}

/// A string argument. A string with a lone surrogate has no UTF-8 form (it would silently
/// become U+FFFD), so it is refused.
fn string(value: &JsValue, what: &str) -> JsResult<String> {
    let Some(s) = value.as_string() else {
        return Err(type_error(what, "a string", value));
    };
    if !is_well_formed(value) {
        return Err(naming_error(
            what,
            " ",
            &json_quote(value),
            " is not valid Unicode (it holds a lone surrogate)",
            &"".into(),
        ));
    }
    Ok(s)
}

/// Whether the string argument `value` is `name` (a `TypeError` when it is no string).
fn string_is(value: &JsValue, what: &str, name: &str) -> JsResult<bool> {
    if !value.is_string() {
        return Err(type_error(what, "a string", value));
    }
    Ok(*value == JsValue::from_str(name))
}

/// A `Uint8Array` argument.
fn bytes<'a>(value: &'a JsValue, what: &str) -> JsResult<&'a Uint8Array> {
    value
        .dyn_ref::<Uint8Array>()
        .ok_or_else(|| type_error(what, "a Uint8Array", value))
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
    Uint8Array::new(data).into()
}

/// A `number` of a u64 that is far below 2^53 (times, intervals, `keep`).
fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// Role names.
fn role(obj: &Object, role: kw::Role) {
    let (name, age) = match role {
        kw::Role::Current => ("current", None),
        kw::Role::Next => ("next", None),
        kw::Role::Previous(n) => ("previous", Some(n)),
    };
    set(obj, "role", &name.into());
    if let Some(n) = age {
        set(obj, "age", &num(n));
    }
}

fn strength_name(s: kw::Strength) -> &'static str {
    match s {
        kw::Strength::Aes256 => "aes256",
        kw::Strength::Aes128 => "aes128",
    }
}

/// A `TicketKey` object; the key's own copy is wiped when `key` is dropped.
fn ticket_key(key: &kw::TicketKey) -> Object {
    let obj = Object::new();
    set(&obj, "strength", &strength_name(key.strength()).into());
    set(&obj, "counter", &key.counter().into());
    set(&obj, "name", &to_js(key.name()));
    set(&obj, "aesKey", &to_js(key.aes_key()));
    set(&obj, "hmacKey", &to_js(key.hmac_key()));
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
        let s = string(&context, "context")?;
        let b = s.as_bytes();
        if let Some(dst) = ctx.get_mut(..b.len()) {
            dst.copy_from_slice(b);
        }
        b.len()
    } else {
        let a = bytes(&context, "context")
            .map_err(|_| type_error("context", "a Uint8Array or a string", &context))?;
        copy_in(a, &mut ctx[..]).max(a.length() as usize)
    };
    let context = match ctx.first_chunk::<{ kw::CONTEXT_LEN }>() {
        Some(c) if ctx_len == kw::CONTEXT_LEN => c,
        _ => {
            return Err(message_error(format_args!(
                "context is {ctx_len} bytes; it must be 8 bytes"
            )));
        }
    };
    let id = counter(&subkey_id, "subkey id")?;
    let rule = JsValue::from_str("in 16..=64");
    let len = uint(&length, "output length", &rule)?;
    let mut buf = Zeroizing::new([0u8; kw::DERIVE_MAX_LEN]);
    let Ok(len) = usize::try_from(len) else {
        // Beyond any buffer (on wasm32, 4 GiB): the core's message, for a value it cannot see.
        return Err(naming_error(
            "output length",
            " ",
            &length,
            " is out of range; it must be ",
            &rule,
        ));
    };
    // A length the buffer cannot hold is out of the core's range: the core's error says so.
    let out = buf
        .get_mut(..len)
        .ok_or_else(|| error(kw::Error::OutputLength { len }))?;
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
    set(&obj, "now", &num(slot.now));
    set(&obj, "primary", &slot.primary.into());
    set(&obj, "backup", &slot.backup.into());
    set(&obj, "nextWake", &num(slot.next_wake));
    let (secs, nanos) = slot.wake_time();
    let wake = Array::new();
    wake.push(&num(secs));
    wake.push(&nanos.into());
    set(&obj, "wakeTime", &wake);
    Ok(obj)
}

fn tfo_slot(interval: &JsValue, now: &JsValue) -> JsResult<kw::Slot> {
    let i = if interval.is_undefined() {
        kw::DEFAULT_INTERVAL
    } else {
        self::interval(interval)?
    };
    let schedule = kw::Schedule::new(i).map_err(error)?;
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
    let keys = kw::TfoKeys::for_slot(&main.0, &tfo_slot(&interval, &now)?);
    let obj = Object::new();
    set(&obj, "primary", &to_js(keys.primary()));
    set(&obj, "backup", &to_js(keys.backup()));
    // Decoded by JavaScript straight from the text's buffer, which is wiped on drop.
    set(
        &obj,
        "procfsText",
        &ascii_text(&JsValue::NULL, keys.procfs_text().as_bytes()),
    );
    Ok(obj)
}

// ---------------------------------------------------------------------------------------------
// Session-ticket keys

/// The session-ticket keys of one label (a service or cluster name, 1..=64 bytes of UTF-8) in
/// one strength and rotation schedule: `interval` (even, 10..=604800 s) and `keep`, how many
/// previous keys stay accepted ((keep + 1) × interval ≤ 604800, RFC 8446's 7 days). It holds
/// the label's key (derived from the main key) in wasm memory, wiped by `free()`.
#[wasm_bindgen]
pub struct TicketKeys {
    label: kw::LabelKey,
    schedule: kw::TicketSchedule,
    strength: kw::Strength,
}

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
        // In the order of the spec: label, interval, keep (then the strength's name).
        let label = kw::LabelKey::new(&main.0, &string(&label, "label")?).map_err(error)?;
        let i = self::interval(&interval)?;
        let k = if keep.is_undefined() {
            1
        } else {
            // The interval is checked before keep, as the core does.
            kw::TicketSchedule::new(i, 0).map_err(error)?;
            let max = num((kw::MAX_TICKET_AGE / i).saturating_sub(1));
            let e = JsValue::from_str("");
            uint(&keep, "keep", &concat(&"in 0..=".into(), &max, &e, &e, &e))?
        };
        let schedule = kw::TicketSchedule::new(i, k).map_err(error)?;
        let strength = if string_is(&strength, "strength", "aes256")? {
            kw::Strength::Aes256
        } else if string_is(&strength, "strength", "aes128")? {
            kw::Strength::Aes128
        } else {
            return Err(naming_error(
                "strength ",
                "",
                &json_quote(&strength),
                " is unknown; it must be \"aes256\" or \"aes128\"",
                &"".into(),
            ));
        };
        Ok(TicketKeys {
            label,
            schedule,
            strength,
        })
    }

    fn slot_at(&self, now: &JsValue) -> JsResult<kw::TicketSlot> {
        self.schedule.at(time(now)?).map_err(error)
    }

    /// The ticket window at unix time `now` (default: now).
    #[wasm_bindgen(unchecked_return_type = "TicketSlot")]
    pub fn slot(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Object> {
        let slot = self.slot_at(&now)?;
        let obj = Object::new();
        set(&obj, "now", &num(slot.now));
        set(&obj, "interval", &num(self.schedule.interval()));
        set(&obj, "keep", &num(slot.keep));
        set(&obj, "maxTicketAge", &num(self.schedule.max_ticket_age()));
        set(&obj, "current", &slot.current.into());
        set(&obj, "nextRotation", &num(slot.next_rotation));
        let window = Array::new();
        for (c, r) in slot.window() {
            let entry = Object::new();
            set(&entry, "counter", &c.into());
            role(&entry, r);
            window.push(&entry);
        }
        set(&obj, "window", &window);
        Ok(obj)
    }

    /// The key that encrypts new tickets at unix time `now` (default: now).
    #[wasm_bindgen(unchecked_return_type = "TicketKey")]
    pub fn current(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Object> {
        let slot = self.slot_at(&now)?;
        Ok(ticket_key(
            &self.label.ticket_key(self.strength, slot.current),
        ))
    }

    /// The key of interval `counter` (any counter, in the window or not).
    #[wasm_bindgen(js_name = byCounter, unchecked_return_type = "TicketKey")]
    pub fn by_counter(
        &self,
        #[wasm_bindgen(unchecked_param_type = "bigint | number")] counter: JsValue,
    ) -> JsResult<Object> {
        let c = self::counter(&counter, "counter")?;
        Ok(ticket_key(&self.label.ticket_key(self.strength, c)))
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
        let slot = self.slot_at(&now)?;
        let obj = Object::new();
        let name = buf.get(..n).unwrap_or_default();
        let (kind, found) = match self.label.lookup(self.strength, &slot, name) {
            kw::Lookup::Current(key) => ("current", Some((key, kw::Role::Current))),
            kw::Lookup::Accepted(key, r) => ("accepted", Some((key, r))),
            kw::Lookup::NotFound => ("not_found", None),
        };
        set(&obj, "kind", &kind.into());
        if let Some((key, r)) = found {
            set(&obj, "key", &ticket_key(&key));
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
        let mut found = None;
        for (f, name) in kw::FORMATS.iter().zip(kw::Format::NAMES) {
            if string_is(&format, "format", name)? {
                found = Some(*f);
            }
        }
        let Some(format) = found else {
            return Err(naming_error(
                "format ",
                "",
                &json_quote(&format),
                " is unknown; it must be one of ",
                &"nginx, nginx48, haproxy, haproxy48, apache, ats, openssl".into(),
            ));
        };
        let slot = self.slot_at(&now)?;
        format.check_keep(slot.keep).map_err(error)?;
        if format.strength() != self.strength {
            return Err(error(kw::Error::FormatStrength {
                format: format.name(),
            }));
        }
        let mut buf = Zeroizing::new(vec![0u8; format.rendered_len(&slot)]);
        let n = format.render(&self.label, &slot, &mut buf).map_err(error)?;
        Ok(Uint8Array::new(buf.get(..n).unwrap_or_default()))
    }
}
