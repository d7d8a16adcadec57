//! The exchange buffer: JavaScript writes arguments into it and reads results and error
//! messages from it (js/keywheel.mjs), so that every export takes and returns numbers only.

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

use keywheel as kw;
use spin::Mutex;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

extern crate alloc;
use alloc::boxed::Box;

/// Bytes of the buffer: more than the longest argument (a state file, 1322 bytes with the one
/// byte that tells a longer one) and the longest result or message.
pub(crate) const IO_LEN: usize = 2048;

/// The buffer. Atomics because a static must be shareable and the crate has no `unsafe`; on
/// wasm32 without threads their loads and stores are plain byte loads and stores. JavaScript
/// wipes what it wrote or read after each call.
static IO: [AtomicU8; IO_LEN] = [const { AtomicU8::new(0) }; IO_LEN];

/// The address of the exchange buffer in wasm memory.
#[wasm_bindgen]
pub fn io() -> u32 {
    // wasm32: addresses are 32-bit.
    #[allow(clippy::cast_possible_truncation)]
    {
        IO.as_ptr() as usize as u32
    }
}

/// Copies the first bytes of the buffer into `buf` (as many as `buf` holds).
pub(crate) fn read(buf: &mut [u8]) {
    for (b, cell) in buf.iter_mut().zip(&IO) {
        *b = cell.load(Relaxed);
    }
}

/// A result written field by field: numbers as 8 bytes little-endian, byte strings and names
/// after a one-byte length.
pub(crate) trait Put {
    fn put(&mut self, data: &[u8]);

    fn u64(&mut self, n: u64) {
        self.put(&n.to_le_bytes());
    }

    /// `data` is at most 255 bytes (keys, names, role and strength names).
    fn bytes(&mut self, data: &[u8]) {
        // At most 80 bytes here.
        #[allow(clippy::cast_possible_truncation)]
        self.put(&[data.len() as u8]);
        self.put(data);
    }

    /// A ticket key: strength, counter, name, AES key, HMAC key.
    fn ticket_key(&mut self, key: &kw::TicketKey) {
        self.bytes(key.strength().as_str().as_bytes());
        self.u64(key.counter());
        self.bytes(key.name());
        self.bytes(key.aes_key());
        self.bytes(key.hmac_key());
    }

    /// A role: its number in [`ROLES`], then its age (0 for none: ages start at 1).
    fn role(&mut self, role: kw::Role) {
        let number = match role {
            kw::Role::Current => 0,
            kw::Role::Next => 1,
            kw::Role::Previous(_) => 2,
        };
        self.put(&[number]);
        self.u64(role.age().unwrap_or(0));
    }
}

/// The roles by number (their names are the core's, written by `names`).
pub(crate) const ROLES: [kw::Role; 3] = [kw::Role::Current, kw::Role::Next, kw::Role::Previous(1)];

/// Writes into the exchange buffer from offset `.0` on (what does not fit is dropped).
pub(crate) struct Io(pub(crate) usize);

impl Put for Io {
    fn put(&mut self, data: &[u8]) {
        for (cell, b) in IO.iter().skip(self.0).zip(data) {
            cell.store(*b, Relaxed);
        }
        self.0 += data.len();
    }
}

impl fmt::Write for Io {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes());
        Ok(())
    }
}

/// Writes into `.0` from offset `.1` on (what does not fit is dropped).
pub(crate) struct Cursor<'a>(pub(crate) &'a mut [u8], pub(crate) usize);

impl Put for Cursor<'_> {
    fn put(&mut self, data: &[u8]) {
        for (d, b) in self.0.iter_mut().skip(self.1).zip(data) {
            *d = *b;
        }
        self.1 += data.len();
    }
}

/// A result too long for the exchange buffer (a window, a key file), in wasm memory until
/// JavaScript has copied it and called `out_clear`, which wipes it.
static OUT: Mutex<Option<Zeroizing<Box<[u8]>>>> = Mutex::new(None);

/// Keeps `data` as the result and writes its address and length into the buffer.
pub(crate) fn out(data: Zeroizing<Box<[u8]>>) {
    let mut w = Io(0);
    w.u64(data.as_ptr() as usize as u64);
    w.u64(data.len() as u64);
    *OUT.lock() = Some(data);
}

/// Wipes and frees the result.
#[wasm_bindgen]
pub fn out_clear() {
    *OUT.lock() = None;
}

/// Writes an error message into the buffer: its length (4 bytes little-endian), then its text.
fn message(write: impl FnOnce(&mut Io) -> fmt::Result) {
    let mut w = Io(4);
    // Writing into the buffer cannot fail.
    let _ = write(&mut w);
    // At most IO_LEN.
    #[allow(clippy::cast_possible_truncation)]
    let len = (w.0.min(IO_LEN) - 4) as u32;
    Io(0).put(&len.to_le_bytes());
}

/// The core's error, for JavaScript to throw as an `Error` with the core's message.
pub(crate) fn error(e: kw::Error) {
    message(|w| e.write_message(w));
}

/// A forward-secure error, likewise.
pub(crate) fn state_error(e: kw::StateError) {
    message(|w| fmt::write(w, format_args!("{e}")));
}

/// `Some(value)`, or `None` with the error written into the buffer.
pub(crate) fn ok<T>(r: Result<T, kw::Error>) -> Option<T> {
    r.map_err(error).ok()
}

/// As [`ok`] for a forward-secure result.
pub(crate) fn state_ok<T>(r: Result<T, kw::StateError>) -> Option<T> {
    r.map_err(state_error).ok()
}
