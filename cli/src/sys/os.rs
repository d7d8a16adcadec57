//! Thin, safe wrappers over the few system calls the daemon makes, each returning tofurkey's
//! message text on failure.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;

use keywheel::{MAX_TIME, MIN_TIME};
use nix::errno::Errno;
use nix::sys::mman::{MlockAllFlags, mlockall};
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::time::TimeSpec;
use nix::time::{ClockId, ClockNanosleepFlags, clock_gettime, clock_nanosleep};

/// The text of an OS error as C's `strerror` gives it (Rust appends " (os error N)").
pub(crate) use keywheel::strerror;

pub(crate) fn errno_text(errno: Errno) -> String {
    strerror(&io::Error::from_raw_os_error(errno as i32))
}

/// tofurkey's start-up hardening: lock all memory when running as root (so secrets never reach
/// swap) and forbid core dumps; and (beyond tofurkey) make the process non-dumpable
/// (`PR_SET_DUMPABLE` 0), so that other processes of the same user cannot read its memory
/// through /proc/PID/mem or ptrace. Returns whether memory is locked (not as non-root).
pub(crate) fn harden() -> Result<bool, String> {
    let root = nix::unistd::geteuid().is_root();
    if root {
        let flags = MlockAllFlags::from_bits_retain(
            libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT,
        );
        mlockall(flags)
            .map_err(|e| format!("mlockall(CURRENT|FUTURE|ONFAULT) failed: {}", errno_text(e)))?;
    }
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|e| {
        format!(
            "setrlimit(RLIMIT_CORE, {{ 0, 0 }}) failed: {}",
            errno_text(e)
        )
    })?;
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| format!("prctl(PR_SET_DUMPABLE, 0) failed: {}", errno_text(e)))?;
    Ok(root)
}

/// The log line when [`harden`] could not lock memory.
pub(crate) const NOT_LOCKED: &str =
    "not running as root: memory is not locked (mlockall skipped), so keys may reach swap";

/// Held while secrets are in memory ([`block_all_signals`] to [`SignalsBlocked::restore`]); the
/// termination thread ([`exit_on_signals`]) takes it before ending the process.
static KEY_WORK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// All signals are blocked while this value lives (tofurkey's `block_all_signals`), so that a
/// terminating signal is only delivered after secrets have been wiped.
#[must_use = "signals are unblocked by `restore`"]
pub(crate) struct SignalsBlocked(
    SigSet,
    #[allow(dead_code)] std::sync::MutexGuard<'static, ()>,
);

/// The signals that end the daemon.
fn terminating() -> SigSet {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(sig);
    }
    set
}

/// From now on SIGTERM, SIGINT and SIGHUP are taken by a thread that waits for the key work in
/// progress (if any) to finish, runs `cleanup` (kills the reload commands' process groups),
/// and then ends the process by the same signal, as its default action would have.
///
/// # Errors
/// When the signals cannot be blocked or the thread cannot start.
pub(crate) fn exit_on_signals(cleanup: fn()) -> Result<(), String> {
    let set = terminating();
    // Blocked in this thread before any other starts: every thread inherits the mask, so only
    // `sigwait` below receives them.
    set.thread_block()
        .map_err(|e| format!("sigprocmask() failed: {}", errno_text(e)))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(sig) = set.wait() else {
                return;
            };
            let work = KEY_WORK
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cleanup();
            let mut only = SigSet::empty();
            only.add(sig);
            let _ = only.thread_unblock();
            let _ = nix::sys::signal::kill(nix::unistd::getpid(), sig);
            // Delivered to this thread (the only one not blocking it): the process ends.
            drop(work);
            loop {
                std::thread::park();
            }
        })
        .map(drop)
        .map_err(|e| format!("cannot start the signal thread: {}", strerror(&e)))
}

/// Blocks every signal, returning the mask to restore.
pub(crate) fn block_all_signals() -> Result<SignalsBlocked, String> {
    let work = KEY_WORK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut saved = SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut saved),
    )
    .map_err(|e| format!("sigprocmask() failed: {}", errno_text(e)))?;
    Ok(SignalsBlocked(saved, work))
}

impl SignalsBlocked {
    /// Restores the signal mask saved by [`block_all_signals`]; pending signals (such as a
    /// SIGTERM that arrived meanwhile) are delivered now.
    pub(crate) fn restore(self) -> Result<(), String> {
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.0), None)
            .map_err(|e| format!("sigprocmask() failed: {}", errno_text(e)))
    }
}

/// `CLOCK_REALTIME` in whole seconds, checked to be in `MIN_TIME..=MAX_TIME`.
pub(crate) fn realtime() -> Result<u64, String> {
    let now = clock_gettime(ClockId::CLOCK_REALTIME)
        .map_err(|e| format!("clock_gettime(CLOCK_REALTIME) failed: {}", errno_text(e)))?;
    let secs = now.tv_sec();
    match u64::try_from(secs) {
        Ok(s) if (MIN_TIME..=MAX_TIME).contains(&s) => Ok(s),
        _ => Err(format!("Bad wall clock unix time {secs}")),
    }
}

/// Sleeps until the absolute `CLOCK_REALTIME` time `(secs, nanos)`, so that clock steps are
/// honoured; restarted after EINTR.
pub(crate) fn sleep_until(secs: u64, nanos: u32) -> Result<(), String> {
    // Wake times stay below MAX_TIME + MAX_INTERVAL + 3, far inside i64.
    let request = TimeSpec::new(i64::try_from(secs).unwrap_or(i64::MAX), i64::from(nanos));
    loop {
        match clock_nanosleep(
            ClockId::CLOCK_REALTIME,
            ClockNanosleepFlags::TIMER_ABSTIME,
            &request,
        ) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(format!("clock_nanosleep() failed: {}", errno_text(e))),
        }
    }
}

/// One `open` + one `write` of all of `data` + `close`, each checked, with tofurkey's messages.
/// With `check`, the opened file is checked first (an error stops before the write).
fn write_once(
    path: &Path,
    options: &OpenOptions,
    data: &[u8],
    check: &dyn Fn(&std::fs::File) -> Result<(), String>,
) -> Result<(), String> {
    let p = path.display();
    let len = data.len();
    let mut file = options
        .open(path)
        .map_err(|e| format!("open({p}) failed: {}", strerror(&e)))?;
    check(&file)?;
    match file.write(data) {
        Ok(n) if n == len => {}
        Ok(n) => return Err(format!("write({p}): wanted {len} bytes, got {n} bytes")),
        Err(e) => return Err(format!("write({p}, {len}) failed: {}", strerror(&e))),
    }
    nix::unistd::close(file).map_err(|e| format!("close({p}) failed: {}", errno_text(e)))
}

/// Writes the procfs bytes as tofurkey does: `O_WRONLY|O_SYNC`, no create, no truncate.
///
/// With `strict` (keywheel; tofurkey keeps tofurkey's plain open, whose path is the kernel's
/// file outside tests), the path must not be a symlink (`O_NOFOLLOW`) and must be a file of
/// procfs or a regular file the operator named; a FIFO, device or directory is refused without
/// blocking (`O_NONBLOCK`) and without writing.
pub(crate) fn write_procfs(path: &Path, data: &[u8], strict: bool) -> Result<(), String> {
    let mut options = OpenOptions::new();
    if !strict {
        options.write(true).custom_flags(libc::O_SYNC);
        return write_once(path, &options, data, &|_| Ok(()));
    }
    let refuse = |kind: &str| {
        Err(format!(
            "{} is a {kind}, neither a procfs file nor a regular file; refusing to write TFO keys \
             into it",
            path.display()
        ))
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let t = meta.file_type();
        if t.is_symlink() {
            return Err(format!(
                "{} is a symbolic link; name the file itself (refusing to follow it)",
                path.display()
            ));
        }
        if !t.is_file() {
            return refuse(kind_name(&meta));
        }
    }
    options
        .write(true)
        .custom_flags(libc::O_SYNC | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    let check = |file: &std::fs::File| {
        let meta = file
            .metadata()
            .map_err(|e| format!("fstat({}) failed: {}", path.display(), strerror(&e)))?;
        if meta.is_file() {
            return Ok(());
        }
        let on_proc = nix::sys::statfs::fstatfs(file)
            .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
        if on_proc {
            Ok(())
        } else {
            refuse(kind_name(&meta))
        }
    };
    write_once(path, &options, data, &check)
}

/// What kind of file `meta` describes, in words ("FIFO", "character device", …).
pub(crate) fn kind_name(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        "regular file"
    } else if t.is_dir() {
        "directory"
    } else if t.is_symlink() {
        "symbolic link"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Sends `state` (e.g. "READY=1", "STATUS=...") to `$NOTIFY_SOCKET` (systemd's notification
/// protocol) when it is set. An '@' prefix names an abstract socket.
pub(crate) fn notify(state: &str) -> Result<(), String> {
    let Some(spath) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let what = state.lines().next().unwrap_or_default();
    let bytes = spath.as_bytes();
    let shown = spath.to_string_lossy();
    if !matches!(bytes.first(), Some(b'@' | b'/')) || bytes.len() < 2 {
        return Err(format!("Invalid NOTIFY_SOCKET path '{shown}'"));
    }
    const SUN_PATH_LEN: usize = 108;
    if bytes.len() + 1 > SUN_PATH_LEN {
        return Err(format!(
            "NOTIFY_SOCKET path '{shown}' exceeds sun_path length of {SUN_PATH_LEN}"
        ));
    }
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None => SocketAddr::from_pathname(OsStr::from_bytes(bytes)),
    }
    .map_err(|e| format!("Invalid NOTIFY_SOCKET path '{shown}': {}", strerror(&e)))?;
    let socket = UnixDatagram::unbound()
        .map_err(|_| "Cannot create unix dgram socket fd for systemd NOTIFY_SOCKET".to_owned())?;
    let len = state.len();
    match socket.send_to_addr(state.as_bytes(), &addr) {
        Ok(n) if n == len => {}
        Ok(n) => {
            return Err(format!(
                "Cannot send {what} to NOTIFY_SOCKET '{shown}' (sent {n}/{len} bytes)"
            ));
        }
        Err(e) => {
            return Err(format!(
                "Cannot send {what} to NOTIFY_SOCKET '{shown}': {}",
                strerror(&e)
            ));
        }
    }
    nix::unistd::close(socket).map_err(|e| {
        format!(
            "close() of NOTIFY_SOCKET '{shown}' failed: {}",
            errno_text(e)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_drops_rust_suffix() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&e), "No such file or directory");
    }
}
