//! Tests of forward-secure mode. Expected bytes come from FORWARD_SECRECY.md's worked example
//! (computed by two independent implementations); everything else checks properties that hold
//! only if the construction is right: leaves from an advanced state equal leaves from the root,
//! an advanced state is byte for byte the state made at its start, every node starts at or
//! after `s0`, and the BLAKE2b counts stay within their bounds. The independent Python
//! implementation (tests/cross/test_forward_independent.py) checks the bytes on random inputs.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

extern crate std;

use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::tree::compressions;
use super::{FS_END, STATE_FILE_MAX_LEN, State, cover_len, state_file_len};
use crate::schedule::Schedule;
use crate::{Error, StateError, StateFileError, Strength};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn seed(tag: u8) -> [u8; 32] {
    core::array::from_fn(|i| u8::try_from(i).unwrap().wrapping_mul(31) ^ tag)
}

fn file(state: &State) -> Vec<u8> {
    let mut out = vec![0u8; STATE_FILE_MAX_LEN];
    let n = state.to_bytes(&mut out).unwrap();
    out.truncate(n);
    out
}

/// Compressions run by `f`.
fn cost<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = compressions();
    let r = f();
    (r, compressions() - before)
}

const EXAMPLE_SEED: [u8; 32] = {
    let mut s = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        s[i] = i as u8;
        i += 1;
    }
    s
};

#[test]
fn worked_example() {
    let root = State::new(&EXAMPLE_SEED, 0).unwrap();
    let bytes = file(&root);
    assert_eq!(
        hex(&bytes[25..57]),
        "c6e66b6bcc5afdfd511d47b63a3bb6e4344d4395f0d5406e0f9a9e296e311716"
    );
    assert_eq!(hex(&root.root_id()), "75f95ca3c7860947");
    let state = State::new(&EXAMPLE_SEED, 1_749_978_000).unwrap();
    assert_eq!(state.node_count(), 24);
    let bytes = file(&state);
    assert_eq!(bytes.len(), 809);
    assert_eq!(&bytes[..4], b"KWFS");
    assert_eq!(hex(&bytes[809 - 16..]), "14ba6e55533a3aaec0f7e5d3268598e2");
    assert_eq!(
        hex(state.leaf(1_749_999_600).unwrap().bytes()),
        "67ae15ed231047e93ca1aa38e4195cfcb3a7ff432f0ae97c44d698e5eb528957"
    );
    let key = state
        .ticket_key("example.com", 3600, Strength::Aes256, 486_111)
        .unwrap();
    assert_eq!(hex(key.name()), "cc62ca55be0593d0b9ba96bcd13184f6");
    assert_eq!(
        format!("{state:?}"),
        "State { s0: 1749978000, nodes: 24, root_id: 75f95ca3c7860947, .. }"
    );
}

/// The canonical cover by its definition (FORWARD_SECRECY.md), as `(h, p)` in order.
fn canonical(s0: u64) -> Vec<(u32, u64)> {
    if s0 == 0 {
        return vec![(40, 0)];
    }
    let j = s0.trailing_zeros();
    let mut cover = vec![(j, s0 >> j)];
    for h in j + 1..40 {
        if (s0 >> h) & 1 == 0 {
            cover.push((h, (s0 >> h) + 1));
        }
    }
    cover
}

/// The cover is exactly the canonical one, its ranges tile `[s0, 2^40)` in order, and every
/// node starts at or after s0.
fn check_cover(state: &State) {
    let s0 = state.s0();
    let cover: Vec<_> = state.cover().collect();
    assert_eq!(cover, canonical(s0));
    assert_eq!(cover.len(), cover_len(s0));
    assert_eq!(state.node_count(), cover.len());
    assert!(cover.len() <= 40);
    let mut next = s0;
    for (h, p) in cover {
        assert!(p << h >= s0, "node ({h}, {p}) starts before s0 = {s0}");
        assert_eq!(p << h, next, "cover of {s0} not contiguous at ({h}, {p})");
        next = (p + 1) << h;
    }
    assert_eq!(next, FS_END);
}

const EDGES: [u64; 12] = [
    0,
    1,
    2,
    3,
    1 << 20,
    (1 << 20) - 1,
    (1 << 39) - 1,
    1 << 39,
    (1 << 39) + 1,
    FS_END - 2,
    FS_END - 1,
    1_749_978_000,
];

#[test]
fn edges_covers_and_leaves() {
    let seed = seed(7);
    let root = State::new(&seed, 0).unwrap();
    let mut points: Vec<u64> = EDGES.to_vec();
    points.extend((0..40).map(|k| 1u64 << k));
    points.extend((1..40).map(|k| (1u64 << k) - 1));
    for &s0 in &points {
        let state = State::new(&seed, s0).unwrap();
        check_cover(&state);
        assert_eq!(state.root_id(), root.root_id());
        for s in [s0, s0 + 1, s0 | 0xffff, FS_END - 1] {
            let s = s.min(FS_END - 1);
            assert_eq!(
                state.leaf(s).unwrap().bytes(),
                root.leaf(s).unwrap().bytes()
            );
        }
        if s0 > 0 {
            assert!(matches!(
                state.leaf(s0 - 1),
                Err(StateError::Punctured { .. })
            ));
        }
    }
    assert_eq!(State::new(&seed, FS_END - 1).unwrap().node_count(), 1);
    assert_eq!(State::new(&seed, 1).unwrap().node_count(), 40);
}

#[test]
fn refusals() {
    let seed = seed(1);
    assert_eq!(
        State::new(&seed, FS_END).unwrap_err(),
        StateError::TreeTime { value: FS_END }
    );
    assert_eq!(
        State::new(&seed[..31], 0).unwrap_err().to_string(),
        "seed is 31 bytes; it must be exactly 32 bytes"
    );
    assert_eq!(
        State::new(&[0u8; 33], 0).unwrap_err(),
        StateError::SeedLength { len: 33 }
    );
    let mut state = State::new(&seed, 1_749_978_000).unwrap();
    let before = file(&state);
    let err = state.advance(1_749_977_999).unwrap_err();
    assert_eq!(
        err.to_string(),
        "state starts at 1749978000 (2025-06-15T09:00:00Z); it cannot go back to 1749977999 \
         (2025-06-15T08:59:59Z)"
    );
    assert_eq!(
        state.advance(FS_END).unwrap_err().to_string(),
        "time 1099511627776 is past the forward-secure tree; it must be in 0..=1099511627775"
    );
    assert_eq!(file(&state), before, "a refused advance changed the state");
    state.advance(1_749_978_000).unwrap();
    assert_eq!(file(&state), before, "advancing to s0 changed the state");
    assert_eq!(
        state
            .ticket_key("example.com", 3600, Strength::Aes256, 486_105 - 1)
            .unwrap_err()
            .to_string(),
        "state starts at 1749978000 (2025-06-15T09:00:00Z); the key for counter 486104 \
         (interval 3600) starts at 1749974400 (2025-06-15T08:00:00Z): it was punctured"
    );
    // The key whose interval starts exactly at s0 is still there.
    state
        .ticket_key("example.com", 3600, Strength::Aes256, 486_105)
        .unwrap();
    assert_eq!(
        state.leaf(0).unwrap_err().to_string(),
        "state starts at 1749978000 (2025-06-15T09:00:00Z); second 0 (1970-01-01T00:00:00Z) \
         is before it: it was punctured"
    );
    assert_eq!(
        state
            .tfo_key(3600, u64::MAX, &mut [0; 16])
            .unwrap_err()
            .to_string(),
        "the key for counter 18446744073709551615 (interval 3600) starts past the \
         forward-secure tree; counter * interval must be in 0..=1099511627775"
    );
    assert_eq!(
        state.tfo_key(11, 1, &mut [0; 16]).unwrap_err(),
        StateError::Input(Error::Interval { value: 11 })
    );
    assert_eq!(
        state.label_key("", 3600, 486_105).unwrap_err(),
        StateError::Input(Error::LabelLength { len: 0 })
    );
    // Far dates print with more year digits; 2000-02-29 and 2100-03-01 test the leap rules.
    let late = State::new(&seed, FS_END - 1).unwrap();
    assert_eq!(
        late.leaf(0).unwrap_err().to_string(),
        "state starts at 1099511627775 (36812-02-20T00:36:15Z); second 0 \
         (1970-01-01T00:00:00Z) is before it: it was punctured"
    );
    for (t, iso) in [
        (951_782_400, "2000-02-29T00:00:00Z"),
        (4_107_542_400, "2100-03-01T00:00:00Z"),
        (1_735_689_599, "2024-12-31T23:59:59Z"),
    ] {
        let s = State::new(&seed, t + 1).unwrap();
        let msg = s.leaf(t).unwrap_err().to_string();
        assert!(msg.contains(&format!("second {t} ({iso})")), "{msg}");
    }
}

#[test]
fn worst_case_compressions() {
    let seed = seed(3);
    // Leaf from the root: 40 compressions, the most.
    let root = State::new(&seed, 0).unwrap();
    let (_, n) = cost(|| root.leaf(FS_END - 1).unwrap());
    assert_eq!(n, 40);
    // Advance from the root to 1: 39 levels with two children, one with one: 79, the most.
    let mut state = State::new(&seed, 0).unwrap();
    let (_, n) = cost(|| state.advance(1).unwrap());
    assert_eq!(n, 79);
    assert_eq!(state.node_count(), 40);
    // From 40 nodes to 1: the 39 replaced nodes are wiped.
    state.advance(FS_END - 1).unwrap();
    assert_eq!(state.node_count(), 1);
    assert!(state.unused_slots_are_zero());
    let state = State::new(&seed, 1).unwrap();
    // Leaf at s0 from a state at an odd s0: the first node is the leaf itself.
    let (_, n) = cost(|| state.leaf(1).unwrap());
    assert_eq!(n, 0);
    // A ticket key: leaf, label key (key block + label block), name and key derivations
    // (counted only the forward-secure hashes: leaf + 2).
    let state = State::new(&seed, 1_749_978_000).unwrap();
    let (_, n) = cost(|| state.label_key("example.com", 3600, 486_111).unwrap());
    assert!(n <= 42, "{n}");
}

#[test]
fn tfo_keys_are_the_per_counter_keys() {
    let seed = seed(9);
    let state = State::new(&seed, 1_749_900_000).unwrap();
    let schedule = Schedule::new(86_400).unwrap();
    let now = 1_750_000_000;
    let keys = state.tfo_keys(&schedule, now).unwrap();
    let slot = schedule.at(now).unwrap();
    let mut p = [0u8; 16];
    let mut b = [0u8; 16];
    state.tfo_key(86_400, slot.primary(), &mut p).unwrap();
    state.tfo_key(86_400, slot.backup(), &mut b).unwrap();
    assert_eq!(keys.primary(), &p);
    assert_eq!(keys.backup(), &b);
    assert_ne!(p, b);
    // Backup = primary - 1 at 1750000000 % 86400 = 21600 < 43200: it starts at 1749859200,
    // before the state's start.
    assert!(matches!(
        state.tfo_keys(&schedule, now - 30_000),
        Err(StateError::Input(Error::KeyPunctured { .. }))
    ));
}

// --- malformed state files ----------------------------------------------------------------

fn state_file_error(bytes: &[u8]) -> StateFileError {
    match State::from_bytes(bytes) {
        Ok(_) => panic!("a malformed state file was accepted: {}", hex(bytes)),
        Err(StateError::StateFile(problem)) => {
            let message = StateError::StateFile(problem).to_string();
            assert!(message.starts_with("state file: "), "{message}");
            assert!(message.len() > 30, "{message}");
            problem
        }
        Err(other) => panic!("not a state file error: {other}"),
    }
}

/// Rewrites the checksum of a (modified) file so that only the field under test is wrong.
fn reseal(bytes: &mut [u8]) {
    let n = bytes.len();
    let mut sum = [0u8; 16];
    super::tree::unkeyed(b"keywheel.fsck", &bytes[..n - 16], &mut sum);
    bytes[n - 16..].copy_from_slice(&sum);
}

#[test]
fn each_field_wrong() {
    let good = file(&State::new(&seed(5), 1_749_978_000).unwrap());
    let back = State::from_bytes(&good).unwrap();
    assert_eq!(file(&back), good);
    assert_eq!(back.s0(), 1_749_978_000);

    let with = |at: usize, value: &[u8]| {
        let mut b = good.clone();
        b[at..at + value.len()].copy_from_slice(value);
        reseal(&mut b);
        b
    };
    let cases: Vec<(Vec<u8>, StateFileError, &str)> = vec![
        (
            with(0, b"KWFT"),
            StateFileError::Magic { found: *b"KWFT" },
            "state file: bad magic 4b574654: not a keywheel state file (it must start with \
             \"KWFS\", 4b574653)",
        ),
        (
            with(4, &[2]),
            StateFileError::Version { value: 2 },
            "state file: version 2 is not supported; it must be 1",
        ),
        (
            with(5, &[41]),
            StateFileError::Depth { value: 41 },
            "state file: depth 41 is not supported; it must be 40",
        ),
        (
            with(6, &[1, 0]),
            StateFileError::Flags { value: 1 },
            "state file: flags 0x0001 are not supported; they must be 0",
        ),
        (
            with(16, &FS_END.to_le_bytes()),
            StateFileError::Start { value: FS_END },
            "state file: start 1099511627776 is out of range; it must be in 0..=1099511627775",
        ),
        (
            with(24, &[23]),
            StateFileError::NodeCount {
                count: 23,
                start: 1_749_978_000,
                expected: 24,
            },
            "state file: node count 23 is wrong: a state starting at 1749978000 has exactly 24 \
             nodes",
        ),
        (
            // A start whose cover has another size, with the node count left at 24.
            with(16, &1_749_978_001u64.to_le_bytes()),
            StateFileError::NodeCount {
                count: 24,
                start: 1_749_978_001,
                expected: cover_len(1_749_978_001),
            },
            "state file: node count 24 is wrong: a state starting at 1749978001 has exactly 27 \
             nodes",
        ),
        (
            good[..808].to_vec(),
            StateFileError::Truncated {
                len: 808,
                expected: 809,
            },
            "state file: truncated: 808 bytes; its header announces 809 bytes",
        ),
        (
            [&good[..], &[0]].concat(),
            StateFileError::Trailing {
                len: 810,
                expected: 809,
            },
            "state file: trailing bytes: 810 bytes; its header announces 809 bytes",
        ),
        (
            good[..24].to_vec(),
            StateFileError::TruncatedHeader { len: 24 },
            "state file: truncated: 24 bytes, shorter than the 25-byte header",
        ),
        (
            {
                let mut b = good.clone();
                b[100] ^= 1;
                b
            },
            StateFileError::Checksum,
            "state file: checksum mismatch: the file is corrupt",
        ),
        (
            {
                let mut b = good.clone();
                b[808] ^= 0x80;
                b
            },
            StateFileError::Checksum,
            "state file: checksum mismatch: the file is corrupt",
        ),
        (
            Vec::new(),
            StateFileError::TruncatedHeader { len: 0 },
            "state file: truncated: 0 bytes, shorter than the 25-byte header",
        ),
        (
            b"{\"key\": 1}".to_vec(),
            StateFileError::Magic { found: *b"{\"ke" },
            "state file: bad magic 7b226b65: not a keywheel state file (it must start with \
             \"KWFS\", 4b574653)",
        ),
    ];
    for (bytes, problem, message) in cases {
        assert_eq!(state_file_error(&bytes), problem);
        assert_eq!(StateError::StateFile(problem).to_string(), message);
    }
}

/// Every truncation, extensions, every single-bit flip and thousands of random multi-byte
/// corruptions of two files are refused with a state-file error.
#[test]
fn thousands_of_malformed_files() {
    let mut refused = 0usize;
    for s0 in [0, 1_749_978_000, 1] {
        let good = file(&State::new(&seed(11), s0).unwrap());
        assert_eq!(good.len(), state_file_len(cover_len(s0)));
        for len in 0..good.len() {
            let problem = state_file_error(&good[..len]);
            let expected = if len < 25 {
                StateFileError::TruncatedHeader { len }
            } else {
                StateFileError::Truncated {
                    len,
                    expected: good.len(),
                }
            };
            assert_eq!(problem, expected);
            refused += 1;
        }
        for extra in 1..=64 {
            let mut long = good.clone();
            long.extend((0..extra).map(|i| u8::try_from(i).unwrap()));
            assert_eq!(
                state_file_error(&long),
                StateFileError::Trailing {
                    len: good.len() + extra,
                    expected: good.len()
                }
            );
            refused += 1;
        }
        for bit in 0..good.len() * 8 {
            let mut flipped = good.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let problem = state_file_error(&flipped);
            let expected_field = match bit / 8 {
                0..=3 => matches!(problem, StateFileError::Magic { .. }),
                4 => matches!(problem, StateFileError::Version { .. }),
                5 => matches!(problem, StateFileError::Depth { .. }),
                6 | 7 => matches!(problem, StateFileError::Flags { .. }),
                16..=23 => matches!(
                    problem,
                    StateFileError::Start { .. }
                        | StateFileError::NodeCount { .. }
                        | StateFileError::Checksum
                ),
                24 => matches!(problem, StateFileError::NodeCount { .. }),
                _ => problem == StateFileError::Checksum,
            };
            assert!(expected_field, "bit {bit}: {problem:?}");
            refused += 1;
        }
    }
    assert!(refused > 8000, "{refused}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Leaves of an advanced state equal the root's; advancing equals making the state anew.
    #[test]
    fn advanced_states_are_canonical(
        tag in any::<u8>(),
        a in 0..FS_END,
        b in 0..FS_END,
        offset in 0u64..1 << 20,
    ) {
        let seed = seed(tag);
        let (s0, s1) = (a.min(b), a.max(b));
        let root = State::new(&seed, 0).unwrap();
        let mut state = State::new(&seed, s0).unwrap();
        check_cover(&state);
        let s = (s0 + offset).min(FS_END - 1);
        let (leaf, n) = cost(|| state.leaf(s).unwrap());
        prop_assert!(n <= 40);
        let expected = root.leaf(s).unwrap();
        prop_assert_eq!(leaf.bytes(), expected.bytes());
        let (_, n) = cost(|| state.advance(s1).unwrap());
        prop_assert!(n <= 79, "advance {} -> {}: {} compressions", s0, s1, n);
        prop_assert!(state.unused_slots_are_zero(), "advance left a replaced node in place");
        let fresh = State::new(&seed, s1).unwrap();
        prop_assert_eq!(file(&state), file(&fresh));
        check_cover(&state);
        if s1 > 0 {
            let punctured = matches!(state.leaf(s1 - 1), Err(StateError::Punctured { .. }));
            prop_assert!(punctured);
        }
        prop_assert!(state.advance(s1.saturating_sub(1)).is_err() || s1 == 0);
        // A state read back from its file is the same state.
        prop_assert_eq!(file(&State::from_bytes(&file(&state)).unwrap()), file(&fresh));
    }

    /// Ticket and TFO keys from an advanced state equal those from the root.
    #[test]
    fn keys_from_any_state(
        tag in any::<u8>(),
        interval in (5u64..=302_400).prop_map(|i| 2 * i),
        counter in 0u64..1 << 22,
        back in 0u64..1 << 30,
    ) {
        let seed = seed(tag);
        let start = counter * interval;
        prop_assume!(start < FS_END);
        let root = State::new(&seed, 0).unwrap();
        let state = State::new(&seed, start.saturating_sub(back % (start + 1))).unwrap();
        for strength in [Strength::Aes256, Strength::Aes128] {
            let a = state.ticket_key("svc", interval, strength, counter).unwrap();
            let b = root.ticket_key("svc", interval, strength, counter).unwrap();
            prop_assert_eq!(a.name(), b.name());
            prop_assert_eq!(a.aes_key(), b.aes_key());
        }
        let (mut x, mut y) = ([0u8; 16], [0u8; 16]);
        state.tfo_key(interval, counter, &mut x).unwrap();
        root.tfo_key(interval, counter, &mut y).unwrap();
        prop_assert_eq!(x, y);
    }

    /// Random bytes, and random files with a valid header, never panic and are refused.
    #[test]
    fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..1400)) {
        prop_assert!(State::from_bytes(&bytes).is_err());
        let mut b = bytes.clone();
        if b.len() >= 4 {
            b[..4].copy_from_slice(b"KWFS");
            prop_assert!(State::from_bytes(&b).is_err());
        }
    }
}

#[test]
fn ticket_keys_from_a_state() {
    use crate::ticket::TicketSchedule;
    use crate::{Lookup, TicketKeys};
    let state = State::new(&EXAMPLE_SEED, 1_749_978_000).unwrap();
    let schedule = TicketSchedule::new(3600, 2).unwrap();
    // At 1750000000 the counter is 486111 (the worked example's key), the window 486109..=486112.
    let now = 1_750_000_000;
    let keys =
        TicketKeys::from_state(&state, "example.com", Strength::Aes256, schedule, now).unwrap();
    // Its copy is punctured to the oldest key of the window; the caller's state is untouched.
    assert_eq!(keys.state_start().unwrap().0, 486_109 * 3600);
    assert_eq!(state.s0(), 1_749_978_000);
    let current = keys.current(now).unwrap();
    assert_eq!(current.counter(), 486_111);
    assert_eq!(hex(current.name()), "cc62ca55be0593d0b9ba96bcd13184f6");
    for counter in 486_109..=486_112 {
        let direct = state
            .ticket_key("example.com", 3600, Strength::Aes256, counter)
            .unwrap();
        let key = keys.by_counter(counter).unwrap();
        assert_eq!(key.aes_key(), direct.aes_key());
        assert_eq!(key.hmac_key(), direct.hmac_key());
        assert_eq!(keys.name_by_counter(counter).unwrap(), *direct.name());
    }
    let punctured = keys.by_counter(486_108).unwrap_err();
    assert_eq!(
        punctured.to_string(),
        "state starts at 1749992400 (2025-06-15T13:00:00Z); the key for counter 486108 \
         (interval 3600) starts at 1749988800 (2025-06-15T12:00:00Z): it was punctured"
    );
    assert!(matches!(
        keys.lookup(current.name(), now).unwrap(),
        Lookup::Current(_)
    ));
    // An hour earlier the oldest key of the window is gone.
    assert_eq!(
        keys.lookup(current.name(), now - 3600).unwrap_err(),
        punctured
    );
    // A state that starts after the window's oldest key cannot make the handle.
    let late = State::new(&EXAMPLE_SEED, 486_110 * 3600).unwrap();
    let e =
        TicketKeys::from_state(&late, "example.com", Strength::Aes256, schedule, now).unwrap_err();
    assert_eq!(
        e,
        StateError::Input(Error::KeyPunctured {
            start: 486_110 * 3600,
            counter: 486_109,
            interval: 3600
        })
    );
    assert!(e.to_string().ends_with(": it was punctured"));
    // Advancing punctures the copy; never backwards.
    let mut keys = keys;
    keys.advance(now + 3600).unwrap();
    assert_eq!(keys.state_start().unwrap().0, 486_110 * 3600);
    keys.advance(now).unwrap_err();
    assert_eq!(keys.state_start().unwrap().0, 486_110 * 3600);
    assert!(keys.by_counter(486_109).is_err());
    assert!(!format!("{keys:?}").contains("cc62"));
}
