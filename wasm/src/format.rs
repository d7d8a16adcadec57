//! The core's names: server formats (and their record lengths), strengths, roles.

use keywheel as kw;
use wasm_bindgen::prelude::*;

use crate::io::{Io, Put, ROLES};

/// Writes the names of the server formats (the core's table, each name followed by the
/// length of one record), of the strengths and of the roles, each list after its count.
#[wasm_bindgen]
pub fn names() {
    let mut w = Io(0);
    w.u64(kw::FORMATS.len() as u64);
    for f in &kw::FORMATS {
        w.bytes(f.name().as_bytes());
        w.u64(f.record_len() as u64);
    }
    w.u64(kw::Strength::ALL.len() as u64);
    for s in kw::Strength::ALL {
        w.bytes(s.as_str().as_bytes());
    }
    w.u64(ROLES.len() as u64);
    for r in ROLES {
        w.bytes(r.as_str().as_bytes());
    }
}
