//! `TicketKeys`: the one ticket API of the core, from a main key or a forward-secure state.

use keywheel as kw;
use keywheel::ticket::TicketSchedule;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

extern crate alloc;
use alloc::vec;

use crate::io::{Cursor, Io, Out, Put, error, ok, read, state_ok};
use crate::main_key::MainKey;
use crate::state::State;

/// The session-ticket keys of one label (js/keywheel.mjs: `TicketKeys`). It holds the label's
/// key, or a copy of a forward-secure state, in wasm memory, wiped by `free()`.
#[wasm_bindgen]
pub struct TicketKeys(pub(crate) kw::TicketKeys);

/// Checks a label's length in bytes (the core's message if refused).
#[wasm_bindgen]
pub fn label_check(len: usize) -> bool {
    if (1..=kw::MAX_LABEL_LEN).contains(&len) {
        return true;
    }
    error(kw::Error::LabelLength { len });
    false
}

/// Checks a ticket schedule (the core's message if refused).
#[wasm_bindgen]
pub fn ticket_schedule_check(interval: u64, keep: u64) -> bool {
    ok(TicketSchedule::new(interval, keep)).is_some()
}

/// The largest `keep` with `interval` (at least 10: checked first).
#[wasm_bindgen]
pub fn max_keep(interval: u64) -> u64 {
    kw::MAX_TICKET_AGE
        .checked_div(interval)
        .unwrap_or(1)
        .saturating_sub(1)
}

/// The strength number `strength` (of `names`) and the schedule of a new `TicketKeys`.
fn args(strength: usize, interval: u64, keep: u64) -> Option<(kw::Strength, TicketSchedule)> {
    Some((
        *kw::Strength::ALL.get(strength)?,
        ok(TicketSchedule::new(interval, keep))?,
    ))
}

/// `new TicketKeys(main, label, strength, interval, keep)`.
#[wasm_bindgen]
pub fn ticket_keys_new(
    main: &MainKey,
    label: &str,
    strength: usize,
    interval: u64,
    keep: u64,
) -> Option<TicketKeys> {
    let (strength, schedule) = args(strength, interval, keep)?;
    ok(kw::TicketKeys::new(&main.0, label, strength, schedule)).map(TicketKeys)
}

/// `TicketKeys.fromState(state, label, strength, interval, keep, now)`.
#[wasm_bindgen]
pub fn ticket_keys_from_state(
    state: &State,
    label: &str,
    strength: usize,
    interval: u64,
    keep: u64,
    now: u64,
) -> Option<TicketKeys> {
    let (strength, schedule) = args(strength, interval, keep)?;
    let keys = kw::TicketKeys::from_state(&state.0, label, strength, schedule, now);
    kw::scrub_stack();
    state_ok(keys).map(TicketKeys)
}

#[wasm_bindgen]
impl TicketKeys {
    /// Forward-secure mode: punctures the copy of the state up to the oldest key accepted at
    /// `now`; main-key mode: checks `now`.
    pub fn advance(&mut self, now: u64) -> bool {
        let done = self.0.advance(now);
        kw::scrub_stack();
        state_ok(done).is_some()
    }

    /// The start of the copy of the state; -1 in main-key mode.
    pub fn state_start(&self) -> f64 {
        // Below 2^40: exact.
        self.0.state_start().map_or(-1.0, |(s0, _)| s0 as f64)
    }

    /// The ticket window at `now`: now, interval, keep, max ticket age, current, next
    /// rotation, the number of keys, then each key's counter and role.
    pub fn slot(&self, now: u64) -> Option<Out> {
        let slot = ok(self.0.slot(now))?;
        let schedule = self.0.schedule();
        // 7 numbers, then per key a counter, a role name and an age.
        let count = slot.window().count();
        let keys: usize = slot.window().map(|(_, r)| 8 + 1 + r.as_str().len() + 8).sum();
        let mut out = Zeroizing::new(vec![0u8; 7 * 8 + keys]);
        let mut w = Cursor(&mut out[..], 0);
        w.u64(slot.now());
        w.u64(schedule.interval());
        w.u64(slot.keep());
        w.u64(schedule.max_ticket_age());
        w.u64(slot.current());
        w.u64(slot.next_rotation());
        w.u64(count as u64);
        for (counter, role) in slot.window() {
            w.u64(counter);
            w.role(role);
        }
        Some(Out(out))
    }

    /// Writes the key that encrypts new tickets at `now`.
    pub fn current(&self, now: u64) -> bool {
        let key = self.0.current(now);
        self.scrub();
        ok(key).map(|k| Io(0).ticket_key(&k)).is_some()
    }

    /// Writes the key of interval `counter`.
    pub fn by_counter(&self, counter: u64) -> bool {
        let key = self.0.by_counter(counter);
        self.scrub();
        ok(key).map(|k| Io(0).ticket_key(&k)).is_some()
    }

    /// Writes the Go crypto/tls seed of interval `counter`.
    pub fn go_seed(&self, counter: u64) -> bool {
        let seed = self.0.go_seed(counter);
        self.scrub();
        ok(seed).map(|s| Io(0).put(s.bytes())).is_some()
    }

    /// Looks the name in the buffer (`len` bytes; more than 16 are never found) up at `now`;
    /// writes the kind, then 1 and the key and its role if a key was found, else 0.
    pub fn lookup(&self, len: usize, now: u64) -> bool {
        // Names are public; one byte more than a name is enough to tell a longer one.
        let mut buf = [0u8; kw::TICKET_NAME_LEN + 1];
        read(&mut buf);
        let name = buf.get(..len.min(buf.len())).unwrap_or_default();
        // The key stays where lookup put it (wiped when dropped), not moved around.
        let found = self.0.lookup(name, now);
        self.scrub();
        let Some(found) = ok(found) else {
            return false;
        };
        let mut w = Io(0);
        w.bytes(found.as_str().as_bytes());
        let (key, role) = match &found {
            kw::Lookup::Current(key) => (key, kw::Role::Current),
            kw::Lookup::Accepted(key, role) => (key, *role),
            kw::Lookup::NotFound => {
                w.u64(0);
                return true;
            }
        };
        w.u64(1);
        w.ticket_key(key);
        w.role(role);
        true
    }

    /// The key file of format number `format` (of `names`) at `now`.
    pub fn render(&self, format: usize, now: u64) -> Option<Out> {
        self.render_with(format, &[], now)
    }

    /// Main-key rollover: the key file with the window of `decrypt_only` appended where the
    /// format takes it.
    pub fn render_rollover(
        &self,
        format: usize,
        decrypt_only: &TicketKeys,
        now: u64,
    ) -> Option<Out> {
        self.render_with(format, &[&decrypt_only.0], now)
    }
}

impl TicketKeys {
    fn render_with(
        &self,
        format: usize,
        decrypt_only: &[&kw::TicketKeys],
        now: u64,
    ) -> Option<Out> {
        let format = *kw::FORMATS.get(format)?;
        let len = ok(self.0.rollover_len(format, decrypt_only.len()))?;
        let mut file = Zeroizing::new(vec![0u8; len]);
        let done = self.0.render_rollover(format, now, decrypt_only, &mut file[..]);
        self.scrub();
        ok(done)?;
        Some(Out(file))
    }

    /// Forward-secure mode: overwrites the stack the core used (node values, leaves, keys).
    fn scrub(&self) {
        if self.0.state_start().is_some() {
            kw::scrub_stack();
        }
    }
}
