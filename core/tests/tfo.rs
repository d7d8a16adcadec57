//! Known answers from outside this crate: tofurkey 1.3.4's own test suite (`t/itest.sh`, key
//! `t/test.key`), and the BLAKE2b parameter rules of RFC 7693 as computed by libsodium.

#![allow(clippy::unwrap_used)]
use keywheel::schedule::Schedule;
use keywheel::{
    DERIVE_MAX_LEN, DERIVE_MIN_LEN, Error, MainKey, TFO_CONTEXT, TfoKeys, derive_key, tfo_keys,
};

/// tofurkey's `t/test.key`.
const TOFURKEY_TEST_KEY: [u8; 32] = [
    0x36, 0x3e, 0xc6, 0xa0, 0x5e, 0x76, 0xee, 0xde, 0xb9, 0xeb, 0x73, 0xbc, 0x5c, 0x25, 0xca, 0x5f,
    0x13, 0xf7, 0xc1, 0xdf, 0x70, 0xc9, 0xaf, 0x35, 0x31, 0xdb, 0x4c, 0x83, 0xd2, 0x3a, 0x8f, 0x6b,
];

#[test]
fn tofurkey_itest_vector() {
    // t/itest.sh: `tofurkey -o -k t/test.key -V -T 1000000` (default interval 86400).
    let main = MainKey::from_bytes(&TOFURKEY_TEST_KEY).unwrap();
    let keys = tfo_keys(&main, &Schedule::new(86_400).unwrap(), 1_000_000).unwrap();
    assert_eq!(
        keys.procfs_text().as_str(),
        "c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577"
    );
}

#[test]
fn longer_key_material_uses_first_32_bytes() {
    let mut material = [0xaau8; 40];
    material[..32].copy_from_slice(&TOFURKEY_TEST_KEY);
    let main = MainKey::from_bytes(&material).unwrap();
    let keys = tfo_keys(&main, &Schedule::new(86_400).unwrap(), 1_000_000).unwrap();
    assert!(keys.procfs_text().as_str().starts_with("c998252e-"));
}

#[test]
fn short_main_key_is_refused() {
    let err = MainKey::from_bytes(&[1u8; 31]).unwrap_err();
    assert_eq!(err, Error::MainKeyTooShort { len: 31 });
    assert_eq!(
        err.to_string(),
        "main key is 31 bytes; it must be at least 32 bytes"
    );
}

/// SPEC.md 1: the message of an all-zero main key.
const ZERO_MESSAGE: &str = "main key is all zero bytes; it must be 32 random bytes \
                            (generate them with `keywheel gen-secret`)";

#[test]
fn all_zero_main_key_is_refused() {
    for material in [
        vec![0u8; 32],
        vec![0u8; 64],
        [vec![0u8; 32], vec![0xff; 8]].concat(),
    ] {
        let err = MainKey::from_bytes(&material).unwrap_err();
        assert_eq!(err, Error::MainKeyZero, "{} bytes", material.len());
        assert_eq!(err.to_string(), ZERO_MESSAGE);
    }
    // The length is checked first; one non-zero byte anywhere in the first 32 is a key.
    assert_eq!(
        MainKey::from_bytes(&[0u8; 31]).unwrap_err(),
        Error::MainKeyTooShort { len: 31 }
    );
    for i in 0..32 {
        let mut material = [0u8; 32];
        material[i] = 1;
        assert!(MainKey::from_bytes(&material).is_ok(), "byte {i}");
    }
}

#[test]
fn derive_rejects_bad_lengths_without_writing() {
    let main = MainKey::from_bytes(&TOFURKEY_TEST_KEY).unwrap();
    for len in [0, 1, DERIVE_MIN_LEN - 1, DERIVE_MAX_LEN + 1, 100] {
        let mut out = [0x5au8; 100];
        let err = derive_key(&main, &TFO_CONTEXT, 7, &mut out[..len]).unwrap_err();
        assert_eq!(err, Error::OutputLength { len });
        assert_eq!(
            err.to_string(),
            format!("output length {len} is out of range; it must be in 16..=64")
        );
        assert!(out.iter().all(|&b| b == 0x5a));
    }
}

#[test]
fn debug_prints_no_key_bytes() {
    let main = MainKey::from_bytes(&TOFURKEY_TEST_KEY).unwrap();
    assert_eq!(format!("{main:?}"), "MainKey(..)");
    let keys = TfoKeys::new(&main, &Schedule::new(10).unwrap().at(1_000_000).unwrap());
    assert_eq!(format!("{keys:?}"), "TfoKeys(..)");
    assert_eq!(format!("{:?}", keys.procfs_text()), "ProcfsText(..)");
}
