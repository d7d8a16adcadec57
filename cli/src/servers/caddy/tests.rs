#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
use std::fs;
use std::path::Path;
use std::time::UNIX_EPOCH;

use super::gob::*;
use super::storage::*;
use super::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn seed(start: u8) -> [u8; 32] {
    core::array::from_fn(|i| start.wrapping_add(i as u8))
}

// Written by Go 1.19.8's encoding/gob (Debian golang-go), with the standard library only:
//   type distributedSTEK struct {
//       Keys                       [][32]byte
//       LastRotation, NextRotation time.Time
//   }
//   s := distributedSTEK{Keys: [][32]byte{k0, k1}, LastRotation: time.Unix(1700000000, 0).UTC(),
//       NextRotation: time.Unix(1700043200, 0).UTC()}   // k0 = 0x00..=0x1f, k1 = 0xc8..=0xe7
//   gob.NewEncoder(&buf).Encode(s); fmt.Println(hex.EncodeToString(buf.Bytes()))
const GO_BYTES: &str = "4bff810301010f64697374726962757465645354454b01ff8200010301044b65797301ff8600010c4c617374526f746174696f6e01ff8800010c4e657874526f746174696f6e01ff880000001aff850201010b5b5d5b33325d75696e743801ff860001ff8400000eff83010102ff840001060140000010ff870501010454696d6501ff88000000ff89ff82010220000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20ffc8ffc9ffcaffcbffccffcdffceffcfffd0ffd1ffd2ffd3ffd4ffd5ffd6ffd7ffd8ffd9ffdaffdbffdcffddffdeffdfffe0ffe1ffe2ffe3ffe4ffe5ffe6ffe7010f010000000edce5e80000000000ffff010f010000000edce690c000000000ffff00";

// Go 1.19.8, 8 keys of bytes 0x80..=0x9f, times 1000000 and 2000000.
const GO_BYTES_8: &str = "4bff810301010f64697374726962757465645354454b01ff8200010301044b65797301ff8600010c4c617374526f746174696f6e01ff8800010c4e657874526f746174696f6e01ff880000001aff850201010b5b5d5b33325d75696e743801ff860001ff8400000eff83010102ff840001060140000010ff870501010454696d6501ff88000000fe022fff82010820ff80ff81ff82ff83ff84ff85ff86ff87ff88ff89ff8aff8bff8cff8dff8eff8fff90ff91ff92ff93ff94ff95ff96ff97ff98ff99ff9aff9bff9cff9dff9eff9f20ff80ff81ff82ff83ff84ff85ff86ff87ff88ff89ff8aff8bff8cff8dff8eff8fff90ff91ff92ff93ff94ff95ff96ff97ff98ff99ff9aff9bff9cff9dff9eff9f20ff80ff81ff82ff83ff84ff85ff86ff87ff88ff89ff8aff8bff8cff8dff8eff8fff90ff91ff92ff93ff94ff95ff96ff97ff98ff99ff9aff9bff9cff9dff9eff9f20ff80ff81ff82ff83ff84ff85ff86ff87ff88ff89ff8aff8bff8cff8dff8eff8fff90ff91ff92ff93ff94ff95ff96ff97ff98ff99ff9aff9bff9cff9dff9eff9f20ff80ff81ff82ff83ff84ff85ff86ff87ff88ff89ff8aff8bff8cff8dff8eff8fff90ff91ff92ff93ff94ff95ff96ff97ff98ff99ff9aff9bff9cff9dff9eff9f20ff80ff81ff82ff83ff84ff85ff86ff87ff88ff89ff8aff8bff8cff8dff8eff8fff90ff91ff92ff93ff94ff95ff96ff97ff98ff99ff9aff9bff9cff9dff9eff9f20ff80ff81ff82ff83ff84ff85ff86ff87ff88ff89ff8aff8bff8cff8dff8eff8fff90ff91ff92ff93ff94ff95ff96ff97ff98ff99ff9aff9bff9cff9dff9eff9f20ff80ff81ff82ff83ff84ff85ff86ff87ff88ff89ff8aff8bff8cff8dff8eff8fff90ff91ff92ff93ff94ff95ff96ff97ff98ff99ff9aff9bff9cff9dff9eff9f010f010000000e77a1394000000000ffff010f010000000e77b07b8000000000ffff00";

#[test]
fn encode_is_go_gob_byte_for_byte() {
    let got = encode(&[seed(0), seed(200)], 1_700_000_000, 1_700_043_200).unwrap();
    assert_eq!(got.as_slice(), unhex(GO_BYTES).as_slice());
}

#[test]
fn decode_reads_go_bytes() {
    let s = decode(&unhex(GO_BYTES)).unwrap();
    assert_eq!(s.keys.as_slice(), &[seed(0), seed(200)]);
    assert_eq!(
        (s.last_rotation, s.next_rotation),
        (1_700_000_000, 1_700_043_200)
    );
}

#[test]
fn long_value_messages_use_multibyte_lengths() {
    // 8 keys of 0x80..: every byte is 2 gob bytes, the value message is > 255 bytes.
    let keys = [seed(0x80); 8];
    let data = encode(&keys, 1_000_000, 2_000_000).unwrap();
    // Go 1.19.8's gob for the same value.
    assert_eq!(data.as_slice(), unhex(GO_BYTES_8).as_slice());
    assert_eq!(data[135], 0xfe, "two-byte length");
    let len = usize::from(data[136]) << 8 | usize::from(data[137]);
    assert_eq!(len, data.len() - 138);
    assert_eq!(decode(&data).unwrap().keys.as_slice(), &keys);
}

#[test]
fn bad_inputs_are_refused() {
    assert!(matches!(encode(&[], 1, 2), Err(CaddyError::NoKeys)));
    assert!(matches!(encode(&[seed(0)], 0, 2), Err(CaddyError::Time(0))));
    let msg = encode(&[seed(0)], 1, 100_000_000_001)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        msg.as_deref(),
        Some("time 100000000001 is out of range for Caddy's file; it must be in 1..=100000000000")
    );
}

#[test]
fn truncated_or_extended_files_are_corrupt() {
    let good = unhex(GO_BYTES);
    for cut in [0, 1, 134, 135, 136, 200, good.len() - 1] {
        assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(decode(&longer).is_err());
}

#[test]
fn classify_tells_caddy_rotation_apart() {
    let ours = [seed(1), seed(2), seed(3)];
    let expected = encode(&ours, 1_000_000, 1_000_100).unwrap();
    assert_eq!(classify(None, &expected, &ours), StekState::Missing);
    assert_eq!(
        classify(Some(&expected), &expected, &ours),
        StekState::Current
    );
    let older = encode(&[seed(3), seed(1)], 999_900, 1_000_000).unwrap();
    assert_eq!(
        classify(Some(&older), &expected, &ours),
        StekState::Outdated
    );
    let rotated = encode(&[seed(99), seed(1), seed(2)], 1_000_200, 1_043_200).unwrap();
    assert_eq!(
        classify(Some(&rotated), &expected, &ours),
        StekState::CaddyRotated
    );
    let foreign = encode(&[seed(50), seed(60)], 1_000_000, 1_000_100).unwrap();
    assert_eq!(
        classify(Some(&foreign), &expected, &ours),
        StekState::Foreign
    );
    assert_eq!(
        classify(Some(&expected[..100]), &expected, &ours),
        StekState::Corrupt
    );
    assert!(StekState::CaddyRotated.needs_reload() && !StekState::Outdated.needs_reload());
    assert!(StekState::Foreign.needs_reload() && StekState::Corrupt.needs_reload());
    assert!(!StekState::Missing.needs_reload() && !StekState::Current.needs_reload());
}

#[test]
fn render_holds_the_spec_window() {
    // SPEC.md §4.5's example (main key bytes 0..=31, label "web", interval 86400, now
    // 1700000000, current 19675): seeds from Python hashlib (tests/servers/reference.py).
    let main: Vec<u8> = (0..32).collect();
    let main = keywheel::MainKey::from_bytes(&main).unwrap();
    let schedule = keywheel::TicketSchedule::new(86_400, 1).unwrap();
    let keys =
        keywheel::TicketKeys::new(&main, "web", keywheel::Strength::Aes256, schedule).unwrap();
    let slot = schedule.at(1_700_000_000).unwrap();
    let r =
        crate::servers::go::render(crate::servers::SeedFormat::Caddy, &keys, None, &slot).unwrap();
    let stek = decode(&r.bytes).unwrap();
    let hex = |k: &[u8; 32]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let got: Vec<String> = stek.keys.iter().map(hex).collect();
    assert_eq!(
        got,
        [
            "f84f992475bcb7d72963db6da1b4e096a26e67cc7c4731f81cd6aae21ad48839",
            "e40908d90bf6f55ba4abdf09d08387f51646166dfb9515849c45d76062b6c2bc",
            "df356705fe94ac706ee437dd5da2ab208f72acd1b217a7d49c050a30b64d2c46",
        ]
    );
    assert_eq!(stek.last_rotation, 1_699_920_000);
    assert_eq!(stek.next_rotation, 1_700_006_460);
}

#[test]
fn rotation_times_and_grace() {
    assert_eq!(default_grace(10), 5);
    assert_eq!(default_grace(86_400), 60);
    assert_eq!(
        rotation_times(19_675, 86_400, 60),
        (1_699_920_000, 1_700_006_460)
    );
}

#[test]
fn rfc3339_as_go_writes_it() {
    let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
    assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12Z");
    assert_eq!(
        rfc3339_nano(UNIX_EPOCH + Duration::from_secs(951_782_400)),
        "2000-02-29T00:00:00Z"
    );
    assert_eq!(parse_rfc3339("2023-11-14T22:13:20.12Z"), Some(t));
    assert_eq!(
        parse_rfc3339("2023-11-14T23:13:20.120000000+01:00"),
        Some(t)
    );
    assert_eq!(
        parse_rfc3339("2000-02-29T00:00:00Z"),
        Some(UNIX_EPOCH + Duration::from_secs(951_782_400))
    );
    for bad in [
        "",
        "2023-11-14 22:13:20Z",
        "2023-13-14T22:13:20Z",
        "2023-11-14T22:13:20",
        "2023-11-14T22:13:20.Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn lock_content_and_staleness() {
    let now = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
    assert_eq!(
        lock_content(now),
        "{\"created\":\"2023-11-14T22:13:20.000000005Z\",\"updated\":\"2023-11-14T22:13:20.000000005Z\"}\n"
    );
    let c = lock_content(now);
    assert!(matches!(
        lock_state(c.as_bytes(), now + Duration::from_secs(10)),
        LockState::Fresh(_)
    ));
    assert!(matches!(
        lock_state(c.as_bytes(), now + Duration::from_secs(11)),
        LockState::Stale(_)
    ));
    assert_eq!(lock_state(b"", now), LockState::Unreadable);
    // certmagic looks at `updated` first.
    let refreshed = br#"{"created":"2023-11-14T22:00:00Z","updated":"2023-11-14T23:13:19+01:00"}"#;
    assert!(matches!(lock_state(refreshed, now), LockState::Fresh(_)));
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn install_writes_atomically_and_releases_the_lock() {
    let d = tempdir();
    let data = encode(&[seed(7)], 1_000_000, 1_000_100).unwrap();
    install(
        d.path(),
        &data,
        None,
        Duration::from_secs(1),
        &SystemTime::now,
    )
    .unwrap();
    assert_eq!(fs::read(d.path().join(STEK_FILE)).unwrap(), data.as_slice());
    assert!(!d.path().join(LOCK_FILE).exists(), "lock released");
    let names: Vec<_> = fs::read_dir(d.path().join("stek"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["stek.bin"], "no temporary file left");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d.path().join(STEK_FILE)), 0o600);
    assert_eq!(mode(&d.path().join("stek")), 0o700);
    assert_eq!(mode(&d.path().join("locks")), 0o700);
    assert_eq!(
        read_installed(d.path()).unwrap().unwrap().as_slice(),
        data.as_slice()
    );
}

#[test]
fn a_fresh_lock_is_waited_for_then_refused_and_nothing_changes() {
    let d = tempdir();
    let old = encode(&[seed(1)], 1_000_000, 1_000_100).unwrap();
    install(
        d.path(),
        &old,
        None,
        Duration::from_secs(1),
        &SystemTime::now,
    )
    .unwrap();
    let now = SystemTime::now();
    fs::write(d.path().join(LOCK_FILE), lock_content(now)).unwrap();
    let new = encode(&[seed(2)], 1_000_100, 1_000_200).unwrap();
    let err = install(d.path(), &new, None, Duration::from_millis(300), &|| now).unwrap_err();
    assert!(matches!(err, CaddyError::LockHeld { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("locks/stek_check.lock is still held"),
        "{err}"
    );
    assert_eq!(
        fs::read(d.path().join(STEK_FILE)).unwrap(),
        old.as_slice(),
        "untouched"
    );
    assert!(
        d.path().join(LOCK_FILE).exists(),
        "someone else's lock is left alone"
    );
    assert_eq!(
        fs::read_dir(d.path().join("stek")).unwrap().count(),
        1,
        "no temp file"
    );
}

#[test]
fn a_stale_lock_is_removed_and_taken() {
    let d = tempdir();
    fs::create_dir_all(d.path().join("locks")).unwrap();
    let then = SystemTime::now() - Duration::from_secs(11);
    fs::write(d.path().join(LOCK_FILE), lock_content(then)).unwrap();
    let data = encode(&[seed(3)], 1_000_000, 1_000_100).unwrap();
    install(
        d.path(),
        &data,
        None,
        Duration::from_secs(1),
        &SystemTime::now,
    )
    .unwrap();
    assert_eq!(fs::read(d.path().join(STEK_FILE)).unwrap(), data.as_slice());
    assert!(!d.path().join(LOCK_FILE).exists());
}

#[test]
fn the_lock_is_exclusive_while_held() {
    let d = tempdir();
    let held = StekLock::acquire(d.path(), None, Duration::from_secs(1), &SystemTime::now).unwrap();
    let content = fs::read(d.path().join(LOCK_FILE)).unwrap();
    assert!(matches!(
        lock_state(&content, SystemTime::now()),
        LockState::Fresh(_)
    ));
    let second = StekLock::acquire(d.path(), None, Duration::from_millis(200), &SystemTime::now);
    assert!(matches!(second, Err(CaddyError::LockHeld { .. })));
    drop(held);
    assert!(!d.path().join(LOCK_FILE).exists());
    StekLock::acquire(d.path(), None, Duration::from_secs(1), &SystemTime::now).unwrap();
}
