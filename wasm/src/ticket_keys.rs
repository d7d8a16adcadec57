//! `TicketKeys`: the one ticket API of the core, from a main key or a forward-secure state.

use keywheel as kw;
use keywheel::ticket::TicketSchedule;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::format::{format_arg, unknown_name};
use crate::js::{
    Array, JsResult, Object, Uint8Array, bytes, copy_in, counter, error, interval, name_index, num,
    put, put_num, role, ticket_key, time, to_js, uint_ending, utf8,
};
use crate::main_key::MainKey;
use crate::state::{State, state_error};

/// The session-ticket keys of one label (a service or cluster name, 1..=64 bytes of UTF-8) in
/// one strength and rotation schedule: `interval` (even, 10..=604800 s) and `keep`, how many
/// previous keys stay accepted ((keep + 1) × interval ≤ 604800, RFC 8446's 7 days). It holds
/// the label's key (derived from the main key) in wasm memory, wiped by `free()`.
#[wasm_bindgen]
pub struct TicketKeys(pub(crate) kw::TicketKeys);

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
        let args = TicketArgs::parse(&label, &strength, &interval, &keep)?;
        kw::TicketKeys::new(&main.0, args.text(), args.strength, args.schedule)
            .map(TicketKeys)
            .map_err(error)
    }

    /// The keys of `label` in forward-secure mode from `state` (SPEC.md section 6): the same
    /// object as `new TicketKeys(main, ...)`, names, keys and every format as in main-key mode.
    /// It keeps its own copy of the state (wiped by `free()`), advanced to the start of the
    /// oldest key accepted at `now` (default: now), so it derives no older key; `advance`
    /// moves it on. `state` stays the caller's.
    #[wasm_bindgen(js_name = fromState)]
    pub fn from_state(
        state: &State,
        #[wasm_bindgen(unchecked_param_type = "string")] label: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Strength")] strength: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] interval: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] keep: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<TicketKeys> {
        let args = TicketArgs::parse(&label, &strength, &interval, &keep)?;
        let now = time(&now)?;
        let keys =
            kw::TicketKeys::from_state(&state.0, args.text(), args.strength, args.schedule, now);
        kw::scrub_stack();
        keys.map(TicketKeys).map_err(state_error)
    }

    /// Forward-secure mode: punctures this object's copy of the state up to the start of the
    /// oldest key accepted at `now` (default: now; the nodes it replaces are wiped), after
    /// checking that every key accepted at `now` can be derived. Main-key mode: checks `now`.
    pub fn advance(
        &mut self,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<()> {
        let now = time(&now)?;
        let done = self.0.advance(now);
        kw::scrub_stack();
        done.map_err(state_error)
    }

    /// Forward-secure mode: the start of this object's copy of the state (unix seconds);
    /// `undefined` in main-key mode.
    #[wasm_bindgen(getter = stateStart, unchecked_return_type = "number | undefined")]
    pub fn state_start(&self) -> JsValue {
        match self.0.state_start() {
            Some((s0, _)) => num(s0),
            None => JsValue::UNDEFINED,
        }
    }

    fn slot_at(&self, now: &JsValue) -> JsResult<kw::ticket::TicketSlot> {
        self.0.slot(time(now)?).map_err(error)
    }

    /// The ticket window at unix time `now` (default: now).
    #[wasm_bindgen(unchecked_return_type = "TicketSlot")]
    pub fn slot(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Object> {
        let slot = self.slot_at(&now)?;
        let schedule = self.0.schedule();
        let obj = Object::new();
        put_num(&obj, "now", slot.now());
        put_num(&obj, "interval", schedule.interval());
        put_num(&obj, "keep", slot.keep());
        put_num(&obj, "maxTicketAge", schedule.max_ticket_age());
        put(&obj, "current", slot.current().into());
        put_num(&obj, "nextRotation", slot.next_rotation());
        let window = Array::new();
        for (c, r) in slot.window() {
            let entry = Object::new();
            put(&entry, "counter", c.into());
            role(&entry, r);
            window.push(&entry);
        }
        put(&obj, "window", window.into());
        Ok(obj)
    }

    /// The key that encrypts new tickets at unix time `now` (default: now).
    #[wasm_bindgen(unchecked_return_type = "TicketKey")]
    pub fn current(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Object> {
        let key = self.0.current(time(&now)?);
        self.scrub();
        Ok(ticket_key(&key.map_err(error)?))
    }

    /// The key of interval `counter` (any counter, in the window or not).
    #[wasm_bindgen(js_name = byCounter, unchecked_return_type = "TicketKey")]
    pub fn by_counter(
        &self,
        #[wasm_bindgen(unchecked_param_type = "bigint | number")] counter: JsValue,
    ) -> JsResult<Object> {
        let c = self::counter(&counter, "counter")?;
        let key = self.0.by_counter(c);
        self.scrub();
        Ok(ticket_key(&key.map_err(error)?))
    }

    /// The Go crypto/tls / Caddy session-ticket seed (32 bytes) of interval `counter`.
    #[wasm_bindgen(js_name = goSeed, unchecked_return_type = "Uint8Array")]
    pub fn go_seed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "bigint | number")] counter: JsValue,
    ) -> JsResult<JsValue> {
        let seed = self.0.go_seed(self::counter(&counter, "counter")?);
        self.scrub();
        Ok(to_js(seed.map_err(error)?.bytes()))
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
        let now = time(&now)?;
        let obj = Object::new();
        let name = buf.get(..n).unwrap_or_default();
        // The key stays where lookup put it (wiped when dropped), not moved around.
        let found = self.0.lookup(name, now);
        self.scrub();
        let found = found.map_err(error)?;
        let (key, r) = match &found {
            kw::Lookup::Current(key) => (Some(key), kw::Role::Current),
            kw::Lookup::Accepted(key, r) => (Some(key), *r),
            kw::Lookup::NotFound => (None, kw::Role::Current),
        };
        put(&obj, "kind", found.as_str().into());
        if let Some(key) = key {
            put(&obj, "key", ticket_key(key).into());
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
        self.render_with(&format, &[], &now)
    }

    /// Main-key rollover (SPEC.md §5.2): `render(format, now)`, then, for formats that hold any
    /// number of keys (nginx, nginx48, ats), the same window of `decryptOnly` (the
    /// `TicketKeys` of the same label under the previous or the next main key) as decrypt-only
    /// keys. Other formats get this object's keys alone.
    #[wasm_bindgen(js_name = renderRollover)]
    pub fn render_rollover(
        &self,
        #[wasm_bindgen(unchecked_param_type = "FormatName")] format: JsValue,
        #[wasm_bindgen(js_name = decryptOnly)] decrypt_only: &TicketKeys,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: JsValue,
    ) -> JsResult<Uint8Array> {
        self.render_with(&format, &[&decrypt_only.0], &now)
    }
}

/// The label, strength and schedule arguments of `new TicketKeys` and `TicketKeys.fromState`,
/// checked in the order of the spec: label, interval, keep (then the strength's name).
pub(crate) struct TicketArgs {
    label: [u8; kw::MAX_LABEL_LEN + 1],
    len: usize,
    strength: kw::Strength,
    schedule: TicketSchedule,
}

impl TicketArgs {
    fn parse(
        label: &JsValue,
        strength: &JsValue,
        interval: &JsValue,
        keep: &JsValue,
    ) -> JsResult<TicketArgs> {
        // One byte more than the longest label, enough to tell a longer one.
        let mut buf = [0u8; kw::MAX_LABEL_LEN + 1];
        let len = utf8(label, "label", &mut buf)?;
        if !(1..=kw::MAX_LABEL_LEN).contains(&len) {
            return Err(error(kw::Error::LabelLength { len }));
        }
        let i = self::interval(interval)?;
        let k = if keep.is_undefined() {
            1
        } else {
            // The interval is checked before keep, as the core does.
            TicketSchedule::new(i, 0).map_err(error)?;
            // The interval is at least 10 here: checked_div only spares a panic path.
            let max = kw::MAX_TICKET_AGE
                .checked_div(i)
                .unwrap_or(1)
                .saturating_sub(1);
            uint_ending(keep, "keep", "in 0..=", Some(&num(max)))?
        };
        let schedule = TicketSchedule::new(i, k).map_err(error)?;
        let names = kw::Strength::ALL.map(kw::Strength::as_str);
        let index = name_index(strength, "strength", &names)?;
        let Some(&strength_value) = index.and_then(|i| kw::Strength::ALL.get(i)) else {
            return Err(unknown_name(
                "strength ",
                strength,
                "",
                &names,
                "\" or \"",
                "\"",
            ));
        };
        Ok(TicketArgs {
            label: buf,
            len,
            strength: strength_value,
            schedule,
        })
    }

    /// The label (1..=64 bytes of a string's UTF-8: valid).
    fn text(&self) -> &str {
        self.label
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl TicketKeys {
    /// The key file of `format` at `now`, with the windows of `decrypt_only` appended where
    /// the format takes them.
    fn render_with(
        &self,
        format: &JsValue,
        decrypt_only: &[&kw::TicketKeys],
        now: &JsValue,
    ) -> JsResult<Uint8Array> {
        let format = format_arg(format)?;
        let now = time(now)?;
        let len = self
            .0
            .rollover_len(format, decrypt_only.len())
            .map_err(error)?;
        self.0.slot(now).map_err(error)?;
        // One key at a time: each record is rendered into a buffer on the stack (wiped when
        // dropped) and copied into the JavaScript array, so no copy of the whole content is
        // left in wasm memory. At most 3 × (60479 + 2) × 109 bytes: a u32.
        #[allow(clippy::cast_possible_truncation)]
        let file = Uint8Array::with_length(len as u32);
        let mut record = Zeroizing::new([0u8; 128]);
        let mut offset = 0;
        for (_, key) in self
            .0
            .rollover_keys(format, now, decrypt_only)
            .map_err(error)?
        {
            let n = format.render_key(&key, &mut record[..]).map_err(error)?;
            file.set_at(record.get(..n).unwrap_or_default(), offset);
            // A record is at most 109 bytes.
            #[allow(clippy::cast_possible_truncation)]
            {
                offset += n as u32;
            }
        }
        self.scrub();
        Ok(file)
    }

    /// Forward-secure mode: overwrites the stack the core used (node values, leaves, keys).
    fn scrub(&self) {
        if self.0.state_start().is_some() {
            kw::scrub_stack();
        }
    }
}
