//! The binding's Rust API run as WebAssembly in Node (wasm-bindgen-test): every case of the
//! shared vectors (tests/vectors/keywheel.json, embedded so no file system is needed) and the
//! errors each operation gives, with the core's exact messages. Expected values come from the
//! vectors (checked against hashlib and libsodium by tests/cross), never from this crate.
//!
//! Run: `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!       cargo test -p keywheel-wasm --target wasm32-unknown-unknown`
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, missing_docs)]

use js_sys::{Array, Reflect, Uint8Array};
use keywheel_wasm::{MainKey, State, TicketKeys, derive_key, schedule_at, tfo_keys};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const VECTORS: &str = include_str!("../../tests/vectors/keywheel.json");

fn cases(section: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = all[section]["cases"].as_array().unwrap().clone();
    assert!(!cases.is_empty(), "section {section} has no cases");
    cases
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn js_bytes(hex: &str) -> JsValue {
    Uint8Array::from(&unhex(hex)[..]).into()
}

/// The hex of a `Uint8Array` value.
fn hex(v: &JsValue) -> String {
    let a: &Uint8Array = v.dyn_ref().unwrap();
    a.to_vec().iter().map(|b| format!("{b:02x}")).collect()
}

/// A u64 written as a decimal string in the vectors, as a JS bigint.
fn big(v: &Value) -> JsValue {
    JsValue::from(v.as_str().unwrap().parse::<u64>().unwrap())
}

/// A JSON integer as a JS number.
fn num(v: &Value) -> JsValue {
    JsValue::from_f64(v.as_u64().unwrap() as f64)
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap()
}

/// A bigint field as a decimal string, as the vectors write u64s.
fn big_str(obj: &JsValue, key: &str) -> String {
    u64::try_from(get(obj, key)).unwrap().to_string()
}

fn main_key(case: &Value) -> MainKey {
    MainKey::new(js_bytes(case["main_key"].as_str().unwrap())).unwrap()
}

fn label(case: &Value) -> JsValue {
    JsValue::from_str(&String::from_utf8(unhex(case["label_hex"].as_str().unwrap())).unwrap())
}

fn ticket_keys(case: &Value, strength: &str) -> TicketKeys {
    TicketKeys::new(
        &main_key(case),
        label(case),
        strength.into(),
        num(&case["interval"]),
        num(&case["keep"]),
    )
    .unwrap()
}

/// The message of a thrown `Error` (checking it is an `Error`, not a `TypeError`).
fn message<T>(r: Result<T, JsValue>) -> String {
    let Err(e) = r else { panic!("no error") };
    let e: js_sys::Error = e.dyn_into().unwrap();
    assert_eq!(String::from(e.name()), "Error");
    String::from(e.message())
}

#[wasm_bindgen_test]
fn derive_key_vectors() {
    for case in cases("derive_key") {
        let out = derive_key(
            &main_key(&case),
            js_bytes(case["context"].as_str().unwrap()),
            big(&case["subkey_id"]),
            num(&case["output_len"]),
        )
        .unwrap();
        assert_eq!(hex(&out), case["output"].as_str().unwrap(), "{case}");
    }
}

#[wasm_bindgen_test]
fn tfo_vectors() {
    for case in cases("tfo") {
        let main = main_key(&case);
        let (interval, time) = (num(&case["interval"]), num(&case["time"]));
        let slot: JsValue = schedule_at(interval.clone(), time.clone()).unwrap().into();
        assert_eq!(get(&slot, "now").as_f64(), time.as_f64());
        assert_eq!(big_str(&slot, "primary"), case["primary"].to_string());
        assert_eq!(big_str(&slot, "backup"), case["backup"].to_string());
        assert_eq!(get(&slot, "nextWake"), num(&case["next_wake"]));
        let wake: Array = get(&slot, "wakeTime").dyn_into().unwrap();
        assert_eq!(wake.get(0), num(&case["wake_time_secs"]));
        assert_eq!(wake.get(1), num(&case["wake_time_nanos"]));
        let keys: JsValue = tfo_keys(&main, interval, time).unwrap().into();
        assert_eq!(
            hex(&get(&keys, "primary")),
            case["primary_key"].as_str().unwrap()
        );
        assert_eq!(
            hex(&get(&keys, "backup")),
            case["backup_key"].as_str().unwrap()
        );
        assert_eq!(
            get(&keys, "procfsText").as_string().unwrap(),
            case["procfs"].as_str().unwrap()
        );
    }
}

#[wasm_bindgen_test]
fn error_vectors() {
    for case in cases("errors") {
        let want = case["message"].as_str().unwrap();
        let got = match case["operation"].as_str().unwrap() {
            "main_key" => message(MainKey::new(js_bytes(case["main_key"].as_str().unwrap()))),
            "schedule" => message(schedule_at(num(&case["interval"]), JsValue::UNDEFINED)),
            "schedule_at" => message(schedule_at(num(&case["interval"]), num(&case["time"]))),
            "derive_key" => message(derive_key(
                &main_key(&case),
                js_bytes(case["context"].as_str().unwrap()),
                big(&case["subkey_id"]),
                num(&case["output_len"]),
            )),
            other => panic!("unknown operation {other}"),
        };
        assert_eq!(got, want, "{case}");
    }
}

#[wasm_bindgen_test]
fn ticket_key_vectors() {
    for case in cases("ticket_key") {
        let strength = case["strength"].as_str().unwrap();
        let keys = TicketKeys::new(
            &main_key(&case),
            label(&case),
            strength.into(),
            3600.into(),
            JsValue::UNDEFINED,
        )
        .unwrap();
        let key: JsValue = keys.by_counter(big(&case["counter"])).unwrap().into();
        assert_eq!(get(&key, "strength").as_string().unwrap(), strength);
        assert_eq!(big_str(&key, "counter"), case["counter"].as_str().unwrap());
        assert_eq!(
            hex(&get(&key, "name")),
            case["name"].as_str().unwrap(),
            "{case}"
        );
        assert_eq!(
            hex(&get(&key, "aesKey")),
            case["aes"].as_str().unwrap(),
            "{case}"
        );
        assert_eq!(
            hex(&get(&key, "hmacKey")),
            case["hmac"].as_str().unwrap(),
            "{case}"
        );
    }
}

#[wasm_bindgen_test]
fn ticket_schedule_vectors() {
    for case in cases("ticket_schedule") {
        let keys = TicketKeys::new(
            &MainKey::new(js_bytes(&"01".repeat(32))).unwrap(),
            "schedule".into(),
            "aes256".into(),
            num(&case["interval"]),
            num(&case["keep"]),
        )
        .unwrap();
        let slot: JsValue = keys.slot(num(&case["time"])).unwrap().into();
        assert_eq!(big_str(&slot, "current"), case["current"].as_str().unwrap());
        assert_eq!(get(&slot, "nextRotation"), num(&case["next_rotation"]));
        assert_eq!(get(&slot, "maxTicketAge"), num(&case["max_ticket_age"]));
        assert_eq!(get(&slot, "interval"), num(&case["interval"]));
        assert_eq!(get(&slot, "keep"), num(&case["keep"]));
        let window: Array = get(&slot, "window").dyn_into().unwrap();
        let want = case["window"].as_array().unwrap();
        assert_eq!(window.length() as usize, want.len(), "{case}");
        for (got, want) in window.iter().zip(want) {
            assert_eq!(big_str(&got, "counter"), want["counter"].as_str().unwrap());
            assert_eq!(
                get(&got, "role").as_string().unwrap(),
                want["role"].as_str().unwrap()
            );
            match want.get("age") {
                Some(age) => assert_eq!(get(&got, "age"), num(age)),
                None => assert!(get(&got, "age").is_undefined()),
            }
        }
    }
}

#[wasm_bindgen_test]
fn ticket_lookup_vectors() {
    for case in cases("ticket_lookup") {
        let keys = ticket_keys(&case, case["strength"].as_str().unwrap());
        let found: JsValue = keys
            .lookup(js_bytes(case["name"].as_str().unwrap()), num(&case["time"]))
            .unwrap()
            .into();
        let kind = get(&found, "kind").as_string().unwrap();
        assert_eq!(kind, case["result"].as_str().unwrap(), "{case}");
        if kind == "not_found" {
            assert!(get(&found, "key").is_undefined());
            assert!(get(&found, "role").is_undefined());
            continue;
        }
        assert_eq!(
            get(&found, "role").as_string().unwrap(),
            case["role"].as_str().unwrap()
        );
        match case.get("age") {
            Some(age) => assert_eq!(get(&found, "age"), num(age)),
            None => assert!(get(&found, "age").is_undefined()),
        }
        let key = get(&found, "key");
        assert_eq!(big_str(&key, "counter"), case["counter"].as_str().unwrap());
        assert_eq!(hex(&get(&key, "aesKey")), case["aes"].as_str().unwrap());
        assert_eq!(hex(&get(&key, "hmacKey")), case["hmac"].as_str().unwrap());
        assert_eq!(hex(&get(&key, "name")), case["name"].as_str().unwrap());
        // The current key at that time is the one lookup calls current.
        let current: JsValue = keys.current(num(&case["time"])).unwrap().into();
        assert_eq!(
            big_str(&current, "counter"),
            case["current"].as_str().unwrap()
        );
    }
}

#[wasm_bindgen_test]
fn format_vectors() {
    for case in cases("format") {
        let keys = ticket_keys(&case, case["strength"].as_str().unwrap());
        let out = keys
            .render(case["format"].as_str().unwrap().into(), num(&case["time"]))
            .unwrap();
        assert_eq!(hex(&out.into()), case["output"].as_str().unwrap(), "{case}");
    }
}

#[wasm_bindgen_test]
fn ticket_error_vectors() {
    for case in cases("ticket_errors") {
        let want = case["message"].as_str().unwrap();
        let got = match case["operation"].as_str().unwrap() {
            "label_key" => message(TicketKeys::new(
                &main_key(&case),
                label(&case),
                "aes256".into(),
                3600.into(),
                JsValue::UNDEFINED,
            )),
            "ticket_schedule" => message(TicketKeys::new(
                &MainKey::new(js_bytes(&"01".repeat(32))).unwrap(),
                "x".into(),
                "aes256".into(),
                num(&case["interval"]),
                num(&case["keep"]),
            )),
            "ticket_schedule_at" => {
                let keys = TicketKeys::new(
                    &MainKey::new(js_bytes(&"01".repeat(32))).unwrap(),
                    "x".into(),
                    "aes256".into(),
                    num(&case["interval"]),
                    num(&case["keep"]),
                )
                .unwrap();
                let time = num(&case["time"]);
                let m = message(keys.slot(time.clone()));
                assert_eq!(m, message(keys.current(time.clone())));
                assert_eq!(m, message(keys.lookup(js_bytes("00"), time.clone())));
                assert_eq!(m, message(keys.render("nginx".into(), time)));
                m
            }
            "format_render" => {
                // The binding sizes the output itself: a short buffer cannot happen.
                if case["kind"] == "BufferTooSmall" {
                    continue;
                }
                let format = case["format"].as_str().unwrap();
                let strength = match format {
                    "nginx48" | "haproxy48" | "apache" | "ats" => "aes128",
                    _ => "aes256",
                };
                let keys = ticket_keys(&case, strength);
                message(keys.render(format.into(), num(&case["time"])))
            }
            other => panic!("unknown operation {other}"),
        };
        assert_eq!(got, want, "{case}");
    }
}

#[wasm_bindgen_test]
fn binding_errors() {
    let main = MainKey::new(js_bytes(&"07".repeat(32))).unwrap();
    let ctx: JsValue = "tofurkey".into();
    let m = message(derive_key(
        &main,
        ctx.clone(),
        JsValue::from(-1i64),
        16.into(),
    ));
    assert_eq!(
        m,
        "subkey id -1 is out of range; it must be in 0..=18446744073709551615 (above 2^53 - 1 as a bigint)"
    );
    let m = message(derive_key(&main, ctx.clone(), 1.5.into(), 16.into()));
    assert!(
        m.starts_with("subkey id 1.5 is not an integer; it must be in 0..="),
        "{m}"
    );
    let m = message(derive_key(&main, ctx.clone(), 1u64.into(), 65.into()));
    assert_eq!(m, "output length 65 is out of range; it must be in 16..=64");
    let m = message(derive_key(&main, "tofurke".into(), 1u64.into(), 16.into()));
    assert_eq!(m, "context is 7 bytes; it must be 8 bytes");
    // A string context is its UTF-8 bytes.
    let a = derive_key(&main, ctx, 5u64.into(), 16.into()).unwrap();
    let b = derive_key(&main, js_bytes("746f6675726b6579"), 5.into(), 16.into()).unwrap();
    assert_eq!(hex(&a), hex(&b));
    // Wrong types are TypeErrors.
    let Err(e) = schedule_at("86400".into(), JsValue::UNDEFINED) else {
        panic!()
    };
    let e: js_sys::Error = e.dyn_into().unwrap();
    assert_eq!(String::from(e.name()), "TypeError");
    assert_eq!(
        String::from(e.message()),
        "interval must be a number or a bigint, not string"
    );
}

/// The allocator (lol_alloc's free list) reuses what is freed: thousands of key objects, key
/// files and heap blocks of every size, made and dropped, leave the memory as large as one round.
#[wasm_bindgen_test]
fn freed_memory_is_reused() {
    let main = MainKey::new(js_bytes(&"07".repeat(32))).unwrap();
    let round = |i: usize| {
        let keys = TicketKeys::new(
            &main,
            "example.com".into(),
            "aes256".into(),
            3600.into(),
            JsValue::UNDEFINED,
        )
        .unwrap();
        let file = keys.render("nginx".into(), 1_700_000_000.into()).unwrap();
        assert_eq!(
            JsValue::from(file).unchecked_into::<Uint8Array>().length(),
            240
        );
        let blocks: Vec<Vec<u8>> = (0..16)
            .map(|k| vec![0x5a; 1 + (i * 7 + k * 131) % 5000])
            .collect();
        drop(core::hint::black_box(blocks));
        drop(core::hint::black_box(Box::new([0x11u8; 100])));
    };
    round(0);
    let pages = core::arch::wasm32::memory_size(0);
    for i in 1..5000 {
        round(i);
    }
    assert_eq!(core::arch::wasm32::memory_size(0), pages);
}

fn state(case: &Value) -> State {
    State::new(js_bytes(case["seed"].as_str().unwrap()), num(&case["s0"])).unwrap()
}

#[wasm_bindgen_test]
fn fs_state_and_advance_vectors() {
    for case in cases("fs_state") {
        let st = state(&case);
        assert_eq!(st.s0(), case["s0"].as_u64().unwrap() as f64);
        assert_eq!(
            u64::from(st.node_count()),
            case["node_count"].as_u64().unwrap()
        );
        assert_eq!(hex(&st.root_id()), case["root_id"].as_str().unwrap());
        assert_eq!(hex(&st.to_bytes().into()), case["file"].as_str().unwrap());
        let back = State::from_bytes(js_bytes(case["file"].as_str().unwrap())).unwrap();
        assert_eq!(hex(&back.to_bytes().into()), case["file"].as_str().unwrap());
    }
    for case in cases("fs_advance") {
        let mut st = state(&case);
        let result = st.advance(num(&case["to"]));
        match case["file"].as_str() {
            Some(file) => {
                result.unwrap();
                assert_eq!(hex(&st.to_bytes().into()), file);
            }
            None => assert_eq!(message(result), case["error"]["message"].as_str().unwrap()),
        }
    }
    for case in cases("fs_state_file_errors") {
        let r = State::from_bytes(js_bytes(case["file"].as_str().unwrap()));
        assert_eq!(message(r), case["error"]["message"].as_str().unwrap());
    }
}

#[wasm_bindgen_test]
fn fs_ticket_keys_and_tfo_vectors() {
    for case in cases("fs_ticket_keys") {
        let st = state(&case);
        let keys = TicketKeys::from_state(
            &st,
            JsValue::from_str(case["label"].as_str().unwrap()),
            JsValue::from_str(case["strength"].as_str().unwrap()),
            num(&case["interval"]),
            num(&case["keep"]),
            num(&case["time"]),
        );
        match case["output"].as_str() {
            Some(output) => {
                let keys = keys.unwrap();
                let file = keys
                    .render(
                        JsValue::from_str(case["format"].as_str().unwrap()),
                        num(&case["time"]),
                    )
                    .unwrap();
                assert_eq!(hex(&file.into()), output);
            }
            None => assert_eq!(message(keys), case["error"]["message"].as_str().unwrap()),
        }
    }
    for case in cases("fs_tfo") {
        let keys = state(&case)
            .tfo_keys(num(&case["interval"]), num(&case["time"]))
            .unwrap();
        let keys: JsValue = keys.into();
        assert_eq!(
            hex(&get(&keys, "primary")),
            case["primary_key"].as_str().unwrap()
        );
        assert_eq!(
            hex(&get(&keys, "backup")),
            case["backup_key"].as_str().unwrap()
        );
    }
}
