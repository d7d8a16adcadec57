//! The module's objects: main keys, ticket keys and forward-secure states, each boxed (so that
//! no secret is ever moved by the table growing) in one table, and known to JavaScript by a
//! handle, its index + 1 (0 is no object). js/keywheel.mjs frees them (`free()`, `using`, or
//! a `FinalizationRegistry` when a JavaScript object is garbage-collected); the core's types
//! wipe themselves on drop.

extern crate alloc;
use alloc::boxed::Box;
use alloc::vec::Vec;

use keywheel as kw;
use spin::{Mutex, MutexGuard};
use wasm_bindgen::prelude::*;

pub(crate) enum Object {
    MainKey(kw::MainKey),
    TicketKeys(kw::TicketKeys),
    State(kw::State),
}

/// The table. Each export takes the lock once, so it is never taken twice.
static OBJECTS: Mutex<Table> = Mutex::new(Vec::new());

pub(crate) type Table = Vec<Option<Box<Object>>>;

/// Adds `object` to the table, in the first free place; returns its handle.
pub(crate) fn add(object: Object) -> u32 {
    let object = Some(Box::new(object));
    let mut table = OBJECTS.lock();
    let index = table
        .iter()
        .position(Option::is_none)
        .unwrap_or(table.len());
    if index == table.len() {
        table.push(None);
    }
    if let Some(place) = table.get_mut(index) {
        *place = object;
    }
    // Far fewer than 2^32 objects fit in wasm32 memory.
    #[allow(clippy::cast_possible_truncation)]
    {
        index as u32 + 1
    }
}

/// Frees the object of `handle` (its secrets are wiped).
#[wasm_bindgen]
pub fn free(handle: u32) {
    if let Some(slot) = OBJECTS.lock().get_mut((handle as usize).wrapping_sub(1)) {
        *slot = None;
    }
}

/// The table, locked until the guard is dropped.
pub(crate) fn table() -> MutexGuard<'static, Table> {
    OBJECTS.lock()
}

/// The object of `handle`.
pub(crate) fn get(table: &Table, handle: u32) -> Option<&Object> {
    table.get((handle as usize).wrapping_sub(1))?.as_deref()
}

/// The object of `handle`, to change.
pub(crate) fn get_mut(table: &mut Table, handle: u32) -> Option<&mut Object> {
    table
        .get_mut((handle as usize).wrapping_sub(1))?
        .as_deref_mut()
}
