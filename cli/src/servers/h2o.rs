//! h2o 2.2 (`ssl-session-resumption: {mode: ticket, ticket-store: file, ticket-file: PATH}`):
//! a YAML sequence of ticket entries holding the whole window, each timed so that h2o switches
//! encryption by its own clock at the interval boundary. Pure functions only.
//!
//! What h2o 2.2.5 does (src/ssl.c, checked against Debian's build by
//! tests/servers/test_h2o.py):
//! - A thread stats the file every 10 s and reloads it when the mtime (whole seconds) differs
//!   from the last one seen; a file that fails to parse is reported and the old keys are kept.
//!   Every field of every entry is required: `name` (32 hex digits), `cipher`, `hash`, `key`
//!   (hex of the cipher key followed by `EVP_MD_block_size(hash)` bytes of HMAC key),
//!   `not_before`, `not_after` (unsigned 64-bit unix times, `not_before ≤ not_after`).
//! - Entries are sorted by `not_before`, newest first. Encryption: the newest entry with
//!   `not_before ≤ now`, if `now ≤ not_after` (otherwise a throwaway random key). Decryption:
//!   any entry of that name, whatever its times; a ticket is renewed when the entry just newer
//!   than its own is active.
//! - The HMAC key is passed to `HMAC_Init_ex` with length 64 (SHA-256's block size). HMAC
//!   (RFC 2104) pads a key shorter than the block with zero bytes, so keywheel's 32-byte HMAC
//!   key followed by 32 zero bytes gives exactly the same MACs as the 32-byte key: tickets
//!   verify with keywheel's keys, byte for byte.
//!
//! keywheel writes, for window `c − keep ..= c + 1`, entries newest first (h2o's own order),
//! key `n` with `not_before = n·I` and `not_after = (n + keep + 1)·I − 1`.

use keywheel::{Strength, TicketKey};
use std::fmt;
use std::fmt::Write as _;
use zeroize::Zeroizing;

use crate::servers::{
    Installed, KeyInfo, Out, OwnKeys, Rendered, Server, role_of, write_one_file_at,
};
use crate::sys::text::hex as hex_string;

/// The cipher keywheel's aes256 keys are for.
pub const CIPHER: &str = "aes-256-cbc";
/// The HMAC hash.
pub const HASH: &str = "sha256";
/// SHA-256's block size: the length h2o takes for the HMAC key.
pub const HASH_BLOCK: usize = 64;
/// AES-256 key length.
pub const AES_LEN: usize = 32;

/// Why h2o cannot take a key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H2oError {
    /// Only AES-256 keys are written.
    Strength,
}

impl fmt::Display for H2oError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H2oError::Strength => {
                f.write_str("format h2o takes aes256 keys (aes-256-cbc, sha256 with a 32-byte key)")
            }
        }
    }
}

impl std::error::Error for H2oError {}

/// `not_before` and `not_after` of key `counter`.
pub fn key_times(counter: u64, interval: u64, keep: u64) -> (u64, u64) {
    let not_before = counter.saturating_mul(interval);
    let not_after = counter
        .saturating_add(keep)
        .saturating_add(1)
        .saturating_mul(interval)
        .saturating_sub(1);
    (not_before, not_after)
}

fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
}

/// Appends one entry (six lines) for `key` to `out`.
pub fn write_entry(
    out: &mut Zeroizing<String>,
    key: &TicketKey,
    interval: u64,
    keep: u64,
) -> Result<(), H2oError> {
    if key.strength() != Strength::Aes256 {
        return Err(H2oError::Strength);
    }
    let (not_before, not_after) = key_times(key.counter(), interval, keep);
    out.push_str("- name: ");
    hex(out, key.name());
    out.push_str("\n  cipher: ");
    out.push_str(CIPHER);
    out.push_str("\n  hash: ");
    out.push_str(HASH);
    out.push_str("\n  key: ");
    hex(out, key.aes_key());
    hex(out, key.hmac_key());
    hex(out, &[0u8; HASH_BLOCK - 32]);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "\n  not_before: {not_before}\n  not_after: {not_after}\n"
    );
    Ok(())
}

/// The whole file for `keys` (in the order given; keywheel gives c + 1, c, c − 1, …, c − keep).
pub fn render<'a>(
    keys: impl IntoIterator<Item = &'a TicketKey>,
    interval: u64,
    keep: u64,
) -> Result<Zeroizing<String>, H2oError> {
    let mut out = Zeroizing::new(String::with_capacity(8 * 320));
    for k in keys {
        write_entry(&mut out, k, interval, keep)?;
    }
    Ok(out)
}

/// The public fields of one entry read back from a file keywheel wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// Key name.
    pub name: [u8; 16],
    /// `not_before`.
    pub not_before: u64,
    /// `not_after`.
    pub not_after: u64,
}

/// Reads back the names and times of a file in the exact form [`render`] writes (for status
/// and check). `Err` names the first line that differs from that form (the key is never
/// quoted).
pub fn parse_public(text: &str) -> Result<Vec<EntryInfo>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let bad = |n: usize, what: &str| format!("line {}: {what}", n + 1);
        let name_hex = line
            .strip_prefix("- name: ")
            .ok_or_else(|| bad(i, "expected `- name: <32 hex digits>`"))?;
        let mut name = [0u8; 16];
        if name_hex.len() != 32 || !name_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(i, "the name is not 32 hex digits"));
        }
        for (j, b) in name.iter_mut().enumerate() {
            *b = u8::from_str_radix(&name_hex[2 * j..2 * j + 2], 16)
                .map_err(|_| bad(i, "the name is not 32 hex digits"))?;
        }
        let mut field = |want: &str| -> Result<String, String> {
            let (n, l) = lines
                .next()
                .ok_or_else(|| format!("entry at line {}: `{want}` missing", i + 1))?;
            l.strip_prefix("  ")
                .and_then(|l| l.strip_prefix(want))
                .and_then(|l| l.strip_prefix(": "))
                .map(str::to_owned)
                .ok_or_else(|| bad(n, &format!("expected `  {want}: …`")))
        };
        if field("cipher")? != CIPHER {
            return Err(format!("entry at line {}: cipher is not {CIPHER}", i + 1));
        }
        if field("hash")? != HASH {
            return Err(format!("entry at line {}: hash is not {HASH}", i + 1));
        }
        let key = Zeroizing::new(field("key")?);
        if key.len() != 2 * (AES_LEN + HASH_BLOCK) || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "entry at line {}: key is not {} hex digits",
                i + 1,
                2 * (AES_LEN + HASH_BLOCK)
            ));
        }
        let num = |s: String, what: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("entry at line {}: {what} is not a number", i + 1))
        };
        let not_before = num(field("not_before")?, "not_before")?;
        let not_after = num(field("not_after")?, "not_after")?;
        out.push(EntryInfo {
            name,
            not_before,
            not_after,
        });
    }
    Ok(out)
}

/// The mtime to give a file written at `now` whose previous version had mtime `old`: h2o
/// reloads only when the mtime (whole seconds) changes, so it always advances.
pub fn file_mtime(now: u64, old: Option<u64>) -> u64 {
    match old {
        Some(old) if old >= now => old + 1,
        _ => now,
    }
}

/// Which entry h2o encrypts with at `now` (the newest entry with `not_before ≤ now`, if
/// `now ≤ not_after`): used by status to say what h2o does right now.
#[cfg(test)]
pub fn encrypting(entries: &[EntryInfo], now: u64) -> Option<&EntryInfo> {
    let newest = entries
        .iter()
        .filter(|e| e.not_before <= now)
        .max_by_key(|e| e.not_before)?;
    (now <= newest.not_after).then_some(newest)
}

/// h2o: the YAML ticket file with the whole window, newest first, written 2.02 s after each
/// boundary with an mtime that always advances.
pub(crate) struct H2o;

impl Server for H2o {
    fn formats(&self) -> &'static [&'static str] {
        &["h2o"]
    }

    fn renders_itself(&self) -> bool {
        true
    }

    fn describe_own(&self) -> &'static str {
        "h2o: YAML entries newest first (name, cipher aes-256-cbc, hash sha256, key = \
         aes|hmac|32 zero bytes, not_before, not_after)"
    }

    fn render_own(&self, keys: &OwnKeys<'_>) -> Result<Rendered, String> {
        // next, current, previous 1, ..., previous keep (h2o's own order, newest first).
        let schedule = keys.keys.schedule();
        let (interval, keep) = (schedule.interval(), schedule.keep());
        let c = keys.counter;
        let ticket_keys: Vec<TicketKey> = (c.saturating_sub(keep)..=c + 1)
            .rev()
            .map(|n| keys.keys.by_counter(n))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let text = render(&ticket_keys, interval, keep).map_err(|e| e.to_string())?;
        let infos = ticket_keys
            .iter()
            .map(|k| KeyInfo {
                counter: k.counter(),
                role: role_of(k.counter(), keys.now, interval),
                extra: None,
                name: *k.name(),
            })
            .collect();
        Ok(Rendered {
            bytes: Zeroizing::new(text.as_bytes().to_vec()),
            keys: infos,
            record_len: 0,
            time: Some(keys.now),
            ours: Zeroizing::new(Vec::new()),
        })
    }

    fn names(&self, content: &[u8]) -> Option<Vec<String>> {
        let parsed = std::str::from_utf8(content)
            .map_err(|_| "not UTF-8".to_owned())
            .and_then(parse_public);
        Some(match parsed {
            Ok(entries) => entries.iter().map(|e| hex_string(&e.name)).collect(),
            Err(e) => vec![format!("(not keywheel's h2o file: {e})")],
        })
    }

    fn install(&self, out: &Out<'_>, _counter: u64, keys: &Rendered) -> Result<Installed, String> {
        write_one_file_at(out, keys, file_mtime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywheel::{LabelKey, MainKey};

    fn keys(counters: &[u64]) -> Vec<TicketKey> {
        let main = MainKey::from_bytes(&[7u8; 32]).expect("main key");
        let lk = LabelKey::new(&main, "shop.example").expect("label");
        counters
            .iter()
            .map(|&n| lk.ticket_key(Strength::Aes256, n))
            .collect()
    }

    fn hexs(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn file_is_exact() {
        let ks = keys(&[3, 2, 1]);
        let text = render(&ks, 3600, 1).expect("render");
        let mut want = String::new();
        for k in &ks {
            let n = k.counter();
            want += &format!(
                "- name: {}\n  cipher: aes-256-cbc\n  hash: sha256\n  key: {}{}{}\n  \
                 not_before: {}\n  not_after: {}\n",
                hexs(k.name()),
                hexs(k.aes_key()),
                hexs(k.hmac_key()),
                "0".repeat(64),
                n * 3600,
                (n + 2) * 3600 - 1
            );
        }
        assert_eq!(*text, want);
        let back = parse_public(&text).expect("parse");
        assert_eq!(back.len(), 3);
        assert_eq!(
            back[1],
            EntryInfo {
                name: *ks[1].name(),
                not_before: 7200,
                not_after: 14_399
            }
        );
    }

    /// One entry (key 5, main key 07 × 32, label shop.example, interval 3600, keep 1) as
    /// tests/servers/reference.py (hashlib, written from SPEC.md) writes it.
    #[test]
    fn entry_matches_reference() {
        let want = "- name: 0f39d8fa0b2089725864930bac8d26f7\n  cipher: aes-256-cbc\n  \
                    hash: sha256\n  key: 610cc34aeff312a781d4cd72bf8a8557507791c7ffcdb4db9987a5b\
                    ca97eeab07e318c24e93dc976924d1dcd784c60df94825891439996f12ee5264996e5370d000\
                    0000000000000000000000000000000000000000000000000000000000000\n  \
                    not_before: 18000\n  not_after: 25199\n";
        assert_eq!(*render(&keys(&[5]), 3600, 1).expect("render"), want);
    }

    #[test]
    fn clock_driven_switch() {
        // Window of interval 2 (keep 1): 3, 2, 1. h2o encrypts with 2 until 10799 and with 3
        // from 10800 on, by its own clock, with no reload.
        let ks = keys(&[3, 2, 1]);
        let back = parse_public(&render(&ks, 3600, 1).expect("render")).expect("parse");
        assert_eq!(encrypting(&back, 7200).map(|e| e.not_before), Some(7200));
        assert_eq!(encrypting(&back, 10_799).map(|e| e.not_before), Some(7200));
        assert_eq!(
            encrypting(&back, 10_800).map(|e| e.not_before),
            Some(10_800)
        );
        // Past the last key's not_after with no rewrite: h2o uses a throwaway key.
        assert_eq!(encrypting(&back, 18_000), None);
    }

    #[test]
    fn parse_rejects_other_forms() {
        let ks = keys(&[1]);
        let text = render(&ks, 3600, 0).expect("render");
        assert!(parse_public(&text.replace("aes-256-cbc", "aes-128-cbc")).is_err());
        assert!(parse_public(&text.replace("- name: ", "- nam: ")).is_err());
        let cut: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
        let e = parse_public(&cut).expect_err("short");
        assert!(e.contains("not_before"), "{e}");
    }

    #[test]
    fn mtimes_advance() {
        assert_eq!(file_mtime(100, None), 100);
        assert_eq!(file_mtime(100, Some(99)), 100);
        assert_eq!(file_mtime(100, Some(100)), 101);
        assert_eq!(file_mtime(100, Some(105)), 106);
    }
}
