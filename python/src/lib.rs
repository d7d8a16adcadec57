//! Python bindings of keywheel: the private extension module `keywheel._keywheel`, re-exported
//! by the `keywheel` package (`python/python/keywheel/__init__.py`).
//!
//! Every computation is the core crate's; these files only convert arguments and results, one
//! file per part of the core (`main_key`, `tfo`, `ticket`, `ticket_keys`, `state`; `args` converts
//! arguments). Keys
//! are derived straight into Python `bytes` where the core writes into a caller's buffer, so no
//! Rust copy of them outlives the call. Errors of the core become `keywheel.KeywheelError`
//! (a `ValueError`) carrying the core's message; arguments of the wrong type raise `TypeError`.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::args::format_names;
use crate::main_key::MainKey;
use crate::state::State;
use crate::tfo::Schedule;
use crate::tfo::Slot;
use crate::tfo::TfoKeys;
use crate::ticket::Lookup;
use crate::ticket::Role;
use crate::ticket::TicketKey;
use crate::ticket::TicketSlot;
use crate::ticket_keys::TicketKeys;
use keywheel as kw;

mod args;
mod main_key;
mod state;
mod tfo;
mod ticket;
mod ticket_keys;

create_exception!(
    keywheel,
    KeywheelError,
    PyValueError,
    "An input keywheel refuses. The message names the bad value and the range it must be in,\n\
     e.g. \"interval 11 is odd; it must be even and in 10..=604800\"."
);

/// The core's error as a Python exception.
pub(crate) fn err(e: kw::Error) -> PyErr {
    KeywheelError::new_err(e.to_string())
}

/// Native part of the keywheel package; import ``keywheel`` instead.
#[pymodule]
fn _keywheel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("KeywheelError", py.get_type::<KeywheelError>())?;
    m.add_class::<MainKey>()?;
    m.add_function(wrap_pyfunction!(main_key::derive_key, m)?)?;
    m.add_class::<Schedule>()?;
    m.add_class::<Slot>()?;
    m.add_class::<TfoKeys>()?;
    m.add_function(wrap_pyfunction!(tfo::tfo_keys, m)?)?;
    m.add_function(wrap_pyfunction!(tfo::tfo_key_fingerprint, m)?)?;
    m.add_class::<Role>()?;
    m.add_class::<TicketKeys>()?;
    m.add_class::<State>()?;
    m.add_class::<TicketKey>()?;
    m.add_class::<TicketSlot>()?;
    m.add_class::<Lookup>()?;
    m.add_function(wrap_pyfunction!(ticket::format_record_len, m)?)?;

    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAIN_KEY_LEN", kw::MAIN_KEY_LEN)?;
    m.add("CONTEXT_LEN", kw::CONTEXT_LEN)?;
    m.add("DERIVE_MIN_LEN", kw::DERIVE_MIN_LEN)?;
    m.add("DERIVE_MAX_LEN", kw::DERIVE_MAX_LEN)?;
    m.add("MIN_INTERVAL", kw::MIN_INTERVAL)?;
    m.add("MAX_INTERVAL", kw::MAX_INTERVAL)?;
    m.add("DEFAULT_INTERVAL", kw::DEFAULT_INTERVAL)?;
    m.add("MIN_TIME", kw::MIN_TIME)?;
    m.add("MAX_TIME", kw::MAX_TIME)?;
    m.add("TFO_CONTEXT", PyBytes::new(py, &kw::TFO_CONTEXT))?;
    m.add("TFO_KEY_LEN", kw::TFO_KEY_LEN)?;
    m.add("TICKET_NAME_LEN", kw::TICKET_NAME_LEN)?;
    m.add("MAX_LABEL_LEN", kw::MAX_LABEL_LEN)?;
    m.add("MAX_TICKET_AGE", kw::MAX_TICKET_AGE)?;
    m.add("FORMATS", PyTuple::new(py, format_names())?)?;
    m.add(
        "STRENGTHS",
        PyTuple::new(py, kw::Strength::ALL.map(kw::Strength::as_str))?,
    )?;
    m.add("FINGERPRINT_LEN", kw::FINGERPRINT_LEN)?;
    m.add("SEED_LEN", kw::FS_SEED_LEN)?;
    m.add("ROOT_ID_LEN", kw::FS_ROOT_ID_LEN)?;
    m.add("STATE_FILE_MAX_LEN", kw::STATE_FILE_MAX_LEN)?;
    m.add("TREE_END", kw::FS_END)?;
    Ok(())
}
