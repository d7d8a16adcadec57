//! Reads the committed vectors the way every binding does (a JSON file, no generator code) and
//! checks each case through the public API of the core crate.
#![allow(clippy::unwrap_used)]

use keywheel::schedule::Schedule;
use keywheel::ticket::{TicketSchedule, TicketSlot};
use keywheel::{
    Encoding, FORMATS, Format, GO_SEED_LEN, GoSeeds, LabelKey, Layout, Lookup, MainKey, Role,
    State, Strength, TfoKeys, TicketKeys, derive_key,
};
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
    for section in [
        "derive_key",
        "tfo",
        "errors",
        "ticket_key",
        "ticket_lookup",
        "format",
        "ticket_errors",
        "go_seeds",
    ] {
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
        assert_eq!(slot.now(), u64_field(case, "time"), "{case}");
        assert_eq!(slot.primary(), u64_field(case, "primary"), "{case}");
        assert_eq!(slot.backup(), u64_field(case, "backup"), "{case}");
        assert_eq!(slot.next_wake(), u64_field(case, "next_wake"), "{case}");
        let (secs, nanos) = slot.wake_time();
        assert_eq!(secs, u64_field(case, "wake_time_secs"), "{case}");
        assert_eq!(
            u64::from(nanos),
            u64_field(case, "wake_time_nanos"),
            "{case}"
        );

        let keys = TfoKeys::new(&main_key(case), &slot);
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

fn counter_field(case: &Value, name: &str) -> u64 {
    let text = case[name].as_str().unwrap();
    let n: u64 = text.parse().unwrap();
    assert_eq!(n.to_string(), text, "not a canonical decimal: {case}");
    n
}

/// The `TicketKeys` of a case's main key, label, interval and keep.
fn ticket_keys(case: &Value, strength: Strength) -> TicketKeys {
    let schedule =
        TicketSchedule::new(u64_field(case, "interval"), u64_field(case, "keep")).unwrap();
    TicketKeys::new(&main_key(case), label(case), strength, schedule).unwrap()
}

fn label(case: &Value) -> &str {
    let label = case["label"].as_str().unwrap();
    assert_eq!(bytes_field(case, "label_hex"), label.as_bytes(), "{case}");
    label
}

fn label_key(case: &Value) -> LabelKey {
    LabelKey::new(&main_key(case), label(case)).unwrap()
}

fn strength(case: &Value) -> Strength {
    match case["strength"].as_str().unwrap() {
        "aes256" => Strength::Aes256,
        "aes128" => Strength::Aes128,
        other => panic!("unknown strength {other}"),
    }
}

/// The role of `entry` ({role, age}).
fn role(entry: &Value) -> Role {
    match entry["role"].as_str().unwrap() {
        "current" => {
            assert!(entry.get("age").is_none(), "{entry}");
            Role::Current
        }
        "next" => {
            assert!(entry.get("age").is_none(), "{entry}");
            Role::Next
        }
        "previous" => Role::Previous(u64_field(entry, "age")),
        other => panic!("unknown role {other}"),
    }
}

fn ticket_slot(case: &Value) -> TicketSlot {
    let slot = TicketSchedule::new(u64_field(case, "interval"), u64_field(case, "keep"))
        .unwrap()
        .at(u64_field(case, "time"))
        .unwrap();
    assert_eq!(slot.current(), counter_field(case, "current"), "{case}");
    slot
}

#[test]
fn ticket_key_cases() {
    let v = vectors();
    for case in cases(&v, "ticket_key") {
        let (strength, counter) = (strength(case), counter_field(case, "counter"));
        let key = label_key(case).ticket_key(strength, counter);
        assert_eq!(key.strength(), strength);
        assert_eq!(key.counter(), counter);
        assert_eq!(hex(key.name()), case["name"], "{case}");
        assert_eq!(hex(key.aes_key()), case["aes"], "{case}");
        assert_eq!(hex(key.hmac_key()), case["hmac"], "{case}");
        assert_eq!(label_key(case).ticket_name(strength, counter), *key.name());

        // The label key given as an intermediate is the key of both derivations.
        let lk = MainKey::from_bytes(&bytes_field(case, "label_key")).unwrap();
        let mut name = [0; 16];
        derive_key(&lk, strength.name_context(), counter, &mut name).unwrap();
        assert_eq!(name, *key.name(), "{case}");
        let mut material = vec![0; 2 * strength.key_len()];
        derive_key(&lk, strength.key_context(), counter, &mut material).unwrap();
        assert_eq!(
            hex(&material),
            format!(
                "{}{}",
                case["aes"].as_str().unwrap(),
                case["hmac"].as_str().unwrap()
            ),
            "{case}"
        );

        // Both record layouts hold the same three parts.
        let mut record = [0; 80];
        let n = key.write_record(Layout::NameHmacAes, &mut record).unwrap();
        assert_eq!(n, strength.record_len());
        assert_eq!(
            hex(&record[..n]),
            format!(
                "{}{}{}",
                case["name"].as_str().unwrap(),
                case["hmac"].as_str().unwrap(),
                case["aes"].as_str().unwrap()
            )
        );
        let n = key.write_record(Layout::NameAesHmac, &mut record).unwrap();
        assert_eq!(
            hex(&record[..n]),
            format!(
                "{}{}{}",
                case["name"].as_str().unwrap(),
                case["aes"].as_str().unwrap(),
                case["hmac"].as_str().unwrap()
            )
        );
    }
}

#[test]
fn ticket_schedule_cases() {
    let v = vectors();
    for case in cases(&v, "ticket_schedule") {
        let schedule =
            TicketSchedule::new(u64_field(case, "interval"), u64_field(case, "keep")).unwrap();
        assert_eq!(
            schedule.max_ticket_age(),
            u64_field(case, "max_ticket_age"),
            "{case}"
        );
        let slot = ticket_slot(case);
        assert_eq!(slot.now(), u64_field(case, "time"));
        assert_eq!(slot.keep(), u64_field(case, "keep"));
        assert_eq!(
            slot.next_rotation(),
            u64_field(case, "next_rotation"),
            "{case}"
        );
        let expected: Vec<(u64, Role)> = case["window"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (counter_field(e, "counter"), role(e)))
            .collect();
        let window: Vec<(u64, Role)> = slot.window().collect();
        assert_eq!(window, expected, "{case}");
        for &(counter, role) in &expected {
            assert_eq!(slot.role(counter), Some(role), "{case}");
            assert_eq!(slot.counter(role), Some(counter), "{case}");
        }
        let oldest = expected[0].0;
        assert_eq!(slot.role(oldest - 1), None, "{case}");
        assert_eq!(slot.role(slot.current() + 2), None, "{case}");
        assert_eq!(
            slot.counter(Role::Previous(slot.keep() + 1)),
            None,
            "{case}"
        );
        assert_eq!(slot.counter(Role::Previous(0)), None, "{case}");
    }
}

#[test]
fn ticket_lookup_cases() {
    let v = vectors();
    for case in cases(&v, "ticket_lookup") {
        let slot = ticket_slot(case);
        let name = bytes_field(case, "name");
        let found = match (
            case["result"].as_str().unwrap(),
            ticket_keys(case, strength(case))
                .lookup(&name, slot.now())
                .unwrap(),
        ) {
            ("current", Lookup::Current(key)) => {
                assert_eq!(role(case), Role::Current, "{case}");
                key
            }
            ("accepted", Lookup::Accepted(key, r)) => {
                assert_eq!(role(case), r, "{case}");
                assert_ne!(r, Role::Current, "{case}");
                key
            }
            ("not_found", Lookup::NotFound) => {
                for field in ["counter", "role", "age", "aes", "hmac"] {
                    assert!(case.get(field).is_none(), "{field} in {case}");
                }
                continue;
            }
            (expected, got) => panic!("expected {expected}, got {got:?}: {case}"),
        };
        assert_eq!(found.counter(), counter_field(case, "counter"), "{case}");
        assert_eq!(found.strength(), strength(case), "{case}");
        assert_eq!(hex(found.name()), case["name"], "{case}");
        assert_eq!(hex(found.aes_key()), case["aes"], "{case}");
        assert_eq!(hex(found.hmac_key()), case["hmac"], "{case}");
    }
}

#[test]
fn format_cases() {
    let v = vectors();
    let mut seen = Vec::new();
    for case in cases(&v, "format") {
        let format = Format::from_name(case["format"].as_str().unwrap()).unwrap();
        seen.push(format);
        assert_eq!(format.name(), case["format"]);
        assert_eq!(format.strength(), strength(case), "{case}");
        let layout = Layout::from_name(case["layout"].as_str().unwrap()).unwrap();
        assert_eq!(format.layout(), layout, "{case}");
        let slot = ticket_slot(case);
        format.check_keep(slot.keep()).unwrap();
        let count = usize_field(case, "key_count");
        let record_len = usize_field(case, "record_len");
        let ticket_keys = ticket_keys(case, format.strength());
        assert_eq!(format.key_count(slot.keep()), count, "{case}");
        assert_eq!(format.record_len(), record_len, "{case}");
        assert_eq!(
            ticket_keys.rendered_len(format).unwrap(),
            count * record_len,
            "{case}"
        );

        let keys = case["keys"].as_array().unwrap();
        assert_eq!(keys.len(), count, "{case}");
        let roles: Vec<Role> = format.roles(slot.keep()).collect();
        assert_eq!(roles, keys.iter().map(role).collect::<Vec<_>>(), "{case}");
        for entry in keys {
            assert_eq!(
                slot.counter(role(entry)),
                Some(counter_field(entry, "counter")),
                "{case}"
            );
        }
        // The iterator over the format's keys gives the same keys, in file order.
        let counters: Vec<u64> = ticket_keys
            .keys(format, slot.now())
            .unwrap()
            .map(|(_, k)| k.counter())
            .collect();
        let want: Vec<u64> = keys.iter().map(|e| counter_field(e, "counter")).collect();
        assert_eq!(counters, want, "{case}");

        let expected = bytes_field(case, "output");
        let mut out = vec![0x5a; expected.len() + 7];
        let n = ticket_keys.render(format, slot.now(), &mut out).unwrap();
        assert_eq!(n, expected.len(), "{case}");
        assert_eq!(hex(&out[..n]), case["output"], "{case}");
        assert!(
            out[n..].iter().all(|&b| b == 0x5a),
            "written past the end: {case}"
        );

        // Record i (file i for nginx) is key i rendered alone.
        let label = label_key(case);
        for (i, entry) in keys.iter().enumerate() {
            let key = label.ticket_key(format.strength(), counter_field(entry, "counter"));
            let mut record = vec![0; record_len];
            assert_eq!(format.render_key(&key, &mut record).unwrap(), record_len);
            assert_eq!(
                record,
                expected[i * record_len..(i + 1) * record_len],
                "{case}"
            );
        }
        match case.get("output_text") {
            Some(text) => {
                assert_eq!(format.encoding(), Encoding::Base64Lines);
                assert_eq!(text.as_str().unwrap().as_bytes(), expected, "{case}");
            }
            None => assert_eq!(format.encoding(), Encoding::Raw, "{case}"),
        }
    }
    for format in FORMATS {
        assert!(seen.contains(&format), "no case for {format:?}");
    }
}

#[test]
fn ticket_error_cases() {
    let v = vectors();
    for case in cases(&v, "ticket_errors") {
        let error = match case["operation"].as_str().unwrap() {
            "label_key" => LabelKey::new(&main_key(case), label(case)).unwrap_err(),
            "ticket_schedule" => {
                TicketSchedule::new(u64_field(case, "interval"), u64_field(case, "keep"))
                    .unwrap_err()
            }
            "ticket_schedule_at" => {
                TicketSchedule::new(u64_field(case, "interval"), u64_field(case, "keep"))
                    .unwrap()
                    .at(u64_field(case, "time"))
                    .unwrap_err()
            }
            "format_render" => {
                let format = Format::from_name(case["format"].as_str().unwrap()).unwrap();
                let mut out = vec![0x5a; usize_field(case, "buffer_len")];
                let error = ticket_keys(case, format.strength())
                    .render(format, u64_field(case, "time"), &mut out)
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

#[test]
fn go_seed_cases() {
    use sha2::{Digest, Sha512};

    let v = vectors();
    let all = cases(&v, "go_seeds");
    assert!(all.len() >= 8);
    for case in all {
        let slot = ticket_slot(case);
        assert_eq!(
            slot.next_rotation(),
            u64_field(case, "next_rotation"),
            "{case}"
        );
        let seeds = GoSeeds::new(&main_key(case), label(case)).unwrap();
        let entries = case["seeds"].as_array().unwrap();
        assert_eq!(entries.len() as u64, slot.keep() + 2, "{case}");
        let mut output = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            // Go's order: current, next, previous 1, ..., previous keep.
            let want_role = match i {
                0 => Role::Current,
                1 => Role::Next,
                n => Role::Previous(n as u64 - 1),
            };
            assert_eq!(role(entry), want_role, "{entry}");
            let counter = counter_field(entry, "counter");
            assert_eq!(slot.counter(want_role), Some(counter), "{entry}");
            let seed = seeds.seed(counter);
            assert_eq!(seed.counter(), counter);
            assert_eq!(hex(seed.bytes()), entry["seed"], "{entry}");
            assert_eq!(seed.bytes().len(), GO_SEED_LEN);
            assert_eq!(
                hex(&Sha512::digest(seed.bytes())[..16]),
                entry["go_name"],
                "{entry}"
            );
            output.extend_from_slice(seed.bytes());
        }
        assert_eq!(hex(&output), case["output"], "{case}");
    }
}

#[test]
fn fs_go_seed_cases() {
    use sha2::{Digest, Sha512};

    let v = vectors();
    let all = cases(&v, "fs_go_seeds");
    let (mut made, mut refused) = (0, 0);
    for case in all {
        let state = State::new(&bytes_field(case, "seed"), case["s0"].as_u64().unwrap()).unwrap();
        let schedule =
            TicketSchedule::new(u64_field(case, "interval"), u64_field(case, "keep")).unwrap();
        let time = u64_field(case, "time");
        let slot = schedule.at(time).unwrap();
        assert_eq!(slot.current(), counter_field(case, "current"), "{case}");
        assert_eq!(slot.next_rotation(), u64_field(case, "next_rotation"));
        // The seed does not depend on the strength: both give the same seeds.
        for strength in [Strength::Aes256, Strength::Aes128] {
            let keys = match TicketKeys::from_state(&state, label(case), strength, schedule, time) {
                Ok(keys) => keys,
                Err(e) => {
                    assert_eq!(case["error"]["kind"], "KeyPunctured", "{case}");
                    assert_eq!(e.to_string(), case["error"]["message"], "{case}");
                    refused += 1;
                    continue;
                }
            };
            made += 1;
            assert!(case.get("error").is_none(), "{case}");
            assert_eq!(
                keys.state_start().map(|(s, _)| s),
                case["state_start"].as_u64(),
                "{case}"
            );
            let entries = case["seeds"].as_array().unwrap();
            assert_eq!(entries.len() as u64, slot.keep() + 2, "{case}");
            let mut output = Vec::new();
            for (i, entry) in entries.iter().enumerate() {
                let want_role = match i {
                    0 => Role::Current,
                    1 => Role::Next,
                    n => Role::Previous(n as u64 - 1),
                };
                assert_eq!(role(entry), want_role, "{entry}");
                let counter = counter_field(entry, "counter");
                assert_eq!(slot.counter(want_role), Some(counter), "{entry}");
                let seed = keys.go_seed(counter).unwrap();
                assert_eq!(seed.counter(), counter);
                assert_eq!(hex(seed.bytes()), entry["seed"], "{entry}");
                assert_eq!(
                    hex(&Sha512::digest(seed.bytes())[..16]),
                    entry["go_name"],
                    "{entry}"
                );
                output.extend_from_slice(seed.bytes());
            }
            assert_eq!(hex(&output), case["output"], "{case}");
            let refusals = case["refused"].as_array().unwrap();
            assert_eq!(refusals.len(), 2, "{case}");
            for r in refusals {
                let e = keys.go_seed(counter_field(r, "counter")).unwrap_err();
                assert_eq!(keywheel_vectors::error_kind(&e), r["error"]["kind"], "{r}");
                assert_eq!(e.to_string(), r["error"]["message"], "{r}");
            }
        }
    }
    assert!(made >= 10 && refused >= 2, "{made} made, {refused} refused");
}
