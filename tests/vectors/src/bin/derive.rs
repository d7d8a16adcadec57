//! Test tool: runs the core's `derive_key` on requests read from stdin, so that tests in other
//! languages can compare it with their own implementation on random inputs
//! (`tests/cross/test_random_derive.py`).
//!
//! One JSON request per line:
//! `{"main_key": "<hex>", "context": "<hex, 8 bytes>", "subkey_id": "<decimal u64>", "output_len": <n>}`
//! and one JSON answer per line: `{"output": "<hex>"}`, or
//! `{"error": {"kind": "<core error variant>", "message": "<core error message>"}}` when the core
//! refuses the input. A malformed request ends the program with exit status 2.
//!
//! It prints derived keys by design and does not try to wipe memory: it is for test keys only,
//! never for a production main key.
//!
//! ```text
//! cargo run -p keywheel-vectors --bin derive
//! ```

use std::io::{BufRead, Write};
use std::process::ExitCode;

use keywheel::{Error, MainKey, derive_key};
use keywheel_vectors::{error_kind, hex};
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

/// A request that is well-formed JSON with the expected fields.
struct Request {
    main_key: Vec<u8>,
    context: [u8; 8],
    subkey_id: u64,
    output_len: usize,
}

fn parse(line: &str) -> Result<Request, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let text = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("missing string field {name:?}"))
    };
    let main_key = unhex(text("main_key")?).ok_or("main_key is not hex")?;
    let context = unhex(text("context")?)
        .and_then(|c| <[u8; 8]>::try_from(c).ok())
        .ok_or("context is not 8 bytes of hex")?;
    let subkey_id = text("subkey_id")?
        .parse()
        .map_err(|e| format!("subkey_id is not a decimal u64: {e}"))?;
    let output_len = v
        .get("output_len")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or("missing integer field \"output_len\"")?;
    Ok(Request {
        main_key,
        context,
        subkey_id,
        output_len,
    })
}

fn answer(request: &Request) -> Value {
    let derived = MainKey::from_bytes(&request.main_key).and_then(|main| {
        let mut out = vec![0u8; request.output_len];
        derive_key(&main, &request.context, request.subkey_id, &mut out).map(|()| out)
    });
    match derived {
        Ok(out) => json!({ "output": hex(&out) }),
        Err(error) => error_answer(&error),
    }
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
        if writeln!(stdout, "{}", answer(&request))
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
