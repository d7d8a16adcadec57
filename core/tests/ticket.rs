//! Ticket keys against values computed independently with Python's `hashlib.blake2b`
//! (the SPEC.md §4 recipe; the script is in the comment of each test).
#![allow(clippy::unwrap_used)]

use keywheel::ticket::TicketSchedule;
use keywheel::{Error, LabelKey, Layout, Lookup, MainKey, Role, Strength, TicketKeys};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main_key() -> MainKey {
    let bytes: Vec<u8> = (0u8..32).collect();
    MainKey::from_bytes(&bytes).unwrap()
}

// M = bytes(range(32)); lk = blake2b(b'example.com', digest_size=32, key=M, person=b'keywheel.label')
// d(K, ctx, n, l) = blake2b(b'', digest_size=l, key=K, salt=LE64(n)+0^8, person=ctx+0^8)
// name = d(lk, b'kwtn-256', 19675, 16); aes|hmac = d(lk, b'kwtk-256', 19675, 64) (and -128, 32)
#[test]
fn hashlib_known_answers() {
    let lk = LabelKey::new(&main_key(), "example.com").unwrap();
    let k = lk.ticket_key(Strength::Aes256, 19675);
    assert_eq!(hex(k.name()), "eac1dd082ba610bd20235d0a9273192c");
    assert_eq!(
        hex(k.aes_key()),
        "0f34d69434a9feb714286e046e921df7a859a2b19eb7f889319a96ddce7382ff"
    );
    assert_eq!(
        hex(k.hmac_key()),
        "d64a9747a810430f0d8bbee6a8f45ffe9ef9357f876c73f0fac2f1607257f976"
    );
    let k = lk.ticket_key(Strength::Aes128, 19675);
    assert_eq!(hex(k.name()), "545260677a31a29977c0dc3d0ad29e5b");
    assert_eq!(hex(k.aes_key()), "37b66d2530b441599d69a4f615609cf7");
    assert_eq!(hex(k.hmac_key()), "3dad78fd00088ef29045deb072175344");
    assert_eq!(lk.ticket_name(Strength::Aes128, 19675), *k.name());
}

#[test]
fn record_layouts() {
    let lk = LabelKey::new(&main_key(), "example.com").unwrap();
    for strength in [Strength::Aes256, Strength::Aes128] {
        let k = lk.ticket_key(strength, 5);
        let n = strength.key_len();
        let mut out = [0u8; 80];
        assert_eq!(
            k.write_record(Layout::NameHmacAes, &mut out).unwrap(),
            16 + 2 * n
        );
        assert_eq!(&out[..16], k.name());
        assert_eq!(&out[16..16 + n], k.hmac_key());
        assert_eq!(&out[16 + n..16 + 2 * n], k.aes_key());
        k.write_record(Layout::NameAesHmac, &mut out).unwrap();
        assert_eq!(&out[16..16 + n], k.aes_key());
        assert_eq!(&out[16 + n..16 + 2 * n], k.hmac_key());
        let mut short = [0x11u8; 80];
        let err = k
            .write_record(Layout::NameAesHmac, &mut short[..16 + 2 * n - 1])
            .unwrap_err();
        assert_eq!(
            err,
            Error::BufferTooSmall {
                len: 16 + 2 * n - 1,
                needed: 16 + 2 * n
            }
        );
        assert!(short.iter().all(|&b| b == 0x11));
    }
}

#[test]
fn labels_and_purposes_are_separated() {
    let main = main_key();
    let a = LabelKey::new(&main, "a")
        .unwrap()
        .ticket_key(Strength::Aes256, 7);
    let b = LabelKey::new(&main, "b")
        .unwrap()
        .ticket_key(Strength::Aes256, 7);
    assert_ne!(a.name(), b.name());
    assert_ne!(a.aes_key(), b.aes_key());
    let a128 = LabelKey::new(&main, "a")
        .unwrap()
        .ticket_key(Strength::Aes128, 7);
    assert_ne!(a.name(), a128.name());
    assert_ne!(&a.aes_key()[..16], a128.aes_key());
    // The name is not a prefix or part of the key material.
    assert_ne!(&a.aes_key()[..16], a.name());
    assert_ne!(&a.hmac_key()[..16], a.name());
}

#[test]
fn label_length_is_checked() {
    let main = main_key();
    assert_eq!(
        LabelKey::new(&main, "").unwrap_err(),
        Error::LabelLength { len: 0 }
    );
    let long = "x".repeat(65);
    let err = LabelKey::new(&main, &long).unwrap_err();
    assert_eq!(
        err.to_string(),
        "label is 65 bytes; it must be 1..=64 bytes of UTF-8"
    );
    assert!(LabelKey::new(&main, &"x".repeat(64)).is_ok());
    // 64 bytes of UTF-8, 16 characters.
    assert!(LabelKey::new(&main, &"é".repeat(32)).is_ok());
    assert!(LabelKey::new(&main, &"é".repeat(33)).is_err());
}

#[test]
fn schedule_window_and_limits() {
    let s = TicketSchedule::new(3600, 2).unwrap();
    assert_eq!(s.max_ticket_age(), 3 * 3600);
    let slot = s.at(1_700_000_000).unwrap();
    assert_eq!(slot.current(), 1_700_000_000 / 3600);
    assert_eq!(slot.next_rotation(), (1_700_000_000 / 3600 + 1) * 3600);
    let c = slot.current();
    let window: Vec<_> = slot.window().collect();
    assert_eq!(
        window,
        vec![
            (c - 2, Role::Previous(2)),
            (c - 1, Role::Previous(1)),
            (c, Role::Current),
            (c + 1, Role::Next)
        ]
    );
    assert_eq!(slot.role(c - 3), None);
    assert_eq!(slot.role(c + 2), None);
    assert_eq!(slot.counter(Role::Previous(3)), None);
    assert_eq!(slot.counter(Role::Previous(0)), None);

    // (keep + 1) * interval <= 7 days.
    assert!(TicketSchedule::new(86_400, 6).is_ok());
    let err = TicketSchedule::new(86_400, 7).unwrap_err();
    assert_eq!(
        err,
        Error::Keep {
            keep: 7,
            interval: 86_400
        }
    );
    assert_eq!(
        err.to_string(),
        "keep 7 with interval 86400 accepts tickets up to 691200 s old; (keep + 1) * interval must be at most 604800 (7 days, RFC 8446), so keep must be in 0..=6"
    );
    assert!(TicketSchedule::new(604_800, 0).is_ok());
    assert!(TicketSchedule::new(604_800, 1).is_err());
    assert!(TicketSchedule::new(3601, 0).is_err());
    assert!(TicketSchedule::new(3600, u64::MAX).is_err());
}

#[test]
fn lookup_by_name() {
    let lk = LabelKey::new(&main_key(), "svc").unwrap();
    let s = TicketSchedule::new(3600, 2).unwrap();
    let now = 1_700_000_000;
    let keys = TicketKeys::new(&main_key(), "svc", Strength::Aes256, s).unwrap();
    let c = s.at(now).unwrap().current();
    assert_eq!(c, now / 3600);
    let st = Strength::Aes256;
    let lookup = |name: &[u8]| keys.lookup(name, now).unwrap();
    match lookup(lk.ticket_name(st, c).as_slice()) {
        Lookup::Current(k) => assert_eq!(k.counter(), c),
        other => panic!("{other:?}"),
    }
    match lookup(lk.ticket_name(st, c + 1).as_slice()) {
        Lookup::Accepted(k, Role::Next) => assert_eq!(k.counter(), c + 1),
        other => panic!("{other:?}"),
    }
    match lookup(lk.ticket_name(st, c - 2).as_slice()) {
        Lookup::Accepted(k, Role::Previous(2)) => assert_eq!(k.counter(), c - 2),
        other => panic!("{other:?}"),
    }
    for name in [
        lk.ticket_name(st, c - 3),
        lk.ticket_name(st, c + 2),
        lk.ticket_name(Strength::Aes128, c),
        LabelKey::new(&main_key(), "other")
            .unwrap()
            .ticket_name(st, c),
    ] {
        assert!(matches!(lookup(&name), Lookup::NotFound));
    }
    assert!(matches!(lookup(&[0u8; 15]), Lookup::NotFound));
    assert_eq!(
        keys.lookup(&[0u8; 16], 999_999).unwrap_err(),
        Error::Time { value: 999_999 }
    );
}

#[test]
fn ticket_keys_current_and_by_counter() {
    let lk = LabelKey::new(&main_key(), "example.com").unwrap();
    let s = TicketSchedule::new(86_400, 1).unwrap();
    let keys = TicketKeys::new(&main_key(), "example.com", Strength::Aes256, s).unwrap();
    assert_eq!(keys.label(), "example.com");
    // 19675 * 86400 = 1699920000: the hashlib answers of `hashlib_known_answers`.
    let k = keys.current(1_699_920_000 + 86_399).unwrap();
    assert_eq!(k.counter(), 19675);
    assert_eq!(hex(k.name()), "eac1dd082ba610bd20235d0a9273192c");
    assert_eq!(keys.by_counter(19675).unwrap().aes_key(), k.aes_key());
    assert_eq!(
        keys.name_by_counter(7).unwrap(),
        lk.ticket_name(Strength::Aes256, 7)
    );
    assert!(matches!(
        TicketKeys::new(&main_key(), "", Strength::Aes256, s),
        Err(Error::LabelLength { len: 0 })
    ));
}

#[test]
fn slot_window_never_underflows() {
    // keep is as large as the interval allows; the oldest counter stays above zero.
    let s = TicketSchedule::new(10, 60_479).unwrap();
    let slot = s.at(keywheel::MIN_TIME).unwrap();
    let w: Vec<_> = slot.window().collect();
    assert_eq!(w.len(), 60_481);
    assert_eq!(w[0], (100_000 - 60_479, Role::Previous(60_479)));
    assert_eq!(w[60_479], (100_000, Role::Current));
    assert_eq!(w[60_480], (100_001, Role::Next));
}

#[test]
fn debug_shows_no_secret() {
    let lk = LabelKey::new(&main_key(), "svc").unwrap();
    assert_eq!(format!("{lk:?}"), "LabelKey(\"svc\", ..)");
    let k = lk.ticket_key(Strength::Aes256, 9);
    let dbg = format!("{k:?}");
    assert!(dbg.starts_with("TicketKey { counter: 9, name: "));
    assert!(!dbg.contains(&hex(&k.aes_key()[..4])));
}

mod formats {
    use super::*;
    use keywheel::{FORMATS, Format};

    const NOW: u64 = 1_700_000_000;

    fn b64(data: &[u8]) -> String {
        // Independent of the crate's encoder: the RFC 4648 test vectors pin this one.
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in data.chunks(3) {
            let n = c.len();
            let v = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for j in 0..4 {
                s.push(if j <= n {
                    A[((v >> (18 - 6 * j)) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        s
    }

    #[test]
    fn rfc4648_vectors_for_the_test_encoder() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(i.as_bytes()), o);
        }
    }

    fn record(k: &keywheel::TicketKey, layout: Layout) -> Vec<u8> {
        let mut v = k.name().to_vec();
        match layout {
            Layout::NameHmacAes => {
                v.extend_from_slice(k.hmac_key());
                v.extend_from_slice(k.aes_key());
            }
            Layout::NameAesHmac => {
                v.extend_from_slice(k.aes_key());
                v.extend_from_slice(k.hmac_key());
            }
        }
        v
    }

    #[test]
    fn every_format_renders_the_documented_file() {
        let lk = LabelKey::new(&main_key(), "svc").unwrap();
        let schedule = TicketSchedule::new(3600, 1).unwrap();
        let c = NOW / 3600;
        for f in FORMATS {
            assert_eq!(Format::from_name(f.name()), Some(f));
            let st = f.strength();
            let keys = TicketKeys::new(&main_key(), "svc", st, schedule).unwrap();
            let key = |n| lk.ticket_key(st, n);
            // The order SPEC.md §4.4 gives for each server.
            let (order, layout, b64_lines): (Vec<u64>, Layout, bool) = match f.name() {
                "nginx" => (vec![c, c + 1, c - 1], Layout::NameHmacAes, false),
                "nginx48" => (vec![c, c + 1, c - 1], Layout::NameAesHmac, false),
                "haproxy" | "haproxy48" => (vec![c - 1, c, c + 1], Layout::NameAesHmac, true),
                "apache" => (vec![c], Layout::NameHmacAes, false),
                "ats" => (vec![c, c + 1, c - 1], Layout::NameHmacAes, false),
                "openssl" => (vec![c], Layout::NameHmacAes, false),
                other => panic!("format {other} has no documented file"),
            };
            let mut expected = Vec::new();
            for &n in &order {
                let r = record(&key(n), layout);
                assert_eq!(r.len(), if st == Strength::Aes256 { 80 } else { 48 });
                if b64_lines {
                    expected.extend_from_slice(b64(&r).as_bytes());
                    expected.push(b'\n');
                } else {
                    expected.extend_from_slice(&r);
                }
            }
            let mut out = vec![0u8; 2048];
            let n = keys.render(f, NOW, &mut out).unwrap();
            assert_eq!(n, keys.rendered_len(f).unwrap());
            assert_eq!(&out[..n], &expected[..], "{}", f.name());
            // The iterator gives the same keys, in file order.
            let counters: Vec<u64> = keys
                .keys(f, NOW)
                .unwrap()
                .map(|(_, k)| k.counter())
                .collect();
            assert_eq!(counters, order, "{}", f.name());
            // The installed file parses back into the names, in file order.
            let per_file = f.record_len();
            let names: Vec<_> = if f.files() == keywheel::Files::OnePerKey {
                out[..n].chunks(per_file).flat_map(|r| f.names(r)).collect()
            } else {
                f.names(&out[..n]).collect()
            };
            let want: Vec<_> = order.iter().map(|&n| Some(*key(n).name())).collect();
            assert_eq!(names, want, "{}", f.name());
            // Too small a buffer: error, nothing written.
            let mut small = vec![0x22u8; n - 1];
            assert!(matches!(
                keys.render(f, NOW, &mut small),
                Err(Error::BufferTooSmall { .. })
            ));
            assert!(small.iter().all(|&b| b == 0x22));
            // The other strength is refused.
            let other = if st == Strength::Aes256 {
                Strength::Aes128
            } else {
                Strength::Aes256
            };
            let wrong = TicketKeys::new(&main_key(), "svc", other, schedule).unwrap();
            assert_eq!(
                wrong.render(f, NOW, &mut out).unwrap_err().to_string(),
                format!("the key's strength does not match format {}", f.name())
            );
        }
    }

    /// Found by AFL (fuzz/, target c_api): a huge decrypt-only count overflowed the length
    /// (a panic in debug builds, a wrong small length in release builds).
    #[test]
    fn rollover_len_refuses_counts_no_buffer_holds() {
        let schedule = TicketSchedule::new(3600, 1).unwrap();
        for f in FORMATS {
            let keys = TicketKeys::new(&main_key(), "svc", f.strength(), schedule).unwrap();
            let one = keys.rendered_len(f).unwrap();
            for count in [usize::MAX, usize::MAX - 1, usize::MAX / 2, usize::MAX / one] {
                let got = keys.rollover_len(f, count);
                if ["nginx", "nginx48", "ats"].contains(&f.name()) {
                    let err = got.unwrap_err();
                    assert_eq!(err, Error::DecryptOnlyCount { count }, "{}", f.name());
                    assert_eq!(
                        err.to_string(),
                        format!(
                            "decrypt-only count {count} is too large: the output would be longer \
                             than {} bytes, more than any buffer holds",
                            isize::MAX
                        )
                    );
                } else {
                    // The other formats hold the main key's keys alone, whatever the count.
                    assert_eq!(got, Ok(one), "{}", f.name());
                }
            }
            // The largest count that fits is still answered.
            if ["nginx", "nginx48", "ats"].contains(&f.name()) {
                let max = (usize::MAX >> 1) / one - 1;
                assert_eq!(keys.rollover_len(f, max), Ok((max + 1) * one));
            }
        }
    }

    #[test]
    fn rollover_appends_decrypt_only_windows() {
        let other_main = MainKey::from_bytes(&[7u8; 32]).unwrap();
        let schedule = TicketSchedule::new(3600, 1).unwrap();
        let c = NOW / 3600;
        for f in FORMATS {
            let st = f.strength();
            let keys = TicketKeys::new(&main_key(), "svc", st, schedule).unwrap();
            let previous = TicketKeys::new(&other_main, "svc", st, schedule).unwrap();
            let len = keys.rollover_len(f, 1).unwrap();
            let mut out = vec![0u8; len];
            assert_eq!(
                keys.render_rollover(f, NOW, &[&previous], &mut out)
                    .unwrap(),
                len
            );
            let mut own = vec![0u8; keys.rendered_len(f).unwrap()];
            keys.render(f, NOW, &mut own).unwrap();
            // SPEC §5.2: nginx, nginx48 and ats get the other main key's window after their
            // own (current, next, previous 1); the others the main key's keys alone.
            if ["nginx", "nginx48", "ats"].contains(&f.name()) {
                let old = LabelKey::new(&other_main, "svc").unwrap();
                let layout = f.layout();
                let mut expected = own.clone();
                for n in [c, c + 1, c - 1] {
                    expected.extend_from_slice(&record(&old.ticket_key(st, n), layout));
                }
                assert_eq!(out, expected, "{}", f.name());
            } else {
                assert_eq!(out, own, "{}", f.name());
            }
        }
    }

    #[test]
    fn names_of_a_damaged_file() {
        let haproxy = Format::from_name("haproxy").unwrap();
        let names: Vec<_> = haproxy.names(b"not base64!\n\nAAAA\n").collect();
        assert_eq!(names, [None, None]);
        let nginx = Format::from_name("nginx").unwrap();
        // A record shorter than a name is skipped; a longer one gives its first 16 bytes.
        assert_eq!(nginx.names(&[1u8; 15]).count(), 0);
        assert_eq!(
            nginx.names(&[1u8; 17]).collect::<Vec<_>>(),
            [Some([1u8; 16])]
        );
    }

    #[test]
    fn haproxy_needs_three_keys() {
        let schedule = TicketSchedule::new(3600, 2).unwrap();
        let mut out = vec![0u8; 2048];
        let haproxy = Format::from_name("haproxy").unwrap();
        let keys = TicketKeys::new(&main_key(), "svc", Strength::Aes256, schedule).unwrap();
        let err = keys.render(haproxy, NOW, &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "keep 2 does not fit format haproxy: HAProxy uses exactly 3 keys (previous, current, next), so keep must be 1"
        );
        // nginx takes any keep: current, next, previous 1, previous 2.
        let nginx = Format::from_name("nginx").unwrap();
        assert_eq!(keys.render(nginx, NOW, &mut out).unwrap(), 4 * 80);
        let roles: Vec<String> = nginx.roles(2).map(|r| r.to_string()).collect();
        assert_eq!(roles, ["current", "next", "previous 1", "previous 2"]);
        let roles: Vec<String> = haproxy.roles(1).map(|r| r.to_string()).collect();
        assert_eq!(roles, ["previous 1", "current", "next"]);
    }

    #[test]
    fn format_names() {
        // The names of SPEC.md, as the CLI and every binding spell them, with their records.
        let expected = [
            ("nginx", 80),
            ("nginx48", 48),
            ("haproxy", 109),
            ("haproxy48", 65),
            ("apache", 48),
            ("ats", 48),
            ("openssl", 80),
        ];
        let names: Vec<_> = FORMATS.iter().map(|f| (f.name(), f.record_len())).collect();
        assert_eq!(names, expected);
        assert_eq!(Format::from_name("NGINX"), None);
        for s in Strength::ALL {
            assert_eq!(Strength::from_name(s.as_str()), Some(s));
        }
        assert_eq!(Strength::Aes256.as_str(), "aes256");
        assert_eq!(
            Layout::from_name("name_aes_hmac"),
            Some(Layout::NameAesHmac)
        );
        assert_eq!(Layout::from_name("aes"), None);
    }
}
