//! Test tool: runs the forward-secure mode of the core crate on requests read from stdin, so
//! that tests in other languages can compare it with their own implementation on random inputs
//! (`tests/cross/test_forward_independent.py`).
//!
//! One JSON request per line, one JSON answer per line. Every request has `type`, `seed`
//! (hex) and `s0` (decimal string); the state at `s0` is made from the seed first.
//!
//! - `state`: → `{"root_id", "node_count", "cover": [[h, p], …], "file": "<hex>"}`.
//! - `advance`: `"to"` → the same fields for the advanced state.
//! - `leaf`: `"s"` → `{"leaf": "<hex>"}`.
//! - `ticket_key`: `"label"`, `"interval"`, `"strength"`, `"counter"` → `{"name", "aes",
//!   "hmac"}`.
//! - `tfo_key`: `"interval"`, `"counter"` → `{"key": "<hex>"}`.
//! - `tfo_keys`: `"interval"`, `"time"` → `{"primary", "backup", "procfs"}`.
//! - `parse` (no seed, no s0): `"file": "<hex>"` → the `state` fields of the file read back.
//!
//! Numbers are decimal strings (times reach 2^40, counters 2^64). When the core refuses an
//! input the answer is `{"error": {"kind", "message"}}` (`kind` as in the vectors: the
//! `StateError` variant, or the core `Error` variant of a `StateError::Input`). A malformed request ends the program
//! with exit status 2.
//!
//! It prints seeds' leaves and keys by design and does not try to wipe memory: test seeds only.
//!
//! ```text
//! cargo run -p keywheel-vectors --bin forward
//! ```

use std::io::{BufRead, Write};
use std::process::ExitCode;

use keywheel::schedule::Schedule;
use keywheel::{STATE_FILE_MAX_LEN, State, StateError, Strength};
use keywheel_vectors::{hex, state_error_kind};
use serde_json::{Value, json};

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn text<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string field {name:?}"))
}

fn number(v: &Value, name: &str) -> Result<u64, String> {
    text(v, name)?
        .parse()
        .map_err(|e| format!("{name} is not a decimal u64: {e}"))
}

fn bytes(v: &Value, name: &str) -> Result<Vec<u8>, String> {
    unhex(text(v, name)?).ok_or_else(|| format!("{name} is not hex"))
}

fn describe(state: &State) -> Value {
    let mut out = [0u8; STATE_FILE_MAX_LEN];
    let n = state.to_bytes(&mut out).unwrap_or(0);
    json!({
        "root_id": hex(&state.root_id()),
        "node_count": state.node_count(),
        "cover": state.cover().map(|(h, p)| json!([h, p])).collect::<Vec<_>>(),
        "file": hex(&out[..n]),
    })
}

/// The answer to a request, or `Err` for a malformed request.
fn answer(v: &Value) -> Result<Result<Value, StateError>, String> {
    let kind = text(v, "type")?;
    if kind == "parse" {
        let file = bytes(v, "file")?;
        return Ok(State::from_bytes(&file).map(|s| describe(&s)));
    }
    let seed = bytes(v, "seed")?;
    let s0 = number(v, "s0")?;
    let state = match State::new(&seed, s0) {
        Ok(state) => state,
        Err(e) => return Ok(Err(e)),
    };
    let strength = || match text(v, "strength")? {
        "aes256" => Ok(Strength::Aes256),
        "aes128" => Ok(Strength::Aes128),
        other => Err(format!("unknown strength {other:?}")),
    };
    Ok(match kind {
        "state" => Ok(describe(&state)),
        "advance" => {
            let to = number(v, "to")?;
            let mut state = state;
            state.advance(to).map(|()| describe(&state))
        }
        "leaf" => {
            let s = number(v, "s")?;
            state.leaf(s).map(|l| json!({ "leaf": hex(l.bytes()) }))
        }
        "ticket_key" => {
            let (label, interval, strength, counter) = (
                text(v, "label")?,
                number(v, "interval")?,
                strength()?,
                number(v, "counter")?,
            );
            state
                .ticket_key(label, interval, strength, counter)
                .map(|k| {
                    json!({
                        "name": hex(k.name()),
                        "aes": hex(k.aes_key()),
                        "hmac": hex(k.hmac_key()),
                    })
                })
        }
        "tfo_key" => {
            let (interval, counter) = (number(v, "interval")?, number(v, "counter")?);
            let mut key = [0u8; 16];
            state
                .tfo_key(interval, counter, &mut key)
                .map(|()| json!({ "key": hex(&key) }))
        }
        "tfo_keys" => {
            let (interval, time) = (number(v, "interval")?, number(v, "time")?);
            Schedule::new(interval)
                .map_err(StateError::from)
                .and_then(|schedule| state.tfo_keys(&schedule, time))
                .map(|k| {
                    json!({
                        "primary": hex(k.primary()),
                        "backup": hex(k.backup()),
                        "procfs": k.procfs_text().as_str(),
                    })
                })
        }
        other => return Err(format!("unknown type {other:?}")),
    })
}

fn main() -> ExitCode {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let Ok(line) = line else {
            eprintln!("error: reading stdin");
            return ExitCode::from(2);
        };
        if line.trim().is_empty() {
            continue;
        }
        let result = serde_json::from_str::<Value>(&line)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|v| answer(&v));
        let out = match result {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => {
                json!({ "error": { "kind": state_error_kind(&e), "message": e.to_string() } })
            }
            Err(e) => {
                eprintln!("error: bad request: {e}");
                return ExitCode::from(2);
            }
        };
        // Flush after each answer: the caller waits for it before sending the next request.
        if writeln!(stdout, "{out}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
