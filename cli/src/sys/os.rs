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

use keywheel::{MAIN_KEY_LEN, MAX_TIME, MIN_TIME};
use nix::errno::Errno;
use nix::sys::mman::{MlockAllFlags, mlockall};
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::sys::time::TimeSpec;
use nix::time::{ClockId, ClockNanosleepFlags, clock_gettime, clock_nanosleep};
use zeroize::Zeroizing;

/// The text of an OS error as C's `strerror` gives it (Rust appends " (os error N)").
pub(crate) use keywheel::strerror;

pub(crate) fn errno_text(errno: Errno) -> String {
    strerror(&io::Error::from_raw_os_error(errno as i32))
}

/// tofurkey's start-up hardening: lock all memory when running as root (so secrets never reach
/// swap) and forbid core dumps.
pub(crate) fn harden() -> Result<(), String> {
    if nix::unistd::geteuid().is_root() {
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
    })
}

/// All signals are blocked while this value lives (tofurkey's `block_all_signals`), so that a
/// terminating signal is only delivered after secrets have been wiped.
#[must_use = "signals are unblocked by `restore`"]
pub(crate) struct SignalsBlocked(SigSet);

/// Blocks every signal, returning the mask to restore.
pub(crate) fn block_all_signals() -> Result<SignalsBlocked, String> {
    let mut saved = SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut saved),
    )
    .map_err(|e| format!("sigprocmask() failed: {}", errno_text(e)))?;
    Ok(SignalsBlocked(saved))
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
fn write_once(path: &Path, options: &OpenOptions, data: &[u8]) -> Result<(), String> {
    let p = path.display();
    let len = data.len();
    let mut file = options
        .open(path)
        .map_err(|e| format!("open({p}) failed: {}", strerror(&e)))?;
    match file.write(data) {
        Ok(n) if n == len => {}
        Ok(n) => return Err(format!("write({p}): wanted {len} bytes, got {n} bytes")),
        Err(e) => return Err(format!("write({p}, {len}) failed: {}", strerror(&e))),
    }
    nix::unistd::close(file).map_err(|e| format!("close({p}) failed: {}", errno_text(e)))
}

/// Writes the procfs bytes as tofurkey does: `O_WRONLY|O_SYNC`, no create, no truncate.
pub(crate) fn write_procfs(path: &Path, data: &[u8]) -> Result<(), String> {
    let mut options = OpenOptions::new();
    options.write(true).custom_flags(libc::O_SYNC);
    write_once(path, &options, data)
}

/// Creates (or truncates) an autokey file, mode 0600, with 32 fresh random bytes.
pub(crate) fn write_new_autokey(path: &Path) -> Result<(), String> {
    let mut key = Zeroizing::new([0u8; MAIN_KEY_LEN]);
    getrandom::fill(&mut key[..]).map_err(|e| format!("getrandom() failed: {e}"))?;
    let mut options = OpenOptions::new();
    options
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_SYNC);
    write_once(path, &options, &key[..])
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
