//! Reads the forward-secure sections of the committed vectors the way every binding does (a
//! JSON file, no generator code) and checks each case through the public API of the core crate.
#![allow(clippy::unwrap_used)]

use keywheel::schedule::Schedule;
use keywheel::{Layout, STATE_FILE_MAX_LEN, State, StateError, Strength};
use serde_json::Value;

const VECTORS: &str = include_str!("../keywheel.json");

fn cases(section: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = v[section]["cases"].as_array().unwrap().clone();
    assert!(!cases.is_empty(), "section {section} has no cases");
    cases
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn u64_of(case: &Value, name: &str) -> u64 {
    match &case[name] {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_u64().unwrap(),
    }
}

fn state_of(case: &Value) -> State {
    State::new(&unhex(case["seed"].as_str().unwrap()), u64_of(case, "s0")).unwrap()
}

fn file(state: &State) -> String {
    let mut out = [0u8; STATE_FILE_MAX_LEN];
    let n = state.to_bytes(&mut out).unwrap();
    hex(&out[..n])
}

fn strength(case: &Value) -> Strength {
    match case["strength"].as_str().unwrap() {
        "aes256" => Strength::Aes256,
        "aes128" => Strength::Aes128,
        other => panic!("unknown strength {other}"),
    }
}

fn check_error(error: &StateError, expected: &Value) {
    assert_eq!(error.to_string(), expected["message"].as_str().unwrap());
    // The variant's name: the StateError's, or the core Error's inside StateError::Input.
    let debug = match error {
        StateError::Input(e) => format!("{e:?}"),
        other => format!("{other:?}"),
    };
    assert!(
        debug.starts_with(expected["kind"].as_str().unwrap()),
        "{debug} vs {expected}"
    );
    if let Some(problem) = expected["problem"].as_str() {
        assert!(
            debug.starts_with(&format!("StateFile({problem}")),
            "{debug}"
        );
    }
}

#[test]
fn worked_example_is_in_the_vectors() {
    let states = cases("fs_state");
    let example = states
        .iter()
        .find(|c| c["s0"] == 1_749_978_000u64 && c["seed_rule"]["mul"] == 1)
        .unwrap();
    assert_eq!(example["root_id"], "75f95ca3c7860947");
    assert_eq!(example["node_count"], 24);
    assert_eq!(example["checksum"], "14ba6e55533a3aaec0f7e5d3268598e2");
    assert_eq!(example["file"].as_str().unwrap().len(), 2 * 809);
    assert!(
        cases("fs_ticket_key")
            .iter()
            .any(|c| c["counter"] == "486111"
                && c["strength"] == "aes256"
                && c["name"] == "cc62ca55be0593d0b9ba96bcd13184f6")
    );
}

#[test]
fn states() {
    for case in cases("fs_state") {
        let state = state_of(&case);
        assert_eq!(hex(&state.root_id()), case["root_id"]);
        assert_eq!(
            state.node_count() as u64,
            case["node_count"].as_u64().unwrap()
        );
        let cover: Vec<Value> = state
            .cover()
            .map(|(h, p)| serde_json::json!([h, p]))
            .collect();
        assert_eq!(Value::Array(cover), case["cover"]);
        assert_eq!(file(&state), case["file"]);
        let read = State::from_bytes(&unhex(case["file"].as_str().unwrap())).unwrap();
        assert_eq!(file(&read), case["file"]);
    }
}

#[test]
fn leaves() {
    for case in cases("fs_leaf") {
        let leaf = state_of(&case).leaf(u64_of(&case, "s")).unwrap();
        assert_eq!(hex(leaf.bytes()), case["leaf"]);
    }
}

#[test]
fn ticket_keys() {
    for case in cases("fs_ticket_key") {
        let state = state_of(&case);
        let (interval, counter) = (u64_of(&case, "interval"), u64_of(&case, "counter"));
        let label = case["label"].as_str().unwrap();
        let key = state
            .ticket_key(label, interval, strength(&case), counter)
            .unwrap();
        assert_eq!(hex(key.name()), case["name"]);
        assert_eq!(hex(key.aes_key()), case["aes"]);
        assert_eq!(hex(key.hmac_key()), case["hmac"]);
        let mut record = [0u8; 80];
        let n = key.write_record(Layout::NameHmacAes, &mut record).unwrap();
        assert_eq!(hex(&record[..n]), case["record_name_hmac_aes"]);
        let n = key.write_record(Layout::NameAesHmac, &mut record).unwrap();
        assert_eq!(hex(&record[..n]), case["record_name_aes_hmac"]);
        let leaf = state.leaf(counter * interval).unwrap();
        assert_eq!(hex(leaf.bytes()), case["leaf"]);
    }
}

#[test]
fn tfo_keys() {
    for case in cases("fs_tfo") {
        let state = state_of(&case);
        let schedule = Schedule::new(u64_of(&case, "interval")).unwrap();
        let keys = state.tfo_keys(&schedule, u64_of(&case, "time")).unwrap();
        assert_eq!(hex(keys.primary()), case["primary_key"]);
        assert_eq!(hex(keys.backup()), case["backup_key"]);
        assert_eq!(keys.procfs_text().as_str(), case["procfs"]);
    }
}

#[test]
fn advances() {
    for case in cases("fs_advance") {
        let mut state = state_of(&case);
        let before = file(&state);
        match state.advance(u64_of(&case, "to")) {
            Ok(()) => assert_eq!(file(&state), case["file"]),
            Err(e) => {
                check_error(&e, &case["error"]);
                assert_eq!(file(&state), before, "a refused advance changed the state");
            }
        }
    }
}

#[test]
fn errors() {
    for case in cases("fs_errors") {
        let seed = unhex(case["seed"].as_str().unwrap());
        let s0 = u64_of(&case, "s0");
        let error = match case["operation"].as_str().unwrap() {
            "state_new" => State::new(&seed, s0).unwrap_err(),
            "leaf" => State::new(&seed, s0)
                .unwrap()
                .leaf(u64_of(&case, "s"))
                .unwrap_err(),
            "ticket_key" => State::new(&seed, s0)
                .unwrap()
                .ticket_key(
                    case["label"].as_str().unwrap(),
                    u64_of(&case, "interval"),
                    strength(&case),
                    u64_of(&case, "counter"),
                )
                .unwrap_err(),
            "tfo_key" => State::new(&seed, s0)
                .unwrap()
                .tfo_key(
                    u64_of(&case, "interval"),
                    u64_of(&case, "counter"),
                    &mut [0; 16],
                )
                .unwrap_err(),
            other => panic!("unknown operation {other}"),
        };
        check_error(&error, &case["error"]);
    }
}

#[test]
fn malformed_state_files() {
    for case in cases("fs_state_file_errors") {
        let bytes = unhex(case["file"].as_str().unwrap());
        let error = State::from_bytes(&bytes).unwrap_err();
        check_error(&error, &case["error"]);
    }
}
