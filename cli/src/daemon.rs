//! The one wake-up loop of the `keywheel` daemon, serving every target: the TFO keys
//! (`keywheel tfo`), one server's ticket keys (`keywheel stek`), or all of them from a
//! configuration file (`keywheel run`).
//!
//! Each wake-up: read the clock; the targets whose wake time has come (all of them after a
//! clock step) install their keys with every signal blocked (the main key is read once for
//! all of them and wiped before signals are unblocked, so a SIGTERM only lands after that),
//! then run their reload commands; then the metrics file is rewritten, systemd is told about
//! readiness, and the loop sleeps until the earliest target's next wake time. A target that
//! fails retries on its own schedule; the others are not affected.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::clock::{Clock, Woke};
use crate::keys::{KeyRound, KeySources};
use crate::log::Log;
use crate::metrics;
use crate::os;
use crate::utc::utc_millis;

/// Retry delays after a failure (seconds), the last one repeating.
pub(crate) const BACKOFF: [u64; 6] = [2, 4, 8, 16, 32, 60];

/// What went wrong, as counted in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The main key (or a previous/next main key) is missing, short, unreadable or insecure.
    MainKey,
    /// The keys could not be written (output missing, read-only, not tmpfs, procfs refused).
    Write,
    /// The reload command failed.
    Reload,
    /// HAProxy's admin socket could not be reached or refused the keys.
    Haproxy,
    /// The clock is out of the supported range.
    Time,
}

impl ErrorKind {
    /// Every kind, in metrics order.
    pub(crate) const ALL: [ErrorKind; 5] = [
        ErrorKind::MainKey,
        ErrorKind::Write,
        ErrorKind::Reload,
        ErrorKind::Haproxy,
        ErrorKind::Time,
    ];

    /// The `kind` label of `keywheel_errors_total`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ErrorKind::MainKey => "main_key",
            ErrorKind::Write => "write",
            ErrorKind::Reload => "reload",
            ErrorKind::Haproxy => "haproxy",
            ErrorKind::Time => "time",
        }
    }
}

/// What a target reports to the metrics and to systemd.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    /// The first keys were written.
    pub(crate) has_keys: bool,
    /// Nothing is pending or failing.
    pub(crate) up: bool,
    /// When the target was last fully up to date (unix seconds).
    pub(crate) last_success: Option<u64>,
    /// When its keys change next (unix seconds; the write happens 2.02 s later).
    pub(crate) next_rotation: Option<u64>,
    /// The counter of the encrypting key (TFO: the primary key).
    pub(crate) counter: Option<u64>,
    /// How many times new keys were written.
    pub(crate) rotations: u64,
    /// Errors by kind, in [`ErrorKind::ALL`] order.
    pub(crate) errors: [u64; 5],
    /// The kind of the last error while the target is not up.
    pub(crate) failing: Option<ErrorKind>,
}

impl Stats {
    /// Counts one error of `kind`.
    pub(crate) fn count(&mut self, kind: ErrorKind) {
        if let Some(i) = ErrorKind::ALL.iter().position(|k| *k == kind) {
            self.errors[i] += 1;
        }
        self.failing = Some(kind);
    }
}

/// What a target is, for `keywheel_target_info`.
#[derive(Debug, Clone)]
pub(crate) struct Describe {
    /// "tfo" or "stek".
    pub(crate) kind: &'static str,
    /// The format ("tfo" for TFO).
    pub(crate) format: String,
    /// The label ("" for TFO).
    pub(crate) label: String,
    /// The rotation interval in seconds.
    pub(crate) interval: u64,
}

/// One thing the daemon keeps supplied with keys.
pub(crate) trait Target {
    /// Its name (log prefix under `keywheel run`, metrics label).
    fn name(&self) -> &str;
    /// What it is.
    fn describe(&self) -> Describe;
    /// The part of a wake-up that needs the keys (signals are blocked): derive and write them
    /// when due. Returns the number of errors reported.
    fn install(&mut self, now: u64, keys: &mut KeyRound<'_>) -> u32;
    /// The rest of the wake-up (signals unblocked): the reload command; sets the next wake
    /// time. Returns the number of errors reported.
    fn finish(&mut self, now: u64) -> u32;
    /// When this target wants to wake next: (unix seconds, nanoseconds).
    fn wake(&self) -> (u64, u32);
    /// Its counters.
    fn stats(&self) -> &Stats;
    /// The verbose line before sleeping until `wake`, when this target runs alone.
    fn sleep_line(&self, wake: (u64, u32)) -> String;
}

/// How the daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `keywheel tfo` or `keywheel stek`: one target; no keys at the first wake-up is fatal.
    Single,
    /// `keywheel run`: every target of a configuration; a target without keys is retried.
    Run,
}

/// The daemon.
pub(crate) struct Daemon {
    pub(crate) targets: Vec<Box<dyn Target>>,
    pub(crate) keys: KeySources,
    pub(crate) mode: Mode,
    /// One round, then exit (0 when every target succeeded).
    pub(crate) once: bool,
    /// A fixed time for the one round (`--time`; implies `once`).
    pub(crate) time: Option<u64>,
    pub(crate) metrics_file: Option<PathBuf>,
    pub(crate) log: Log,
}

/// The daemon's own counters, for the metrics.
#[derive(Debug, Default)]
pub(crate) struct DaemonStats {
    pub(crate) start: u64,
    pub(crate) ready: bool,
    pub(crate) clock_steps: u64,
}

impl Daemon {
    fn fail(&self, msg: &str) -> ExitCode {
        self.log.error(msg);
        ExitCode::from(1)
    }

    /// Runs until killed (or, with `once`, for one round). Exit status: 0 after a successful
    /// one-shot round, 1 on a runtime error.
    pub(crate) fn run(mut self) -> ExitCode {
        let mut clock = match Clock::new() {
            Ok(c) => c,
            Err(msg) => return self.fail(&msg),
        };
        let now = match self.time {
            Some(t) => t,
            None => match clock.now() {
                Ok(t) => t,
                Err(msg) => return self.fail(&msg),
            },
        };
        if self.mode == Mode::Run {
            // Without the main keys nothing can be served: a clear error now rather than one
            // per target.
            if let Err(msg) = self.check_keys() {
                return self.fail(&msg);
            }
        }
        let mut stats = DaemonStats {
            start: now,
            ..DaemonStats::default()
        };
        let all: Vec<usize> = (0..self.targets.len()).collect();
        let errors = self.round(now, &all);
        if self.once || self.time.is_some() {
            self.write_metrics(&stats, now);
            let done = errors == 0 && self.targets.iter().all(|t| t.stats().has_keys);
            if done {
                self.log.verbose("exiting: one-shot mode (--once)");
                return ExitCode::SUCCESS;
            }
            return ExitCode::from(1);
        }
        if self.mode == Mode::Single && !self.targets.iter().all(|t| t.stats().has_keys) {
            // The first write failed (already reported): nothing to serve.
            return ExitCode::from(1);
        }
        let mut status = String::new();
        if let Err(msg) = self.notify(&mut stats, &mut status) {
            return self.fail(&msg);
        }
        self.write_metrics(&stats, now);
        loop {
            let Some(wake) = self.targets.iter().map(|t| t.wake()).min() else {
                return ExitCode::SUCCESS;
            };
            self.log_sleep(wake);
            let woke = match clock.sleep_until(wake.0, wake.1) {
                Ok(w) => w,
                Err(msg) => return self.fail(&msg),
            };
            let (now, now_ns) = match clock.now_precise() {
                Ok(t) => t,
                Err(msg) => return self.fail(&msg),
            };
            let due: Vec<usize> = if woke == Woke::ClockStep {
                stats.clock_steps += 1;
                self.log.info(&format!(
                    "the clock was stepped (now unix time {now}): recomputing the keys of every \
                     target"
                ));
                all.clone()
            } else {
                all.iter()
                    .copied()
                    .filter(|&i| self.targets[i].wake() <= (now, now_ns))
                    .collect()
            };
            if due.is_empty() {
                continue;
            }
            self.round(now, &due);
            if let Err(msg) = self.notify(&mut stats, &mut status) {
                return self.fail(&msg);
            }
            self.write_metrics(&stats, now);
        }
    }

    /// Reads every configured main key once (start of `keywheel run`).
    fn check_keys(&self) -> Result<(), String> {
        let blocked = os::block_all_signals()?;
        let mut keys = KeyRound::new(&self.keys);
        let result = keys
            .main()
            .map(|_| ())
            .and_then(|()| keys.extra().map(|_| ()));
        drop(keys);
        blocked.restore()?;
        result
    }

    /// One wake-up of the targets `due`; returns the number of errors reported.
    fn round(&mut self, now: u64, due: &[usize]) -> u32 {
        let mut errors = 0;
        match os::block_all_signals() {
            Ok(blocked) => {
                let mut keys = KeyRound::new(&self.keys);
                for &i in due {
                    errors += self.targets[i].install(now, &mut keys);
                }
                drop(keys); // wipes the main keys before a pending signal is delivered
                if let Err(msg) = blocked.restore() {
                    self.log.error(&msg);
                    errors += 1;
                }
            }
            Err(msg) => {
                self.log.error(&msg);
                errors += 1;
            }
        }
        for &i in due {
            errors += self.targets[i].finish(now);
        }
        errors
    }

    fn log_sleep(&self, wake: (u64, u32)) {
        if !self.log.is_verbose() {
            return;
        }
        match (self.mode, self.targets.as_slice()) {
            (Mode::Single, [only]) => self.log.verbose(&only.sleep_line(wake)),
            _ => {
                let names: Vec<&str> = self
                    .targets
                    .iter()
                    .filter(|t| t.wake() == wake)
                    .map(|t| t.name())
                    .collect();
                self.log.verbose(&format!(
                    "sleeping until unix time {}.{:03} ({}) for {}",
                    wake.0,
                    wake.1 / 1_000_000,
                    utc_millis(wake.0, wake.1 / 1_000_000),
                    names.join(", ")
                ));
            }
        }
    }

    /// READY=1 once every target has keys; under `keywheel run` also a STATUS= line whenever
    /// it changes.
    fn notify(&self, stats: &mut DaemonStats, last: &mut String) -> Result<(), String> {
        let ready = self.targets.iter().all(|t| t.stats().has_keys);
        if self.mode == Mode::Single {
            if ready && !stats.ready {
                os::notify("READY=1")?;
                stats.ready = true;
            }
            return Ok(());
        }
        let waiting: Vec<&str> = self
            .targets
            .iter()
            .filter(|t| !t.stats().has_keys)
            .map(|t| t.name())
            .collect();
        let failing: Vec<String> = self
            .targets
            .iter()
            .filter(|t| t.stats().has_keys && !t.stats().up)
            .map(|t| match t.stats().failing {
                Some(kind) => format!("{} ({})", t.name(), kind.name()),
                None => t.name().to_owned(),
            })
            .collect();
        let status = if !waiting.is_empty() {
            format!(
                "STATUS=waiting for the first keys of {} (retrying; see the log)",
                waiting.join(", ")
            )
        } else if failing.is_empty() {
            format!(
                "STATUS={} target{} up to date",
                self.targets.len(),
                if self.targets.len() == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "STATUS=keys installed; failing, retrying: {}",
                failing.join(", ")
            )
        };
        let mut message = String::new();
        if ready && !stats.ready {
            message.push_str("READY=1\n");
        }
        if status != *last {
            message.push_str(&status);
        }
        if !message.is_empty() {
            os::notify(message.trim_end())?;
            stats.ready = stats.ready || ready;
            *last = status;
        }
        Ok(())
    }

    fn write_metrics(&self, stats: &DaemonStats, now: u64) {
        let Some(path) = &self.metrics_file else {
            return;
        };
        let targets: Vec<&dyn Target> = self.targets.iter().map(|t| t.as_ref()).collect();
        let text = metrics::render(stats, now, &targets);
        if let Err(msg) = metrics::write(path, &text) {
            self.log
                .error(&format!("cannot write the metrics file: {msg}"));
        }
    }
}

/// The wake time after a failure at `now`: the next backoff delay, unless that falls at or
/// after `limit` (the next scheduled wake does the work then). Returns the wake (if any) and
/// the words for the log ("; retrying in 2 s" or "; retrying at the next rotation").
pub(crate) fn retry_after(
    now: u64,
    failures: usize,
    limit: u64,
    at_limit: &str,
) -> (Option<u64>, String) {
    let retry_at = now.saturating_add(BACKOFF[failures.min(BACKOFF.len() - 1)]);
    if retry_at < limit {
        (
            Some(retry_at),
            format!("; retrying in {} s", retry_at - now),
        )
    } else {
        (None, format!("; retrying at {at_limit}"))
    }
}
