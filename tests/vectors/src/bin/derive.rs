//! Test tool: runs the core crate on requests read from stdin, so that tests in other languages
//! can compare it with their own implementation on random inputs
//! (`tests/cross/test_random_derive.py`, `tests/cross/test_random_ticket.py`).
//!
//! One JSON request per line, and one JSON answer per line. The request's `type` says what to
//! compute (`derive_key` when absent):
//!
//! - `derive_key`: `{"main_key": "<hex>", "context": "<hex, 8 bytes>", "subkey_id": "<decimal
//!   u64>", "output_len": <n>}` → `{"output": "<hex>"}`.
//! - `ticket_key`: `{"type": "ticket_key", "main_key": "<hex>", "label": "<text>", "strength":
//!   "aes256" | "aes128", "counter": "<decimal u64>"}` → `{"name": "<hex>", "aes": "<hex>",
//!   "hmac": "<hex>"}`.
//! - `render`: `{"type": "render", "main_key", "label", "format": "<name>", "interval": <n>,
//!   "keep": <n>, "time": <n>}` → `{"current": "<decimal>", "next_rotation": <n>, "window":
//!   [{"counter", "role", "age"?}, …] (oldest first), "output": "<hex>"}`: the whole rendered
//!   content of the format (for nginx, its files concatenated in order).
//! - `lookup`: `{"type": "lookup", "main_key", "label", "strength", "interval", "keep", "time",
//!   "name": "<hex>"}` → `{"result": "current" | "accepted" | "not_found", and for a key found
//!   "counter", "role", "age" (previous keys), "aes", "hmac"}`.
//!
//! When the core refuses an input the answer is
//! `{"error": {"kind": "<core error variant>", "message": "<core error message>"}}`; inputs are
//! checked in the order main key, label, interval, keep, time, format. A malformed request
//! (bad JSON, a missing field, an unknown type, strength or format) ends the program with exit
//! status 2.
//!
//! It prints derived keys by design and does not try to wipe memory: it is for test keys only,
//! never for a production main key.
//!
//! ```text
//! cargo run -p keywheel-vectors --bin derive
//! ```

use std::io::{BufRead, Write};
use std::process::ExitCode;

use keywheel::ticket::{TicketSchedule, TicketSlot};
use keywheel::{Error, Format, LabelKey, Lookup, MainKey, Role, Strength, TicketKeys, derive_key};
use keywheel_vectors::{error_kind, hex, role_name};
use serde_json::{Map, Value, json};

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The ticket schedule fields of a request.
struct Slot {
    interval: u64,
    keep: u64,
    time: u64,
}

/// A request that is well-formed JSON with the expected fields.
enum Request {
    Derive {
        main_key: Vec<u8>,
        context: [u8; 8],
        subkey_id: u64,
        output_len: usize,
    },
    TicketKey {
        main_key: Vec<u8>,
        label: String,
        strength: Strength,
        counter: u64,
    },
    Render {
        main_key: Vec<u8>,
        label: String,
        format: Format,
        slot: Slot,
    },
    Lookup {
        main_key: Vec<u8>,
        label: String,
        strength: Strength,
        slot: Slot,
        name: Vec<u8>,
    },
}

/// The fields of one request object.
struct Fields<'a>(&'a Value);

impl Fields<'_> {
    fn text(&self, name: &str) -> Result<&str, String> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("missing string field {name:?}"))
    }

    fn hex(&self, name: &str) -> Result<Vec<u8>, String> {
        unhex(self.text(name)?).ok_or_else(|| format!("{name} is not hex"))
    }

    fn decimal(&self, name: &str) -> Result<u64, String> {
        self.text(name)?
            .parse()
            .map_err(|e| format!("{name} is not a decimal u64: {e}"))
    }

    fn number(&self, name: &str) -> Result<u64, String> {
        self.0
            .get(name)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("missing integer field {name:?}"))
    }

    fn strength(&self) -> Result<Strength, String> {
        match self.text("strength")? {
            "aes256" => Ok(Strength::Aes256),
            "aes128" => Ok(Strength::Aes128),
            other => Err(format!("unknown strength {other:?}")),
        }
    }

    fn slot(&self) -> Result<Slot, String> {
        Ok(Slot {
            interval: self.number("interval")?,
            keep: self.number("keep")?,
            time: self.number("time")?,
        })
    }
}

fn parse(line: &str) -> Result<Request, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let f = Fields(&v);
    let kind = match v.get("type") {
        None => "derive_key",
        Some(t) => t.as_str().ok_or("type is not a string")?,
    };
    match kind {
        "derive_key" => Ok(Request::Derive {
            main_key: f.hex("main_key")?,
            context: f
                .hex("context")
                .ok()
                .and_then(|c| <[u8; 8]>::try_from(c).ok())
                .ok_or("context is not 8 bytes of hex")?,
            subkey_id: f.decimal("subkey_id")?,
            output_len: usize::try_from(f.number("output_len")?)
                .map_err(|e| format!("output_len: {e}"))?,
        }),
        "ticket_key" => Ok(Request::TicketKey {
            main_key: f.hex("main_key")?,
            label: f.text("label")?.to_owned(),
            strength: f.strength()?,
            counter: f.decimal("counter")?,
        }),
        "render" => Ok(Request::Render {
            main_key: f.hex("main_key")?,
            label: f.text("label")?.to_owned(),
            format: Format::from_name(f.text("format")?).ok_or("unknown format")?,
            slot: f.slot()?,
        }),
        "lookup" => Ok(Request::Lookup {
            main_key: f.hex("main_key")?,
            label: f.text("label")?.to_owned(),
            strength: f.strength()?,
            slot: f.slot()?,
            name: f.hex("name")?,
        }),
        other => Err(format!("unknown type {other:?}")),
    }
}

fn label_key(main_key: &[u8], label: &str) -> Result<LabelKey, Error> {
    LabelKey::new(&MainKey::from_bytes(main_key)?, label)
}

/// The ticket keys of a request and its slot; errors in the order of the shared vectors:
/// main key, label, interval and keep, time.
fn ticket_keys(
    main_key: &[u8],
    label: &str,
    strength: Strength,
    slot: &Slot,
) -> Result<(TicketKeys, TicketSlot), Error> {
    let main = MainKey::from_bytes(main_key)?;
    LabelKey::new(&main, label)?;
    let schedule = TicketSchedule::new(slot.interval, slot.keep)?;
    let at = schedule.at(slot.time)?;
    Ok((TicketKeys::new(&main, label, strength, schedule)?, at))
}

fn role_fields(object: &mut Map<String, Value>, counter: u64, role: Role) {
    let (name, age) = role_name(role);
    object.insert("counter".into(), json!(counter.to_string()));
    object.insert("role".into(), json!(name));
    if let Some(age) = age {
        object.insert("age".into(), json!(age));
    }
}

fn answer(request: &Request) -> Result<Value, Error> {
    Ok(match request {
        Request::Derive {
            main_key,
            context,
            subkey_id,
            output_len,
        } => {
            let mut out = vec![0u8; *output_len];
            derive_key(
                &MainKey::from_bytes(main_key)?,
                context,
                *subkey_id,
                &mut out,
            )?;
            json!({ "output": hex(&out) })
        }
        Request::TicketKey {
            main_key,
            label,
            strength,
            counter,
        } => {
            let key = label_key(main_key, label)?.ticket_key(*strength, *counter);
            json!({
                "name": hex(key.name()),
                "aes": hex(key.aes_key()),
                "hmac": hex(key.hmac_key()),
            })
        }
        Request::Render {
            main_key,
            label,
            format,
            slot,
        } => {
            let time = slot.time;
            let (keys, slot) = ticket_keys(main_key, label, format.strength(), slot)?;
            let mut out = vec![0u8; keys.rendered_len(*format)?];
            let n = keys.render(*format, time, &mut out)?;
            let window: Vec<Value> = slot
                .window()
                .map(|(c, r)| {
                    let mut entry = Map::new();
                    role_fields(&mut entry, c, r);
                    Value::Object(entry)
                })
                .collect();
            json!({
                "current": slot.current().to_string(),
                "next_rotation": slot.next_rotation(),
                "window": window,
                "output": hex(&out[..n]),
            })
        }
        Request::Lookup {
            main_key,
            label,
            strength,
            slot,
            name,
        } => {
            let (keys, _) = ticket_keys(main_key, label, *strength, slot)?;
            let mut object = Map::new();
            let found = match keys.lookup(name, slot.time)? {
                Lookup::Current(key) => Some(("current", key, Role::Current)),
                Lookup::Accepted(key, role) => Some(("accepted", key, role)),
                Lookup::NotFound => None,
            };
            match found {
                Some((result, key, role)) => {
                    object.insert("result".into(), json!(result));
                    role_fields(&mut object, key.counter(), role);
                    object.insert("aes".into(), json!(hex(key.aes_key())));
                    object.insert("hmac".into(), json!(hex(key.hmac_key())));
                }
                None => {
                    object.insert("result".into(), json!("not_found"));
                }
            }
            Value::Object(object)
        }
    })
}

fn error_answer(error: &Error) -> Value {
    json!({ "error": { "kind": error_kind(error), "message": error.to_string() } })
}

fn main() -> ExitCode {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("error: reading stdin: {e}");
                return ExitCode::from(2);
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let request = match parse(&line) {
            Ok(request) => request,
            Err(e) => {
                eprintln!("error: bad request: {e}");
                return ExitCode::from(2);
            }
        };
        // Flush after each answer: the caller waits for it before sending the next request.
        if writeln!(
            stdout,
            "{}",
            answer(&request).unwrap_or_else(|e| error_answer(&e))
        )
        .and_then(|()| stdout.flush())
        .is_err()
        {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
