//! Caddy 2.6 (`tls.session_tickets.key_source` = `distributed` over `file_system` storage):
//! Caddy reads its ticket seeds from `ROOT/stek/stek.bin`, a Go gob of
//!
//! ```go
//! type distributedSTEK struct {
//!     Keys                       [][32]byte
//!     LastRotation, NextRotation time.Time
//! }
//! ```
//!
//! at start, at every config reload, and when a timer fires at `NextRotation`; each time under
//! the storage lock `ROOT/locks/stek_check.lock`. If the file is missing, or `NextRotation` is
//! past, Caddy puts a random key first and writes the file itself. keywheel writes the seeds of
//! SPEC.md §4.5 (current, next, previous 1..=keep) with `NextRotation` = the next interval start
//! plus a grace, and rewrites the file before that, so Caddy never rotates on its own.
//!
//! This module is self-contained and pure where it can be: [`encode`] and [`decode`] (the exact
//! bytes Go 1.19's `encoding/gob` makes for that struct — `tests/servers/test_caddy.py` checks
//! them against a gob decoder written from Go's documentation and against Debian's caddy),
//! [`rotation_times`], [`classify`] (is the installed file ours, current, or did Caddy rotate
//! by itself), the lock protocol of certmagic's `FileStorage` ([`StekLock`]) and [`install`]
//! (atomic replacement under that lock).

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, fchown};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

/// Length of one seed (Go's `[32]byte` session-ticket key).
pub const SEED_LEN: usize = 32;
/// The key file, relative to the storage root (Caddy's `stekFileName`).
pub const STEK_FILE: &str = "stek/stek.bin";
/// The lock file, relative to the storage root (certmagic's `locks/` + `stek_check` + `.lock`).
pub const LOCK_FILE: &str = "locks/stek_check.lock";
/// certmagic considers a lock stale when its `updated` time is older than this (2 × its 5 s
/// refresh interval).
pub const LOCK_STALE_AFTER: Duration = Duration::from_secs(10);
/// How often a held lock is polled (certmagic's `fileLockPollInterval`).
pub const LOCK_POLL: Duration = Duration::from_secs(1);
/// Longest grace after an interval boundary before Caddy re-reads the file (see
/// [`default_grace`]).
pub const MAX_DEFAULT_GRACE: u64 = 60;
/// Seconds from 0001-01-01T00:00:00Z (Go's internal epoch) to the unix epoch.
const GO_UNIX_OFFSET: i64 = 62_135_596_800;

/// The four gob type-definition messages that start every encoding of `distributedSTEK` by a
/// fresh encoder (type ids 65 = the struct, 66 = `[32]uint8`, 67 = `[][32]uint8`, 68 =
/// `time.Time` as a GobEncoder), each a length then a negative type id then a wireType.
const TYPE_DEFINITIONS: &[u8; 135] = b"\
\x4b\xff\x81\x03\x01\x01\x0fdistributedSTEK\x01\xff\x82\x00\x01\x03\
\x01\x04Keys\x01\xff\x86\x00\x01\x0cLastRotation\x01\xff\x88\x00\x01\x0cNextRotation\x01\xff\x88\
\x00\x00\x00\
\x1a\xff\x85\x02\x01\x01\x0b[][32]uint8\x01\xff\x86\x00\x01\xff\x84\x00\x00\
\x0e\xff\x83\x01\x01\x02\xff\x84\x00\x01\x06\x01\x40\x00\x00\
\x10\xff\x87\x05\x01\x01\x04Time\x01\xff\x88\x00\x00\x00";

/// Type id 65 (the struct) as a gob int: zig-zag 130, one length byte.
const VALUE_TYPE_ID: [u8; 2] = [0xff, 0x82];
/// Length of `time.Time.MarshalBinary` (version 1): version, seconds, nanoseconds, zone.
const TIME_LEN: usize = 15;
/// [`TIME_LEN`] and [`SEED_LEN`] as the bytes gob writes for them.
const TIME_LEN_BYTE: u8 = 15;
const SEED_LEN_BYTE: u8 = 32;

/// Everything that can go wrong here, each naming the bad value.
#[derive(Debug)]
pub enum CaddyError {
    /// `encode` was given no key: Caddy (Go's `SetSessionTicketKeys`) panics on an empty list.
    NoKeys,
    /// A time before the unix epoch or too far in the future for Go's `time.Time`.
    Time(u64),
    /// The file is not a `distributedSTEK` gob this module can read; the text says where.
    Decode(&'static str),
    /// The lock stayed held by a live holder longer than the timeout.
    LockHeld {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
        /// The holder's last `updated` time, when it could be read (RFC 3339).
        updated: Option<String>,
    },
    /// A file-system operation failed.
    Io {
        /// What was being done, with the path.
        what: String,
        /// The error.
        err: io::Error,
    },
}

impl fmt::Display for CaddyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaddyError::NoKeys => f.write_str(
                "no seeds to write: Caddy needs at least one (Go's SetSessionTicketKeys panics on an empty list)",
            ),
            CaddyError::Time(t) => write!(
                f,
                "time {t} is out of range for Caddy's file; it must be in 1..=100000000000"
            ),
            CaddyError::Decode(what) => write!(f, "not a Caddy STEK file: {what}"),
            CaddyError::LockHeld {
                path,
                waited,
                updated,
            } => write!(
                f,
                "lock {} is still held after {} s (last refreshed {}): a running Caddy holds it \
                 for too long; if no Caddy uses this storage root, remove the file",
                path.display(),
                waited.as_secs(),
                updated.as_deref().unwrap_or("at an unreadable time"),
            ),
            CaddyError::Io { what, err } => write!(f, "{what}: {err}"),
        }
    }
}

impl std::error::Error for CaddyError {}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> CaddyError {
    let what = what.into();
    move |err| CaddyError::Io { what, err }
}

// --- gob ----------------------------------------------------------------------------------------

/// Appends `v` as a gob unsigned integer: below 128 one byte; otherwise the byte `256 - n`
/// then the `n` big-endian bytes of `v` without leading zeros.
fn put_uint(out: &mut Vec<u8>, v: u64) {
    let bytes = v.to_be_bytes();
    if v < 0x80 {
        out.push(bytes[7]);
        return;
    }
    let skip = v.leading_zeros() / 8;
    // 1..=8 bytes follow.
    let n = u8::try_from(8 - skip).unwrap_or(8);
    out.push(0u8.wrapping_sub(n));
    out.extend_from_slice(&bytes[skip as usize..]);
}

/// Appends a UTC `time.Time` of `unix` seconds (nanoseconds 0) as Go's `MarshalBinary` v1.
fn put_time(out: &mut Vec<u8>, unix: i64) {
    out.push(1); // version
    out.extend_from_slice(&(unix + GO_UNIX_OFFSET).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // nanoseconds
    out.extend_from_slice(&(-1i16).to_be_bytes()); // zone offset: -1 = UTC
}

/// Checks a unix time for the file: not zero (gob would omit the field) and within keywheel's
/// time range.
fn unix_time(t: u64) -> Result<i64, CaddyError> {
    match i64::try_from(t) {
        Ok(v) if (1..=100_000_000_000).contains(&v) => Ok(v),
        _ => Err(CaddyError::Time(t)),
    }
}

/// The bytes of `stek.bin` for `keys` (in Caddy's order: the first encrypts), with
/// `LastRotation` and `NextRotation` at the unix times given (UTC, whole seconds): exactly what
/// Go 1.19's `gob.NewEncoder(&buf).Encode(distributedSTEK{…})` writes. Wiped on drop.
///
/// # Errors
/// [`CaddyError::NoKeys`] for an empty list, [`CaddyError::Time`] for a time outside
/// 1..=100000000000.
pub fn encode(
    keys: &[[u8; SEED_LEN]],
    last_rotation: u64,
    next_rotation: u64,
) -> Result<Zeroizing<Vec<u8>>, CaddyError> {
    if keys.is_empty() {
        return Err(CaddyError::NoKeys);
    }
    let (last, next) = (unix_time(last_rotation)?, unix_time(next_rotation)?);
    // The value message: type id, then per field its delta from the previous field and value.
    let mut body = Zeroizing::new(Vec::with_capacity(8 + keys.len() * 65 + 2 * (2 + TIME_LEN)));
    body.extend_from_slice(&VALUE_TYPE_ID);
    body.push(1); // field 0, Keys: a slice of N arrays of 32 uints
    put_uint(&mut body, keys.len() as u64);
    for key in keys {
        body.push(SEED_LEN_BYTE);
        for &b in key {
            put_uint(&mut body, u64::from(b));
        }
    }
    for t in [last, next] {
        body.push(1); // fields 1 and 2: GobEncoder bytes, length-prefixed
        body.push(TIME_LEN_BYTE);
        put_time(&mut body, t);
    }
    body.push(0); // end of struct
    let mut out = Zeroizing::new(Vec::with_capacity(TYPE_DEFINITIONS.len() + 9 + body.len()));
    out.extend_from_slice(TYPE_DEFINITIONS);
    put_uint(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    Ok(out)
}

/// A decoded `stek.bin`.
pub struct Stek {
    /// The seeds, in file order (the first encrypts). Wiped on drop.
    pub keys: Zeroizing<Vec<[u8; SEED_LEN]>>,
    /// `LastRotation`, unix seconds (nanoseconds dropped).
    pub last_rotation: i64,
    /// `NextRotation`, unix seconds (nanoseconds dropped).
    pub next_rotation: i64,
}

impl fmt::Debug for Stek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Stek {{ keys: {} (not shown), last_rotation: {}, next_rotation: {} }}",
            self.keys.len(),
            self.last_rotation,
            self.next_rotation
        )
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self, what: &'static str) -> Result<u8, CaddyError> {
        let b = self
            .data
            .get(self.pos)
            .copied()
            .ok_or(CaddyError::Decode(what))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CaddyError> {
        let s = self
            .data
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or(CaddyError::Decode(what))?;
        self.pos += n;
        Ok(s)
    }

    fn uint(&mut self, what: &'static str) -> Result<u64, CaddyError> {
        let b = self.byte(what)?;
        if b < 0x80 {
            return Ok(u64::from(b));
        }
        let n = usize::from(0u8.wrapping_sub(b));
        if n > 8 {
            return Err(CaddyError::Decode(what));
        }
        Ok(self
            .take(n, what)?
            .iter()
            .fold(0, |v, &d| (v << 8) | u64::from(d)))
    }

    fn expect(&mut self, bytes: &[u8], what: &'static str) -> Result<(), CaddyError> {
        if self.take(bytes.len(), what)? == bytes {
            Ok(())
        } else {
            Err(CaddyError::Decode(what))
        }
    }

    fn time(&mut self, what: &'static str) -> Result<i64, CaddyError> {
        self.expect(&[1, TIME_LEN_BYTE, 1], what)?; // field delta, length, version 1
        let t = self.take(TIME_LEN - 1, what)?;
        let mut sec = [0u8; 8];
        sec.copy_from_slice(&t[..8]);
        Ok(i64::from_be_bytes(sec) - GO_UNIX_OFFSET)
    }
}

/// Reads a `stek.bin` written by keywheel or by Caddy 2.6 (Go 1.19's gob with the type ids a
/// fresh encoder assigns, as both write it). Strict: anything else is an error saying where.
///
/// # Errors
/// [`CaddyError::Decode`].
pub fn decode(data: &[u8]) -> Result<Stek, CaddyError> {
    let mut r = Reader { data, pos: 0 };
    r.expect(
        TYPE_DEFINITIONS,
        "the type definitions are not distributedSTEK's",
    )?;
    let len = r.uint("truncated value length")?;
    let len = usize::try_from(len).map_err(|_| CaddyError::Decode("value length"))?;
    if data.len() - r.pos != len {
        return Err(CaddyError::Decode(
            "the value message's length is not the rest of the file (truncated or extended)",
        ));
    }
    r.expect(&VALUE_TYPE_ID, "the value is not of type distributedSTEK")?;
    r.expect(&[1], "no Keys field")?;
    let n = r.uint("truncated key count")?;
    if n == 0 || n > 1 << 16 {
        return Err(CaddyError::Decode("key count out of range"));
    }
    let mut keys = Zeroizing::new(Vec::new());
    for _ in 0..n {
        r.expect(&[SEED_LEN_BYTE], "a key is not 32 bytes")?;
        let mut key = [0u8; SEED_LEN];
        for b in &mut key {
            *b = u8::try_from(r.uint("truncated key")?)
                .map_err(|_| CaddyError::Decode("a key byte is above 255"))?;
        }
        keys.push(key);
        zeroize::Zeroize::zeroize(&mut key);
    }
    let last_rotation = r.time("LastRotation missing or not a version-1 time")?;
    let next_rotation = r.time("NextRotation missing or not a version-1 time")?;
    r.expect(&[0], "extra fields after NextRotation")?;
    Ok(Stek {
        keys,
        last_rotation,
        next_rotation,
    })
}

// --- what to write, and what is installed -----------------------------------------------------

/// The default grace: how long after an interval boundary Caddy's own timer fires and re-reads
/// the file, `min(60 s, interval / 2)`. It must cover the daemon's 2.02 s wake fudge, the
/// write and any clock difference between keywheel and Caddy (one machine: none); during it
/// Caddy still encrypts with the previous interval's key, which every node accepts when keep ≥ 1.
pub const fn default_grace(interval: u64) -> u64 {
    let half = interval / 2;
    if half < MAX_DEFAULT_GRACE {
        half
    } else {
        MAX_DEFAULT_GRACE
    }
}

/// `(LastRotation, NextRotation)` for the interval with counter `current`: its start, and the
/// next interval's start plus `grace`.
pub const fn rotation_times(current: u64, interval: u64, grace: u64) -> (u64, u64) {
    (current * interval, (current + 1) * interval + grace)
}

/// What is installed under a storage root, compared with keywheel's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StekState {
    /// No `stek.bin`: Caddy will make random keys of its own when it (re)loads.
    Missing,
    /// Byte-identical to what keywheel writes now.
    Current,
    /// keywheel's file, of another interval or grace (the first key is one of keywheel's).
    Outdated,
    /// Caddy rotated on its own: its first (encrypting) key is not keywheel's but later keys
    /// are. Caddy will not re-read the file before its own NextRotation: rewrite, then reload.
    CaddyRotated,
    /// A readable file with no key of keywheel's (another label or main key, or Caddy's own
    /// keys from scratch): rewrite, then reload.
    Foreign,
    /// Not a file this module can read (truncated or another format): Caddy refuses to start
    /// or reload with it; rewrite, then reload.
    Corrupt,
}

impl StekState {
    /// Whether Caddy must be made to re-read the file after it is rewritten (`caddy reload
    /// --force`): Caddy is using keys that are not keywheel's. Not for a missing file: a Caddy
    /// that had loaded this storage root would have written one, so none has (keywheel's file
    /// is there before Caddy starts, and no reload of a Caddy not yet running is attempted).
    pub const fn needs_reload(self) -> bool {
        matches!(
            self,
            StekState::CaddyRotated | StekState::Foreign | StekState::Corrupt
        )
    }
}

/// Classifies the installed file `on_disk` (`None`: missing) against `expected`, the bytes
/// keywheel writes now, and `ours`, every seed keywheel may have written recently (the window,
/// and the previous window's keys).
pub fn classify(on_disk: Option<&[u8]>, expected: &[u8], ours: &[[u8; SEED_LEN]]) -> StekState {
    let Some(data) = on_disk else {
        return StekState::Missing;
    };
    if data == expected {
        return StekState::Current;
    }
    let Ok(stek) = decode(data) else {
        return StekState::Corrupt;
    };
    let is_ours = |k: &[u8; SEED_LEN]| ours.iter().any(|o| o == k);
    match stek.keys.first() {
        Some(first) if is_ours(first) => StekState::Outdated,
        _ if stek.keys.iter().any(is_ours) => StekState::CaddyRotated,
        _ => StekState::Foreign,
    }
}

// --- certmagic's file lock ------------------------------------------------------------------

/// Formats a time as Go's `time.RFC3339Nano` in UTC: fractional seconds without trailing zeros,
/// none at all when the nanoseconds are zero, then `Z`.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, dd) = civil_from_days(days as i64);
    let mut s = format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Parses RFC 3339 as Go's `time.Time.UnmarshalJSON` writes it (any offset, optional fraction).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    let shape = sep(4, b'-')
        && sep(7, b'-')
        && matches!(b.get(10), Some(b'T' | b't'))
        && sep(13, b':')
        && sep(16, b':');
    if !shape {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if sep(i, b'.') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        let digits = &s[start..end.min(start + 9)];
        nanos = format!("{digits:0<9}").parse().ok()?;
        i = end;
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&c @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b':') => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if c == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let unix = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    let unix = u64::try_from(unix).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(unix, nanos))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The content certmagic writes into a lock file it creates: JSON `{"created","updated"}`
/// (both `now`, RFC 3339 with nanoseconds) and a newline (Go's `json.Encoder`).
pub fn lock_content(now: SystemTime) -> String {
    let t = rfc3339_nano(now);
    let mut s = serde_json::json!({ "created": t, "updated": t }).to_string();
    s.push('\n');
    s
}

/// What a lock file says, read as certmagic reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// Empty or not JSON (being written, or its writer crashed): certmagic retries 8 times at
    /// 250 ms, then treats it as stale.
    Unreadable,
    /// Refreshed (`updated`, else `created`) more than [`LOCK_STALE_AFTER`] before now: anyone
    /// may delete it.
    Stale(String),
    /// Held and fresh.
    Fresh(String),
}

/// Reads lock-file `content` at time `now` as certmagic's `fileLockIsStale` does.
pub fn lock_state(content: &[u8], now: SystemTime) -> LockState {
    #[derive(serde::Deserialize)]
    struct Meta {
        created: Option<String>,
        updated: Option<String>,
    }
    let Ok(meta) = serde_json::from_slice::<Meta>(content) else {
        return LockState::Unreadable;
    };
    fn parse(s: Option<&str>) -> Option<(&str, SystemTime)> {
        s.and_then(|t| Some((t, parse_rfc3339(t)?)))
    }
    let found = parse(meta.updated.as_deref()).or_else(|| parse(meta.created.as_deref()));
    let Some((text, when)) = found else {
        // A zero time, as Go would read one missing: stale.
        return LockState::Stale(String::from("never"));
    };
    let age = now.duration_since(when).unwrap_or_default();
    if age > LOCK_STALE_AFTER {
        LockState::Stale(text.to_owned())
    } else {
        LockState::Fresh(text.to_owned())
    }
}

/// The `stek_check` lock, held: deleted when dropped (certmagic's `Unlock`). keywheel holds it
/// for one write and rename, well under certmagic's 5 s refresh, so it never refreshes it.
#[derive(Debug)]
pub struct StekLock {
    path: PathBuf,
}

impl Drop for StekLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Creates `dir` (and its parents) with mode 0700, as certmagic does, and gives the
/// directories it created to `owner`.
fn make_dirs(dir: &Path, owner: Option<(u32, u32)>) -> Result<(), CaddyError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(parent, owner)?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(io_err(format!("creating directory {}", dir.display()))(e)),
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .map_err(io_err(format!("giving {} to uid {uid}", dir.display())))?;
    }
    Ok(())
}

impl StekLock {
    /// Takes the lock under storage root `root` as certmagic's `FileStorage.Lock` does: create
    /// `locks/stek_check.lock` with `O_EXCL` (mode 0644) and write [`lock_content`]; if it
    /// exists, delete it when stale or unreadable (after 8 reads 250 ms apart), else poll
    /// every second. `clock` gives the time (tests pass a fake one).
    ///
    /// # Errors
    /// [`CaddyError::LockHeld`] when a fresh lock is still there after `timeout`;
    /// [`CaddyError::Io`] when the lock cannot be created or read.
    pub fn acquire(
        root: &Path,
        owner: Option<(u32, u32)>,
        timeout: Duration,
        clock: &dyn Fn() -> SystemTime,
    ) -> Result<StekLock, CaddyError> {
        let path = root.join(LOCK_FILE);
        if let Some(dir) = path.parent() {
            make_dirs(dir, owner)?;
        }
        let started = std::time::Instant::now();
        let mut unreadable = 0;
        loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&path)
            {
                Ok(mut f) => {
                    let lock = StekLock { path };
                    f.write_all(lock_content(clock()).as_bytes())
                        .and_then(|()| f.sync_all())
                        .map_err(io_err(format!("writing lock {}", lock.path.display())))?;
                    return Ok(lock);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(format!("creating lock {}", path.display()))(e)),
            }
            let mut content = Vec::new();
            let read = File::open(&path).and_then(|f| f.take(2048).read_to_end(&mut content));
            let state = match read {
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // just released
                Err(e) => return Err(io_err(format!("reading lock {}", path.display()))(e)),
                Ok(_) => lock_state(&content, clock()),
            };
            let wait = match state {
                LockState::Unreadable if unreadable < 8 => {
                    unreadable += 1;
                    Duration::from_millis(250)
                }
                LockState::Unreadable | LockState::Stale(_) => {
                    match fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(io_err(format!("removing stale lock {}", path.display()))(
                                e,
                            ));
                        }
                    }
                    continue;
                }
                LockState::Fresh(updated) => {
                    let waited = started.elapsed();
                    if waited >= timeout {
                        return Err(CaddyError::LockHeld {
                            path,
                            waited,
                            updated: Some(updated),
                        });
                    }
                    LOCK_POLL.min(timeout - waited)
                }
            };
            std::thread::sleep(wait);
        }
    }
}

/// Replaces `ROOT/stek/stek.bin` with `data` atomically under the `stek_check` lock: a
/// temporary file in the same directory (mode 0600, given to `owner`, e.g. Debian's `caddy`
/// user, so that Caddy can read it and rewrite it), fsync, rename, fsync of the directory.
/// On any error the temporary file is removed and the installed file is untouched.
///
/// # Errors
/// [`CaddyError::LockHeld`] or [`CaddyError::Io`].
pub fn install(
    root: &Path,
    data: &[u8],
    owner: Option<(u32, u32)>,
    lock_timeout: Duration,
    clock: &dyn Fn() -> SystemTime,
) -> Result<(), CaddyError> {
    let target = root.join(STEK_FILE);
    let dir = target.parent().unwrap_or(root).to_path_buf();
    make_dirs(&dir, owner)?;
    let tmp = dir.join(format!(".stek.bin.keywheel.{}", std::process::id()));
    let write = || -> Result<(), CaddyError> {
        let what = format!("writing {}", tmp.display());
        let _ = fs::remove_file(&tmp); // left over by a crash of this pid's predecessor
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(what.clone()))?;
        if let Some((uid, gid)) = owner {
            fchown(&f, Some(uid), Some(gid))
                .map_err(io_err(format!("giving {} to uid {uid}", tmp.display())))?;
        }
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .map_err(io_err(what))
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let lock = match StekLock::acquire(root, owner, lock_timeout, clock) {
        Ok(lock) => lock,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let renamed = fs::rename(&tmp, &target).map_err(io_err(format!(
        "renaming {} to {}",
        tmp.display(),
        target.display()
    )));
    drop(lock);
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(format!("syncing directory {}", dir.display())))
}

/// Reads the installed `ROOT/stek/stek.bin` (`None` when missing), for `status`/`check`.
///
/// # Errors
/// [`CaddyError::Io`] for any error but a missing file.
pub fn read_installed(root: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, CaddyError> {
    let path = root.join(STEK_FILE);
    match fs::read(&path) {
        Ok(data) => Ok(Some(Zeroizing::new(data))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(format!("reading {}", path.display()))(e)),
    }
}

// --- the Server -------------------------------------------------------------------------

/// How long keywheel waits for a `stek_check` lock held by a live Caddy before it gives up (and
/// retries at the daemon's backoff): Caddy holds it for one read or write of `stek.bin`.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Caddy's `distributed` session-ticket provider over `file_system` storage: `--out` is the
/// storage root.
pub(crate) struct Caddy;

impl crate::servers::Server for Caddy {
    fn formats(&self) -> &'static [&'static str] {
        &["caddy"]
    }

    fn writes_directory(&self) -> bool {
        true
    }

    fn reloads_on_rotation(&self) -> bool {
        // Caddy's own timer re-reads stek.bin at NextRotation, after keywheel rewrote it.
        false
    }

    fn install(
        &self,
        out: &crate::servers::Out<'_>,
        _counter: u64,
        keys: &crate::servers::Rendered,
    ) -> Result<crate::servers::Installed, String> {
        let root = out.path;
        let target = root.join(STEK_FILE);
        let on_disk = read_installed(root).map_err(|e| e.to_string())?;
        let state = classify(on_disk.as_deref().map(|d| &d[..]), &keys.bytes, &keys.ours);
        let what = target.display().to_string();
        if state == StekState::Current {
            return Ok(crate::servers::Installed {
                what: format!("nothing: {what} already holds these keys"),
                removed: Vec::new(),
                cleanup_errors: Vec::new(),
                repair: None,
            });
        }
        install(root, &keys.bytes, out.owner, LOCK_TIMEOUT, &SystemTime::now)
            .map_err(|e| e.to_string())?;
        let repair = state.needs_reload().then(|| {
            let why = match state {
                StekState::CaddyRotated => {
                    "showed that Caddy had rotated on its own (its first key was not keywheel's)"
                }
                StekState::Foreign => {
                    "held no key of keywheel's (another label or main key, or Caddy's own keys)"
                }
                _ => "was not a file Caddy can read",
            };
            format!("{} {why}", target.display())
        });
        Ok(crate::servers::Installed {
            what,
            removed: Vec::new(),
            cleanup_errors: Vec::new(),
            repair,
        })
    }

    fn plan(
        &self,
        out: &crate::servers::Out<'_>,
        _counter: u64,
        keys: &crate::servers::Rendered,
        o: &mut String,
        key: &dyn Fn(&mut String, &str, usize),
    ) {
        use std::fmt::Write as _;
        let _ = writeln!(
            o,
            "  would write    {} ({} bytes, mode 0600), atomically under {}",
            out.path.join(STEK_FILE).display(),
            keys.bytes.len(),
            out.path.join(LOCK_FILE).display()
        );
        for i in 0..keys.keys.len() {
            key(o, &format!("    seed {i:<2}     "), i);
        }
    }

    fn pieces(
        &self,
        out: &crate::servers::Out<'_>,
        now: Option<&crate::servers::Rendered>,
        previous: Option<&crate::servers::Rendered>,
    ) -> Vec<crate::servers::Piece> {
        vec![crate::servers::Piece {
            path: out.path.join(STEK_FILE),
            now: now.map(|r| Zeroizing::new(r.bytes.to_vec())),
            previous: previous.map(|r| Zeroizing::new(r.bytes.to_vec())),
            holds_keys: true,
        }]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
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
            Some(
                "time 100000000001 is out of range for Caddy's file; it must be in 1..=100000000000"
            )
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
        let r = crate::servers::go::render(crate::servers::SeedFormat::Caddy, &keys, None, &slot)
            .unwrap();
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
        let refreshed =
            br#"{"created":"2023-11-14T22:00:00Z","updated":"2023-11-14T23:13:19+01:00"}"#;
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
        let held =
            StekLock::acquire(d.path(), None, Duration::from_secs(1), &SystemTime::now).unwrap();
        let content = fs::read(d.path().join(LOCK_FILE)).unwrap();
        assert!(matches!(
            lock_state(&content, SystemTime::now()),
            LockState::Fresh(_)
        ));
        let second =
            StekLock::acquire(d.path(), None, Duration::from_millis(200), &SystemTime::now);
        assert!(matches!(second, Err(CaddyError::LockHeld { .. })));
        drop(held);
        assert!(!d.path().join(LOCK_FILE).exists());
        StekLock::acquire(d.path(), None, Duration::from_secs(1), &SystemTime::now).unwrap();
    }
}
