//! TCP Fast Open: `scheduleAt`, `tfoKeys`, `tfoKeyFingerprint`.

use keywheel as kw;
use keywheel::schedule::Schedule;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::io::{Io, Put, ok, read};
use crate::objects::{Object, get, table};

/// Checks a TFO interval (the core's message if refused).
#[wasm_bindgen]
pub fn schedule_check(interval: u64) -> bool {
    ok(Schedule::new(interval)).is_some()
}

/// Writes the TFO slot at `now`: now, primary, backup, next wake, wake seconds, nanoseconds.
#[wasm_bindgen]
pub fn schedule_at(interval: u64, now: u64) -> bool {
    let Some(slot) = ok(Schedule::new(interval).and_then(|s| s.at(now))) else {
        return false;
    };
    let mut w = Io(0);
    w.u64(slot.now());
    w.u64(slot.primary());
    w.u64(slot.backup());
    w.u64(slot.next_wake());
    let (secs, nanos) = slot.wake_time();
    w.u64(secs);
    w.u64(nanos.into());
    true
}

/// Writes tofurkey's keys at `now`: primary, backup, procfs text.
#[wasm_bindgen]
pub fn tfo_keys(main: u32, interval: u64, now: u64) -> bool {
    let table = table();
    let Some(Object::MainKey(key)) = get(&table, main) else {
        return false;
    };
    let Some(slot) = ok(Schedule::new(interval).and_then(|s| s.at(now))) else {
        return false;
    };
    put_tfo_keys(&kw::TfoKeys::new(key, &slot));
    true
}

/// Writes TFO keys into the buffer.
pub(crate) fn put_tfo_keys(keys: &kw::TfoKeys) {
    let mut w = Io(0);
    w.bytes(keys.primary());
    w.bytes(keys.backup());
    w.bytes(keys.procfs_text().as_bytes());
}

/// Writes the fingerprint of the 16-byte TFO key in the buffer.
#[wasm_bindgen]
pub fn tfo_key_fingerprint() {
    let mut key = Zeroizing::new([0u8; kw::TFO_KEY_LEN]);
    read(&mut key[..]);
    Io(0).put(&kw::tfo_key_fingerprint(&key));
}
