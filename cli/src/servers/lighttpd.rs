//! lighttpd 1.4 (`mod_openssl`, `ssl.stek-file`): one 92-byte key record per file, picked up by
//! lighttpd's own 64-second check. Pure functions only: the record, the key times, which key
//! the file holds at a given time (the publication plan) and when to write next.
//!
//! What lighttpd 1.4.69 does (src/mod_openssl.c, checked against Debian's build by
//! tests/servers/test_lighttpd.py):
//! - The file is read at start (still as root) and then, as the server user (`www-data` on
//!   Debian: the file must be group-readable, `--group www-data`, or rotation silently stops),
//!   whenever unix time is a multiple of 64 and the file's mtime is newer than the time of the
//!   last load. Exactly 92 bytes are read: native-endian (little-endian on every
//!   Debian architecture keywheel supports) signed 32-bit version (0), activation time and
//!   expiry time, then name(16) ‖ HMAC-SHA256 key(32) ‖ AES-256 key(32).
//! - Every load pushes the record into a 3-slot list (newest first, oldest dropped), even when
//!   it is the same key again: rewriting the file without a new key evicts history.
//! - Encryption: the newest slot whose activation ≤ now ≤ expiry; none: no ticket at all.
//!   Decryption: any slot of that name with now ≤ expiry (activation not checked); a ticket is
//!   renewed when a newer slot is active.
//!
//! keywheel's plan: the record of key `n` has activation `n·I` and expiry
//! `(n + keep + 1)·I − 1` (the last second key `n` is in the window). Key `n` is published at
//! `W(n) = C(n) − 32`, where `C(n)` is the last multiple of 64 at least [`LOAD_MARGIN`]
//! seconds before `n·I`: lighttpd loads it at `C(n)` and starts encrypting with it by its own
//! clock at `n·I`. During interval `c` the file holds key `c` until `W(c + 1)`, then key `c + 1`;
//! lighttpd then holds `c − 1, c, c + 1` (keep 1: previous, current, next) from `C(c + 1)` to the
//! end of the interval and `c − 2 (expired), c − 1, c` before.
//! The interval must be at least [`MIN_INTERVAL`] so that one key is published per interval,
//! at a point between two checks.

use keywheel::{Strength, TICKET_NAME_LEN, TicketKey};
use std::fmt;
use zeroize::Zeroizing;

use crate::servers::{
    Installed, KeyInfo, Out, OwnKeys, Rendered, Server, Step as ServerStep, role_of,
    write_one_file_at,
};
use crate::sys::text::hex;

/// Bytes lighttpd reads from `ssl.stek-file`.
pub const RECORD_LEN: usize = 92;
/// lighttpd checks the file when unix time is a multiple of this.
pub const CHECK_PERIOD: u64 = 64;
/// A key is loaded by a check at least this many seconds before it starts encrypting.
pub const LOAD_MARGIN: u64 = 60;
/// Keys are written this many seconds before the check that loads them (half a period:
/// far from both neighbouring checks).
pub const WRITE_BEFORE_CHECK: u64 = CHECK_PERIOD / 2;
/// Shortest interval: a key is published 92..=155 s before its interval starts, after the
/// previous key was loaded.
pub const MIN_INTERVAL: u64 = 256;
/// Largest time lighttpd's signed 32-bit fields hold: 2038-01-19T03:14:07Z.
pub const MAX_TIME: u64 = i32::MAX as u64;
/// lighttpd holds three keys: previous, current, next.
pub const MAX_KEEP: u64 = 1;

/// Why lighttpd cannot take a key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LighttpdError {
    /// Interval shorter than [`MIN_INTERVAL`].
    Interval(u64),
    /// keep above [`MAX_KEEP`].
    Keep(u64),
    /// A time beyond [`MAX_TIME`]: (what, value).
    Time(&'static str, u64),
    /// Only AES-256 keys fit the record.
    Strength,
}

impl fmt::Display for LighttpdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LighttpdError::Interval(i) => write!(
                f,
                "interval {i} is too short for format lighttpd: lighttpd reads its key file every \
                 {CHECK_PERIOD} s and keywheel publishes each key 92 to 155 s before it starts \
                 encrypting, so interval must be at least {MIN_INTERVAL}"
            ),
            LighttpdError::Keep(k) => write!(
                f,
                "keep {k} does not fit format lighttpd: lighttpd holds 3 keys (previous, current, \
                 next), so keep must be 0 or 1"
            ),
            LighttpdError::Time(what, t) => write!(
                f,
                "{what} {t} does not fit format lighttpd: lighttpd stores times as signed 32-bit \
                 numbers, so every time must be at most {MAX_TIME} (2038-01-19T03:14:07Z)"
            ),
            LighttpdError::Strength => {
                f.write_str("format lighttpd takes aes256 keys (AES-256-CBC, 32-byte HMAC key)")
            }
        }
    }
}

impl std::error::Error for LighttpdError {}

/// Checks the interval and keep lighttpd can follow.
pub fn check_schedule(interval: u64, keep: u64) -> Result<(), LighttpdError> {
    if interval < MIN_INTERVAL {
        return Err(LighttpdError::Interval(interval));
    }
    if keep > MAX_KEEP {
        return Err(LighttpdError::Keep(keep));
    }
    Ok(())
}

/// Activation and expiry of key `counter` in its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTimes {
    /// First second the key encrypts: `counter · interval`.
    pub activation: u64,
    /// Last second the key decrypts: `(counter + keep + 1) · interval − 1`.
    pub expiry: u64,
}

/// The record times of key `counter`; refuses times lighttpd's 32-bit fields cannot hold.
pub fn key_times(counter: u64, interval: u64, keep: u64) -> Result<KeyTimes, LighttpdError> {
    let activation = counter.saturating_mul(interval);
    let expiry = counter
        .saturating_add(keep)
        .saturating_add(1)
        .saturating_mul(interval)
        .saturating_sub(1);
    if activation > MAX_TIME {
        return Err(LighttpdError::Time("activation time", activation));
    }
    if expiry > MAX_TIME {
        return Err(LighttpdError::Time("expiry time", expiry));
    }
    Ok(KeyTimes { activation, expiry })
}

/// The 92-byte record: LE i32 version 0, activation, expiry, then name ‖ HMAC ‖ AES.
pub fn encode(
    key: &TicketKey,
    times: KeyTimes,
) -> Result<Zeroizing<[u8; RECORD_LEN]>, LighttpdError> {
    if key.strength() != Strength::Aes256 {
        return Err(LighttpdError::Strength);
    }
    let field = |what, t: u64| i32::try_from(t).map_err(|_| LighttpdError::Time(what, t));
    let activation = field("activation time", times.activation)?;
    let expiry = field("expiry time", times.expiry)?;
    let mut out = Zeroizing::new([0u8; RECORD_LEN]);
    out[4..8].copy_from_slice(&activation.to_le_bytes());
    out[8..12].copy_from_slice(&expiry.to_le_bytes());
    out[12..28].copy_from_slice(key.name());
    out[28..60].copy_from_slice(key.hmac_key());
    out[60..92].copy_from_slice(key.aes_key());
    Ok(out)
}

/// The public part of a record read back from the file (for status and check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordInfo {
    /// Format version (keywheel writes 0; lighttpd ignores other versions).
    pub version: i32,
    /// Activation time.
    pub activation: i64,
    /// Expiry time.
    pub expiry: i64,
    /// Key name.
    pub name: [u8; 16],
}

/// Reads the public fields of a record; `None` when the file is shorter than 92 bytes
/// (lighttpd ignores such a file, and any bytes after the 92nd).
pub fn decode_public(data: &[u8]) -> Option<RecordInfo> {
    let rec = data.get(..RECORD_LEN)?;
    let i32_at = |i: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&rec[i..i + 4]);
        i32::from_le_bytes(b)
    };
    let mut name = [0u8; 16];
    name.copy_from_slice(&rec[12..28]);
    Some(RecordInfo {
        version: i32_at(0),
        activation: i64::from(i32_at(4)),
        expiry: i64::from(i32_at(8)),
        name,
    })
}

/// `C(n)`: the lighttpd check that loads key `counter` (the last multiple of 64 at least
/// [`LOAD_MARGIN`] s before the key's interval starts).
pub fn load_check(counter: u64, interval: u64) -> u64 {
    let start = counter.saturating_mul(interval);
    start.saturating_sub(LOAD_MARGIN) / CHECK_PERIOD * CHECK_PERIOD
}

/// `W(n)`: when keywheel writes key `counter` into the file.
pub fn publish_time(counter: u64, interval: u64) -> u64 {
    load_check(counter, interval).saturating_sub(WRITE_BEFORE_CHECK)
}

/// The counter of the key the file holds at `now` (interval ≥ [`MIN_INTERVAL`]): the current
/// key `c`, or `c + 1` from `W(c + 1)` on.
pub fn key_in_file(now: u64, interval: u64) -> u64 {
    let c = now / interval;
    if now >= publish_time(c + 1, interval) {
        c + 1
    } else {
        c
    }
}

/// One step of the daemon: what to write now (a counter, or nothing) and when to wake next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Write this key now (`None`: the file already holds the right key; rewriting it would
    /// push a duplicate into lighttpd's 3 slots and evict the previous key).
    pub write: Option<u64>,
    /// Unix time of the next step.
    pub wake: u64,
}

/// The first check strictly after `now`, plus half a period: a safe time for a write that
/// must follow a load.
fn after_next_check(now: u64) -> u64 {
    (now / CHECK_PERIOD + 1) * CHECK_PERIOD + WRITE_BEFORE_CHECK
}

/// What to do at `now` given the counter of the key the file holds (`None`: missing,
/// unreadable, not keywheel's or another label's key).
///
/// Normally this writes `key_in_file(now)` when the file holds something else and wakes at the
/// next publication time. At start-up inside the publication window (`now ≥ W(c + 1)`) with a
/// file that holds neither `c` nor `c + 1`, it writes the current key `c` first (a lighttpd
/// that starts now must have a key that encrypts) and `c + 1` after the next check loaded it.
pub fn step(now: u64, interval: u64, holds: Option<u64>) -> Step {
    let c = now / interval;
    let target = key_in_file(now, interval);
    let next_publication = |t: u64| {
        let mut n = t / interval + 1;
        while publish_time(n, interval) <= t {
            n += 1;
        }
        publish_time(n, interval)
    };
    if holds == Some(target) {
        return Step {
            write: None,
            wake: next_publication(now),
        };
    }
    if target == c + 1 && holds != Some(c) {
        return Step {
            write: Some(c),
            wake: after_next_check(now),
        };
    }
    Step {
        write: Some(target),
        wake: next_publication(now),
    }
}

/// The mtime to give a file written at `now` whose previous version had mtime `old`: lighttpd
/// reloads only when the mtime (whole seconds) is newer than its last load, which happens at a
/// multiple of 64, so the mtime is at least 2 s past the last check, and always advances.
pub fn file_mtime(now: u64, old: Option<u64>) -> u64 {
    let last_check = now / CHECK_PERIOD * CHECK_PERIOD;
    let mut t = now.max(last_check + 2);
    if let Some(old) = old {
        t = t.max(old + 1);
    }
    t
}

/// lighttpd (`mod_openssl`): one 92-byte record, the key chosen by [`step`], written ahead of
/// lighttpd's 64-second check with an mtime it will see.
pub(crate) struct Lighttpd;

impl Server for Lighttpd {
    fn formats(&self) -> &'static [&'static str] {
        &["lighttpd"]
    }

    fn renders_itself(&self) -> bool {
        true
    }

    fn check_schedule(&self, interval: u64, keep: u64) -> Result<(), (&'static str, String)> {
        check_schedule(interval, keep).map_err(|e| {
            let key = if matches!(e, LighttpdError::Keep(_)) {
                "keep"
            } else {
                "interval"
            };
            (key, e.to_string())
        })
    }

    fn describe_own(&self) -> &'static str {
        "lighttpd: one 92-byte record: version 0, activation, expiry (little-endian signed \
         32-bit), name|hmac|aes (AES-256-CBC + HMAC-SHA256)"
    }

    fn render_own(&self, keys: &OwnKeys<'_>) -> Result<Rendered, String> {
        let schedule = keys.keys.schedule();
        let interval = schedule.interval();
        let key = keys
            .keys
            .by_counter(keys.counter)
            .map_err(|e| e.to_string())?;
        let times =
            key_times(keys.counter, interval, schedule.keep()).map_err(|e| e.to_string())?;
        let record = encode(&key, times).map_err(|e| e.to_string())?;
        Ok(Rendered {
            bytes: Zeroizing::new(record.to_vec()),
            keys: vec![KeyInfo {
                counter: keys.counter,
                role: role_of(keys.counter, keys.now, interval),
                extra: None,
                name: *key.name(),
            }],
            record_len: RECORD_LEN,
            time: Some(keys.now),
            ours: Zeroizing::new(Vec::new()),
        })
    }

    fn file_counter(&self, now: u64, interval: u64) -> Option<u64> {
        Some(key_in_file(now, interval))
    }

    fn step(
        &self,
        out: &Out<'_>,
        now: u64,
        interval: u64,
        name: &dyn Fn(u64) -> Option<[u8; TICKET_NAME_LEN]>,
    ) -> Option<ServerStep> {
        // The key the file holds: one of the label's keys around now (another label's, another
        // main key's or a damaged file holds none).
        let c = now / interval;
        let holds = std::fs::read(out.path)
            .ok()
            .and_then(|data| decode_public(&data))
            .and_then(|info| (c.saturating_sub(2)..=c + 2).find(|&n| name(n) == Some(info.name)));
        let s = step(now, interval, holds);
        Some(ServerStep {
            due: s.write.unwrap_or_else(|| key_in_file(now, interval)),
            write: s.write.is_some(),
            wake: s.wake,
        })
    }

    fn names(&self, content: &[u8]) -> Option<Vec<String>> {
        Some(vec![decode_public(content).map_or_else(
            || {
                format!(
                    "(not a lighttpd record: {} bytes, not {RECORD_LEN})",
                    content.len()
                )
            },
            |info| hex(&info.name),
        )])
    }

    fn install(&self, out: &Out<'_>, _counter: u64, keys: &Rendered) -> Result<Installed, String> {
        write_one_file_at(out, keys, file_mtime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywheel::{LabelKey, MainKey};

    fn key(counter: u64) -> TicketKey {
        let main = MainKey::from_bytes(&[7u8; 32]).expect("main key");
        LabelKey::new(&main, "shop.example")
            .expect("label")
            .ticket_key(Strength::Aes256, counter)
    }

    #[test]
    fn record_layout() {
        let k = key(5);
        let t = key_times(5, 3600, 1).expect("times");
        assert_eq!(
            t,
            KeyTimes {
                activation: 18_000,
                expiry: 25_199
            }
        );
        let r = encode(&k, t).expect("record");
        // Version 0, then the times little-endian: 18000 = 0x4650, 25199 = 0x626f.
        assert_eq!(&r[..12], &[0, 0, 0, 0, 0x50, 0x46, 0, 0, 0x6f, 0x62, 0, 0]);
        assert_eq!(&r[12..28], k.name());
        assert_eq!(&r[28..60], k.hmac_key());
        assert_eq!(&r[60..92], k.aes_key());
        let info = decode_public(&r[..]).expect("decode");
        assert_eq!(
            (info.version, info.activation, info.expiry),
            (0, 18_000, 25_199)
        );
        assert_eq!(&info.name, k.name());
        assert_eq!(decode_public(&r[..91]), None);
    }

    /// The record of key 5 (main key 07 × 32, label shop.example, interval 3600, keep 1) as
    /// tests/servers/reference.py (hashlib, written from SPEC.md) computes it.
    #[test]
    fn record_matches_reference() {
        let want = "00000000504600006f6200000f39d8fa0b2089725864930bac8d26f77e318c24e93dc976924d\
                    1dcd784c60df94825891439996f12ee5264996e5370d610cc34aeff312a781d4cd72bf8a8557\
                    507791c7ffcdb4db9987a5bca97eeab0";
        let r = encode(&key(5), key_times(5, 3600, 1).expect("times")).expect("record");
        let got: String = r.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn refuses_2038() {
        // Key 596523 of interval 3600 starts at 2147482800 and is in the window until
        // 2147489999: past 2^31 - 1.
        let e = key_times(596_523, 3600, 1).expect_err("2038");
        assert_eq!(e, LighttpdError::Time("expiry time", 2_147_489_999));
        let msg = e.to_string();
        assert!(msg.contains("2147489999") && msg.contains("2147483647") && msg.contains("2038"));
        assert!(key_times(596_522, 3600, 0).is_ok()); // 2147479200 ..= 2147482799
        let e = key_times(596_524, 3600, 0).expect_err("2038");
        assert_eq!(e, LighttpdError::Time("activation time", 2_147_486_400));
        let k = key(1);
        let e = encode(
            &k,
            KeyTimes {
                activation: 1,
                expiry: MAX_TIME + 1,
            },
        )
        .expect_err("2038");
        assert_eq!(e, LighttpdError::Time("expiry time", 2_147_483_648));
    }

    #[test]
    fn schedule_limits() {
        assert!(check_schedule(256, 1).is_ok());
        assert!(check_schedule(86_400, 0).is_ok());
        let e = check_schedule(254, 1).expect_err("short");
        assert!(e.to_string().contains("interval 254") && e.to_string().contains("256"));
        let e = check_schedule(3600, 2).expect_err("keep");
        assert!(e.to_string().contains("keep 2") && e.to_string().contains("0 or 1"));
    }

    #[test]
    fn publication_times() {
        // Interval 3600, key 2: starts at 7200; last check at least 60 s before: 7104
        // (= 111 * 64; 7168 is only 32 s before); written 32 s before that check.
        assert_eq!(load_check(2, 3600), 7104);
        assert_eq!(publish_time(2, 3600), 7072);
        assert_eq!(key_in_file(7071, 3600), 1);
        assert_eq!(key_in_file(7072, 3600), 2);
        assert_eq!(key_in_file(7200, 3600), 2);
        assert_eq!(key_in_file(3600, 3600), 1);
        // For every interval allowed and many boundaries: the key is loaded 60..=123 s before
        // its interval, written 92..=155 s before it, after the previous key's load check, and
        // the written time is never within 16 s of a check.
        for interval in (MIN_INTERVAL..=5000).step_by(2).chain([86_400, 604_800]) {
            for n in [1u64, 2, 3, 17, 1000, 1_000_003 / interval + 5] {
                let start = n * interval;
                let (c, w) = (load_check(n, interval), publish_time(n, interval));
                assert!(start - c >= LOAD_MARGIN && start - c < LOAD_MARGIN + CHECK_PERIOD);
                assert_eq!(c % CHECK_PERIOD, 0);
                assert!(start - w >= 92 && start - w <= 155, "{interval} {n}");
                assert!(w > load_check(n - 1, interval), "{interval} {n}");
                assert!(
                    w >= (n - 1) * interval,
                    "{interval} {n}: published in interval n-1"
                );
                assert!((w % CHECK_PERIOD).abs_diff(CHECK_PERIOD / 2) <= 16);
            }
        }
    }

    #[test]
    fn daemon_steps() {
        let i = 3600;
        // Steady state: in interval 1 holding key 1, nothing to write until W(2) = 7072.
        assert_eq!(
            step(3700, i, Some(1)),
            Step {
                write: None,
                wake: 7072
            }
        );
        // At W(2): write key 2, next publication W(3) = 64 * floor(10740 / 64) - 32.
        assert_eq!(
            step(7072, i, Some(1)),
            Step {
                write: Some(2),
                wake: 10_656
            }
        );
        assert_eq!(load_check(3, i), 10_688);
        // Woken late, after the boundary, still holding key 1: write key 2 (the file is one
        // key behind; lighttpd keeps encrypting with key 1, which is still in the window).
        assert_eq!(
            step(7300, i, Some(1)),
            Step {
                write: Some(2),
                wake: 10_656
            }
        );
        // Start-up with a missing or foreign file before W(c+1): write the current key.
        assert_eq!(
            step(3700, i, None),
            Step {
                write: Some(1),
                wake: 7072
            }
        );
        // Start-up inside the publication window with a foreign file: current key first, the
        // next one half a period after the next check (7104 + 32).
        assert_eq!(
            step(7080, i, None),
            Step {
                write: Some(1),
                wake: 7136
            }
        );
        assert_eq!(
            step(7136, i, Some(1)),
            Step {
                write: Some(2),
                wake: 10_656
            }
        );
        // Already right: nothing is rewritten (a rewrite would evict lighttpd's history).
        assert_eq!(
            step(7136, i, Some(2)),
            Step {
                write: None,
                wake: 10_656
            }
        );
    }

    #[test]
    fn mtimes() {
        // Never in the second of a check or the one after it; always advancing.
        assert_eq!(file_mtime(6400, None), 6402);
        assert_eq!(file_mtime(6401, None), 6402);
        assert_eq!(file_mtime(6402, None), 6402);
        assert_eq!(file_mtime(6430, Some(6430)), 6431);
        assert_eq!(file_mtime(6430, Some(6500)), 6501);
        assert_eq!(file_mtime(6430, Some(100)), 6430);
    }
}
