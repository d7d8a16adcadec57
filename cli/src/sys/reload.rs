//! The reload command (`--reload`, `reload =`): run with /bin/sh -c in its own process group,
//! without waiting for it ([`Reload`]), so that a slow command never delays another target or
//! the next rotation. It gets a cleaned environment (no `CREDENTIALS_DIRECTORY`,
//! `NOTIFY_SOCKET`, socket-activation or watchdog variables), its output is logged line by
//! line with a prefix and bounded, and its whole process group is killed when it outlives its
//! timeout or when the daemon exits (see [`kill_all`]).

use std::io::{BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::sys::log::Log;
use crate::sys::os;

/// The longest a reload command may run: half the rotation interval, at most this.
pub(crate) const MAX_RELOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// At most this many bytes of a reload command's output are logged per run.
pub(crate) const OUTPUT_LIMIT: usize = 16 * 1024;

/// At most this many bytes of one output line are logged.
const LINE_LIMIT: usize = 400;

/// Environment variables the daemon gets from systemd that a reload command must not inherit.
const REMOVED_ENV: [&str; 8] = [
    "CREDENTIALS_DIRECTORY",
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "MAINPID",
];

/// The process groups of the reload commands running now, killed by [`kill_all`].
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn groups() -> std::sync::MutexGuard<'static, Vec<i32>> {
    GROUPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Kills (SIGKILL) the process group of every reload command still running: called when the
/// daemon exits on a signal.
pub(crate) fn kill_all() {
    for pgid in groups().drain(..) {
        let _ = kill(Pid::from_raw(-pgid), Signal::SIGKILL);
    }
}

/// The timeout of a reload command for a target rotating every `interval` seconds: half the
/// interval (so it ends before the next rotation), at most [`MAX_RELOAD_TIMEOUT`].
pub(crate) fn timeout_for(interval: u64) -> Duration {
    Duration::from_secs((interval / 2).max(1)).min(MAX_RELOAD_TIMEOUT)
}

/// A reload command started and not yet reaped.
#[derive(Debug)]
pub(crate) struct Reload {
    cmd: String,
    child: Child,
    pgid: i32,
    deadline: Instant,
    timeout: Duration,
    /// Closed when the output thread has logged everything.
    output_done: std::sync::mpsc::Receiver<()>,
    /// The value this run is for (the counter of the keys it reloads).
    pub(crate) counter: u64,
}

/// Starts `cmd` with /bin/sh -c in a new process group, $KEYWHEEL_COUNTER and $KEYWHEEL_OUT
/// set, its output (stdout and stderr) logged through `log` as "reload output: LINE".
pub(crate) fn spawn(
    cmd: &str,
    counter: u64,
    out: &Path,
    timeout: Duration,
    log: &Log,
) -> Result<Reload, String> {
    let fail =
        |e: std::io::Error| format!("cannot run reload command `{cmd}`: {}", os::strerror(&e));
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| fail(std::io::Error::from(e)))?;
    let write2 = write.try_clone().map_err(fail)?;
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(cmd)
        .env("KEYWHEEL_COUNTER", counter.to_string())
        .env("KEYWHEEL_OUT", out)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::from(write2))
        .process_group(0);
    for name in REMOVED_ENV {
        command.env_remove(name);
    }
    let mut list = groups();
    let child = command.spawn().map_err(fail)?;
    drop(command); // closes our copies of the pipe's write end
    let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    list.push(pgid);
    drop(list);
    let log = log.clone();
    let (done_tx, output_done) = std::sync::mpsc::channel::<()>();
    let _ = std::thread::Builder::new()
        .name("reload-output".into())
        .spawn(move || {
            log_output(read, &log);
            drop(done_tx);
        });
    Ok(Reload {
        cmd: cmd.to_owned(),
        child,
        pgid,
        deadline: Instant::now() + timeout,
        timeout,
        output_done,
        counter,
    })
}

/// Logs the lines read from `read` until every writer has closed it: each cut at
/// [`LINE_LIMIT`] bytes, the run's output cut at [`OUTPUT_LIMIT`] bytes (the rest is read and
/// dropped, so the command never blocks on a full pipe).
fn log_output(read: OwnedFd, log: &Log) {
    let mut reader = BufReader::new(std::fs::File::from(read));
    let mut logged = 0usize;
    let mut cut = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader).take(64 * 1024).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if logged >= OUTPUT_LIMIT {
            if !cut {
                log.info(&format!(
                    "reload output: (more output dropped: {OUTPUT_LIMIT} bytes logged per run)"
                ));
                cut = true;
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let mut end = text.len().min(LINE_LIMIT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let shown: String = text[..end]
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        let more = if end < text.len() { " (line cut)" } else { "" };
        logged += line.len();
        log.info(&format!("reload output: {shown}{more}"));
    }
}

impl Reload {
    /// Whether it has finished, without waiting: `None` while it runs; past its deadline its
    /// process group is killed and an error returned.
    pub(crate) fn poll(&mut self) -> Option<Result<(), String>> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(self.done(status)),
            Ok(None) if Instant::now() < self.deadline => None,
            Ok(None) => Some(self.kill_timed_out()),
            Err(e) => Some(Err(format!(
                "cannot wait for reload command `{}`: {}",
                self.cmd,
                os::strerror(&e)
            ))),
        }
    }

    /// Waits for it to finish (or kills it at its deadline).
    pub(crate) fn wait(&mut self) -> Result<(), String> {
        loop {
            if let Some(result) = self.poll() {
                return result;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits up to `limit` for it to finish (a quick command is reported at once).
    pub(crate) fn wait_briefly(&mut self, limit: Duration) -> Option<Result<(), String>> {
        let until = Instant::now() + limit;
        loop {
            if let Some(result) = self.poll() {
                return Some(result);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn kill_timed_out(&mut self) -> Result<(), String> {
        self.kill_group();
        let _ = self.child.wait();
        Err(format!(
            "reload command `{}` did not finish within {} s and was killed (its process group)",
            self.cmd,
            self.timeout.as_secs()
        ))
    }

    fn kill_group(&mut self) {
        let _ = kill(Pid::from_raw(-self.pgid), Signal::SIGKILL);
        groups().retain(|g| *g != self.pgid);
    }

    fn done(&mut self, status: ExitStatus) -> Result<(), String> {
        // Reaped: its group id may be reused from now on, so it is no longer killed.
        groups().retain(|g| *g != self.pgid);
        // Its output first (unless something it started in the background keeps the pipe).
        let _ = self.output_done.recv_timeout(Duration::from_millis(500));
        let cmd = &self.cmd;
        match (status.code(), status.signal()) {
            (Some(0), _) => Ok(()),
            (Some(code), _) => Err(format!("reload command `{cmd}` exited with status {code}")),
            (None, Some(sig)) => Err(format!("reload command `{cmd}` was killed by signal {sig}")),
            (None, None) => Err(format!("reload command `{cmd}` failed: {status}")),
        }
    }
}

impl Drop for Reload {
    /// A reload command never outlives the target that started it.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill_group();
            let _ = self.child.wait();
        } else {
            groups().retain(|g| *g != self.pgid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_ends_before_the_next_rotation() {
        assert_eq!(timeout_for(10), Duration::from_secs(5));
        assert_eq!(timeout_for(60), Duration::from_secs(30));
        assert_eq!(timeout_for(3600), MAX_RELOAD_TIMEOUT);
        for interval in (10..=604_800).step_by(2) {
            assert!(timeout_for(interval) < Duration::from_secs(interval));
        }
    }
}
