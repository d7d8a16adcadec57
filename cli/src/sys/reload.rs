//! The reload command (`--reload`, `reload =`): run with /bin/sh -c in its own process group,
//! its output on stderr, killed (the whole group) when it takes too long.

use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::sys::os;

/// The longest a reload command may run before it is killed.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `cmd` with /bin/sh -c, $KEYWHEEL_COUNTER and $KEYWHEEL_OUT set; its output goes to
/// stderr. The error is the line to log.
pub(crate) fn run_reload(cmd: &str, counter: u64, out: &Path) -> Result<(), String> {
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("cannot run reload command `{cmd}`: {}", os::strerror(&e)))?;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .env("KEYWHEEL_COUNTER", counter.to_string())
        .env("KEYWHEEL_OUT", out)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stderr))
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run reload command `{cmd}`: {}", os::strerror(&e)))?;
    let deadline = Instant::now() + RELOAD_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                if let Ok(pid) = i32::try_from(child.id()) {
                    // The command runs in its own process group: kill all of it.
                    let group = nix::unistd::Pid::from_raw(-pid);
                    let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
                }
                let _ = child.wait();
                return Err(format!(
                    "reload command `{cmd}` did not finish within {} s and was killed",
                    RELOAD_TIMEOUT.as_secs()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "cannot wait for reload command `{cmd}`: {}",
                    os::strerror(&e)
                ));
            }
        }
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(format!("reload command `{cmd}` exited with status {code}")),
        (None, Some(sig)) => Err(format!("reload command `{cmd}` was killed by signal {sig}")),
        (None, None) => Err(format!("reload command `{cmd}` failed: {status}")),
    }
}
