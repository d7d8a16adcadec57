//! Fingerprints against Python's `hashlib.blake2b` (the recipe is in each comment).
#![allow(clippy::unwrap_used)]

use keywheel::{Format, MainKey, tfo_key_fingerprint};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// hashlib.blake2b(b'', digest_size=8, key=M, person=b'keywheel.mainfp').hexdigest()
#[test]
fn main_key_fingerprint_matches_hashlib() {
    let m = MainKey::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap();
    assert_eq!(hex(&m.fingerprint()), "792baf5e3ea8b4a4");
    // tofurkey's t/test.key
    let m = MainKey::from_bytes(&unhex(
        "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b",
    ))
    .unwrap();
    assert_eq!(hex(&m.fingerprint()), "d059f1be3b1d6312");
}

// hashlib.blake2b(key16, digest_size=8, person=b'keywheel.tfofp').hexdigest(), key16 = the
// primary key of tofurkey's test vector (t/test.key, interval 86400, time 1000000).
#[test]
fn tfo_fingerprint_matches_hashlib() {
    let key: [u8; 16] = unhex("c998252e8f89667d31961e083897526b")
        .try_into()
        .unwrap();
    assert_eq!(hex(&tfo_key_fingerprint(&key)), "63f0af72476c6cbb");
    assert_ne!(tfo_key_fingerprint(&[0; 16]), tfo_key_fingerprint(&key));
}

#[test]
fn formats_that_take_decrypt_only_keys() {
    let takes: Vec<&str> = keywheel::FORMATS
        .iter()
        .filter(|f| f.accepts_decrypt_only())
        .map(|f| f.name())
        .collect();
    assert_eq!(takes, ["nginx", "nginx48", "ats"]);
    assert!(!Format::from_name("haproxy").unwrap().accepts_decrypt_only());
}
