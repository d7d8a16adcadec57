//! Reads the committed vectors the way every binding does (a JSON file, no generator code) and
//! checks each case through the public API of the core crate.
#![allow(clippy::unwrap_used)]

use keywheel::{MainKey, Schedule, TfoKeys, derive_key};
use serde_json::Value;

const VECTORS: &str = include_str!("../keywheel.json");

fn vectors() -> Value {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    assert_eq!(v["version"], 1, "unknown vectors version");
    v
}

fn cases<'a>(v: &'a Value, section: &str) -> &'a [Value] {
    let cases = v[section]["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "section {section} has no cases");
    cases
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bytes_field(case: &Value, name: &str) -> Vec<u8> {
    unhex(case[name].as_str().unwrap())
}

fn u64_field(case: &Value, name: &str) -> u64 {
    case[name].as_u64().unwrap()
}

fn usize_field(case: &Value, name: &str) -> usize {
    usize::try_from(u64_field(case, name)).unwrap()
}

fn subkey_id(case: &Value) -> u64 {
    case["subkey_id"].as_str().unwrap().parse().unwrap()
}

fn context(case: &Value) -> [u8; 8] {
    bytes_field(case, "context").try_into().unwrap()
}

fn main_key(case: &Value) -> MainKey {
    MainKey::from_bytes(&bytes_field(case, "main_key")).unwrap()
}

#[test]
fn main_key_rules_describe_the_stored_keys() {
    let v = vectors();
    let mut checked = 0;
    for section in ["derive_key", "tfo", "errors"] {
        for case in cases(&v, section) {
            let Some(rule) = case.get("main_key_rule") else {
                continue;
            };
            let (len, mul, add) = (
                usize_field(rule, "len"),
                usize_field(rule, "mul"),
                usize_field(rule, "add"),
            );
            let expected: Vec<u8> = (0..len)
                .map(|i| u8::try_from((i * mul + add) % 251).unwrap())
                .collect();
            assert_eq!(bytes_field(case, "main_key"), expected, "{case}");
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn derive_key_cases() {
    let v = vectors();
    for case in cases(&v, "derive_key") {
        let mut out = vec![0u8; usize_field(case, "output_len")];
        derive_key(&main_key(case), &context(case), subkey_id(case), &mut out).unwrap();
        assert_eq!(hex(&out), case["output"].as_str().unwrap(), "{case}");
    }
}

#[test]
fn tfo_cases() {
    let v = vectors();
    for case in cases(&v, "tfo") {
        let schedule = Schedule::new(u64_field(case, "interval")).unwrap();
        let slot = schedule.at(u64_field(case, "time")).unwrap();
        assert_eq!(slot.now, u64_field(case, "time"), "{case}");
        assert_eq!(slot.primary, u64_field(case, "primary"), "{case}");
        assert_eq!(slot.backup, u64_field(case, "backup"), "{case}");
        assert_eq!(slot.next_wake, u64_field(case, "next_wake"), "{case}");
        let (secs, nanos) = slot.wake_time();
        assert_eq!(secs, u64_field(case, "wake_time_secs"), "{case}");
        assert_eq!(
            u64::from(nanos),
            u64_field(case, "wake_time_nanos"),
            "{case}"
        );

        let keys = TfoKeys::for_slot(&main_key(case), &slot);
        assert_eq!(hex(keys.primary()), case["primary_key"], "{case}");
        assert_eq!(hex(keys.backup()), case["backup_key"], "{case}");
        assert_eq!(keys.procfs_text().as_str(), case["procfs"], "{case}");
    }
}

#[test]
fn error_cases() {
    let v = vectors();
    for case in cases(&v, "errors") {
        let error = match case["operation"].as_str().unwrap() {
            "main_key" => MainKey::from_bytes(&bytes_field(case, "main_key")).unwrap_err(),
            "schedule" => Schedule::new(u64_field(case, "interval")).unwrap_err(),
            "schedule_at" => Schedule::new(u64_field(case, "interval"))
                .unwrap()
                .at(u64_field(case, "time"))
                .unwrap_err(),
            "derive_key" => {
                let mut out = vec![0x5a; usize_field(case, "output_len")];
                let error = derive_key(&main_key(case), &context(case), subkey_id(case), &mut out)
                    .unwrap_err();
                assert!(out.iter().all(|&b| b == 0x5a), "output written: {case}");
                error
            }
            other => panic!("unknown operation {other}"),
        };
        assert_eq!(keywheel_vectors::error_kind(&error), case["kind"], "{case}");
        assert_eq!(error.to_string(), case["message"], "{case}");
    }
}
