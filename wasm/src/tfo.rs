//! TCP Fast Open: `scheduleAt`, `tfoKeys`, `tfoKeyFingerprint`.

use keywheel as kw;
use keywheel::schedule::{Schedule, Slot};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::js::JsResult;
use crate::js::{
    Array, Object, TextDecoder, bytes, copy_in, error, interval, naming_error, num, put, put_num,
    time, to_js,
};
use crate::main_key::MainKey;

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

pub(crate) fn tfo_slot(interval: &JsValue, now: &JsValue) -> JsResult<Slot> {
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
pub(crate) fn tfo_object(keys: &kw::TfoKeys) -> Object {
    let obj = Object::new();
    put(&obj, "primary", to_js(keys.primary()));
    put(&obj, "backup", to_js(keys.backup()));
    // Decoded by JavaScript straight from the text's buffer, which is wiped on drop.
    put(
        &obj,
        "procfsText",
        TextDecoder::new().decode(keys.procfs_text().as_bytes()),
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
