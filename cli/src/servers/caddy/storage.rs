//! certmagic's `FileStorage` protocol around Caddy's `stek.bin`: the `stek_check` lock file
//! (JSON with RFC 3339 times, stale after [`LOCK_STALE_AFTER`]), [`StekLock`], and
//! [`install`] (atomic replacement under that lock) / [`read_installed`].

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, fchown};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::{CaddyError, LOCK_FILE, LOCK_POLL, LOCK_STALE_AFTER, STEK_FILE, io_err};

/// Formats a time as Go's `time.RFC3339Nano` in UTC: fractional seconds without trailing zeros,
/// none at all when the nanoseconds are zero, then `Z`.
pub fn rfc3339_nano(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("0001-01-01T00:00:00Z"))
}

/// Parses RFC 3339 as Go's `time.Time.UnmarshalJSON` reads it (any offset, optional fraction;
/// Go requires the `T` between date and time where RFC 3339 also allows a space).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(SystemTime::from)
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
