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
//! Pure where it can be: `gob.rs` ([`encode`] and [`decode`], the exact bytes Go 1.19's
//! `encoding/gob` makes for that struct), [`rotation_times`], [`classify`] (is the installed
//! file ours, current, or did Caddy rotate by itself); `storage.rs` the lock protocol of
//! certmagic's `FileStorage` ([`StekLock`]) and [`install`] (atomic replacement under that
//! lock).

mod gob;
mod storage;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

pub use gob::{decode, encode};
use storage::{install, read_installed};

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
mod tests;
