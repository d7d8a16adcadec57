//! Argument conversion: Python objects to the core's types, with `TypeError` for wrong types.

use keywheel as kw;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyInt, PyString};
use zeroize::Zeroizing;

use crate::KeywheelError;

/// The name of an object's type, for `TypeError` messages.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// An `int` argument (not a `bool`) that fits in a `u64`; `out_of_range` makes the message of a
/// `KeywheelError` from the value's text when it does not (negative or too large).
pub(crate) fn u64_arg(
    obj: &Bound<'_, PyAny>,
    what: &str,
    out_of_range: impl FnOnce(&str) -> String,
) -> PyResult<u64> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an int, not {}",
            type_name(obj)
        )));
    }
    match obj.extract::<u64>() {
        Ok(v) => Ok(v),
        Err(_) => Err(KeywheelError::new_err(out_of_range(&obj.str()?.to_cow()?))),
    }
}

/// A unix time in seconds.
pub(crate) fn time_arg(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    u64_arg(obj, "time", |v| {
        format!(
            "time {v} is out of range; it must be in {}..={}",
            kw::MIN_TIME,
            kw::MAX_TIME
        )
    })
}

/// An interval in seconds.
pub(crate) fn interval_arg(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    u64_arg(obj, "interval", |v| {
        format!(
            "interval {v} is out of range; it must be even and in {}..={}",
            kw::MIN_INTERVAL,
            kw::MAX_INTERVAL
        )
    })
}

/// An unsigned 64-bit counter (KDF subkey id or interval counter).
pub(crate) fn counter_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    u64_arg(obj, what, |v| {
        format!("{what} {v} is out of range; it must be in 0..={}", u64::MAX)
    })
}

/// Runs `f` on the bytes of a `bytes` or `bytearray` argument. A `bytearray` (mutable, so it
/// cannot be borrowed safely) is copied into a buffer that is wiped afterwards.
pub(crate) fn with_bytes<R>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    f: impl FnOnce(&[u8]) -> PyResult<R>,
) -> PyResult<R> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return f(b.as_bytes());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        let copy = Zeroizing::new(b.to_vec());
        return f(&copy);
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be bytes or bytearray, not {}",
        type_name(obj)
    )))
}

/// A `str` argument.
pub(crate) fn str_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    let s = obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be a str, not {}", type_name(obj)))
    })?;
    match s.to_cow() {
        Ok(c) => Ok(c.into_owned()),
        Err(_) => Err(KeywheelError::new_err(format!(
            "{what} {} is not valid UTF-8 (it holds a lone surrogate)",
            repr(obj)?
        ))),
    }
}

/// Python's `repr()` of an object, for messages.
pub(crate) fn repr(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(obj.repr()?.to_cow()?.into_owned())
}

pub(crate) fn strength_arg(obj: &Bound<'_, PyAny>) -> PyResult<kw::Strength> {
    let name = str_arg(obj, "strength")?;
    kw::Strength::from_name(&name).ok_or_else(|| {
        let names: Vec<String> = kw::Strength::ALL
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        match repr(obj) {
            Ok(r) => KeywheelError::new_err(format!(
                "strength {r} is unknown; it must be {}",
                names.join(" or ")
            )),
            Err(e) => e,
        }
    })
}

pub(crate) fn format_arg(obj: &Bound<'_, PyAny>) -> PyResult<kw::Format> {
    let name = str_arg(obj, "format")?;
    match kw::Format::from_name(&name) {
        Some(f) => Ok(f),
        None => Err(KeywheelError::new_err(format!(
            "format {} is unknown; it must be one of {}",
            repr(obj)?,
            format_names().join(", ")
        ))),
    }
}

/// The names of the formats, from the core's table.
pub(crate) fn format_names() -> Vec<&'static str> {
    kw::FORMATS.iter().map(|f| f.name()).collect()
}

/// `now`, or the current unix time when `None`.
pub(crate) fn now_arg(now: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    match now {
        Some(now) => time_arg(now),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())),
    }
}
