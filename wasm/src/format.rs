//! Server formats: `formats`, `formatRecordLen`, and format arguments by name.

use keywheel as kw;
use wasm_bindgen::prelude::*;

use crate::js::JsResult;
use crate::js::{Array, JsErrorValue, concat, json_quote, type_error};

/// The format called by the string `value`; an `Error` listing the core's names otherwise.
pub(crate) fn format_arg(value: &JsValue) -> JsResult<kw::Format> {
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
pub(crate) fn unknown_name(
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
