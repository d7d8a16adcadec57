//! Temporary names and the output lock: every temporary entry keywheel makes is named
//! `.keywheel-<pid>-….tmp`, so that a later run removes its own and those of dead processes
//! (never another live writer's), and writers of one directory take turns through
//! [`LOCK_NAME`] (flock).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::sys::os::strerror;

/// A name for a temporary entry next to `name` in the same directory. Every temporary name
/// keywheel makes starts with ".keywheel-" and ends with ".tmp", so stale ones can be found.
pub(crate) fn temp_name(name: &std::ffi::OsStr, what: &str) -> OsString {
    let mut s = OsString::from(format!(".keywheel-{}-", std::process::id()));
    s.push(temp_tail(name, what));
    s.push(".tmp");
    s
}

/// The part of a temporary name after the pid: `<what>-<name>`, the name cut to 200 bytes so
/// that the temporary of a valid long name (up to 255 bytes) is still a valid name.
pub(crate) fn temp_tail(name: &std::ffi::OsStr, what: &str) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    let bytes = name.as_bytes();
    let mut s = OsString::from(format!("{what}-"));
    s.push(std::ffi::OsStr::from_bytes(&bytes[..bytes.len().min(200)]));
    s
}

pub(crate) fn is_temp_name(name: &[u8]) -> bool {
    name.starts_with(b".keywheel-") && name.ends_with(b".tmp")
}

/// The pid in a temporary name made by [`temp_name`] (`.keywheel-<pid>-…`).
fn temp_owner(name: &[u8]) -> Option<i32> {
    let rest = name.strip_prefix(b".keywheel-")?;
    let end = rest.iter().position(|b| *b == b'-')?;
    let digits = std::str::from_utf8(&rest[..end]).ok()?;
    digits.parse::<i32>().ok().filter(|pid| *pid > 0)
}

/// Whether process `pid` exists (a process of another user counts as existing).
fn pid_alive(pid: i32) -> bool {
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Whether `name` is a keywheel temporary that may be removed: this process's own, or one of a
/// process that no longer exists (killed in the middle of a write). Another live process's
/// temporaries are never touched.
pub(crate) fn is_stale_temp(name: &[u8]) -> bool {
    if !is_temp_name(name) {
        return false;
    }
    match temp_owner(name) {
        Some(pid) => u32::try_from(pid).is_ok_and(|p| p == std::process::id()) || !pid_alive(pid),
        None => false,
    }
}

/// Removes, in `dir`, the stale temporaries ([`is_stale_temp`]) whose name ends with
/// `-<suffix>.tmp` (every stale one with `suffix` `None`). Symlinks are removed, never
/// followed; directories are removed with their content. Returns what was removed and the
/// errors met (not fatal).
pub(crate) fn remove_stale_temps(
    dir: &Path,
    suffix: Option<&std::ffi::OsStr>,
) -> (Vec<PathBuf>, Vec<String>) {
    use std::os::unix::ffi::OsStrExt;
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return (removed, errors);
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let bytes = name.as_bytes();
        if !is_stale_temp(bytes) {
            continue;
        }
        if let Some(suffix) = suffix {
            let mut tail = b"-".to_vec();
            tail.extend_from_slice(suffix.as_bytes());
            tail.extend_from_slice(b".tmp");
            if !bytes.ends_with(&tail) {
                continue;
            }
        }
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let result = if is_dir {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => errors.push(format!(
                "cannot remove {}: {}",
                path.display(),
                strerror(&e)
            )),
        }
    }
    (removed, errors)
}

/// The lock file keywheel holds (flock) while it publishes into an output directory.
pub(crate) const LOCK_NAME: &str = ".keywheel.lock";

/// How long a writer waits for another one to finish publishing into the same directory.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// An exclusive `flock` on `DIR/.keywheel.lock`, released on drop (and by the kernel when the
/// process dies, so a killed writer never leaves the directory locked).
#[derive(Debug)]
pub(crate) struct DirLock {
    _lock: nix::fcntl::Flock<File>,
}

/// Takes the exclusive lock of the output directory `dir` (waiting up to 10 s for another
/// writer), so that two writers never publish into it at the same time.
pub(crate) fn lock_dir(dir: &Path) -> Result<DirLock, String> {
    use nix::fcntl::{Flock, FlockArg};
    let path = dir.join(LOCK_NAME);
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| {
            format!(
                "cannot open the lock file {}: {}",
                path.display(),
                strerror(&e)
            )
        })?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(DirLock { _lock: lock }),
            Err((f, nix::errno::Errno::EWOULDBLOCK)) if std::time::Instant::now() < deadline => {
                file = f;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(format!(
                    "{} is locked by another keywheel writing into the same directory ({} held \
                     for more than {} s); run one writer per output",
                    dir.display(),
                    path.display(),
                    LOCK_WAIT.as_secs()
                ));
            }
            Err((_, e)) => {
                return Err(format!(
                    "cannot lock {}: {}",
                    path.display(),
                    strerror(&io::Error::from(e))
                ));
            }
        }
    }
}
