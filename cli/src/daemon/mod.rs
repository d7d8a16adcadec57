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

pub(crate) mod forward;
pub(crate) mod keys;
pub(crate) mod metrics;
pub(crate) mod target;

use crate::sys::clock::{Clock, Woke};
use crate::sys::files::{self, Perms};
use crate::sys::log::Log;
use crate::sys::os;
use crate::sys::reload;
use crate::sys::utc::utc_millis;
use keys::{KeyRound, KeySources, LiveStates};
use metrics::DaemonStats;
use target::Target;

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
    /// Forward-secure mode: advance the states (and their working copies) after each round.
    /// False for a dry run and for a fixed `--time` (a time in the future would puncture keys
    /// still in use).
    pub(crate) advance_states: bool,
}

impl Daemon {
    fn fail(&self, msg: &str) -> ExitCode {
        self.log.error(msg);
        ExitCode::from(1)
    }

    /// Runs until killed (or, with `once`, for one round). Exit status: 0 after a successful
    /// one-shot round, 1 on a runtime error.
    pub(crate) fn run(mut self) -> ExitCode {
        // A terminating signal kills the reload commands' process groups before the daemon
        // ends (after the key work in progress).
        if let Err(msg) = os::exit_on_signals(reload::kill_all) {
            return self.fail(&msg);
        }
        let mut clock = match Clock::new() {
            Ok(c) => c,
            Err(msg) => return self.fail(&msg),
        };
        let mut states = match self.open_states() {
            Ok(s) => s,
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
        let errors = self.round(now, &all, states.as_mut());
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
            self.round(now, &due, states.as_mut());
            if let Err(msg) = self.notify(&mut stats, &mut status) {
                return self.fail(&msg);
            }
            self.write_metrics(&stats, now);
        }
    }

    /// Forward-secure mode: opens the states (the newest of each given state and its working
    /// copy) and writes the working copies.
    fn open_states(&self) -> Result<Option<LiveStates>, String> {
        let Some(sources) = &self.keys.state else {
            return Ok(None);
        };
        let mut sources = sources.clone();
        if self.advance_states {
            files::ensure_dir(&sources.working_dir, Perms::secret(None))?;
        } else {
            sources.allow_persistent = true; // nothing is written: no working directory needed
        }
        let blocked = os::block_all_signals()?;
        let opened = sources.open(self.keys.check_mode);
        let saved = match &opened {
            Ok((states, _)) if self.advance_states => states.save(),
            _ => Ok(()),
        };
        blocked.restore()?;
        let (states, notes) = opened?;
        saved?;
        for note in notes {
            self.log.info(&note);
        }
        Ok(Some(states))
    }

    /// The oldest second any target still needs at `now` (forward-secure mode).
    fn floor(&self, now: u64) -> Option<u64> {
        self.targets.iter().filter_map(|t| t.floor(now)).min()
    }

    /// Reads every configured main key once (start of `keywheel run`).
    fn check_keys(&self) -> Result<(), String> {
        if self.keys.state.is_some() {
            return Ok(()); // the states were opened already
        }
        let blocked = os::block_all_signals()?;
        let mut keys = KeyRound::new(&self.keys, None);
        let result = keys
            .main()
            .map(|_| ())
            .and_then(|()| keys.extra().map(|_| ()));
        drop(keys);
        blocked.restore()?;
        result
    }

    /// One wake-up of the targets `due`; returns the number of errors reported. In
    /// forward-secure mode the states are then advanced to the oldest key any target still
    /// needs, and their old values wiped, before signals are unblocked.
    fn round(&mut self, now: u64, due: &[usize], states: Option<&mut LiveStates>) -> u32 {
        let mut errors = 0;
        match os::block_all_signals() {
            Ok(blocked) => {
                let mut keys = KeyRound::new(&self.keys, states.as_deref());
                for &i in due {
                    errors += self.targets[i].install(now, &mut keys);
                }
                drop(keys); // wipes the main keys before a pending signal is delivered
                keywheel::scrub_stack(); // and what deriving the keys left on the stack
                if let (Some(states), true) = (states, self.advance_states) {
                    if let Some(floor) = self.floor(now) {
                        match states.advance_to(floor) {
                            Ok(true) => self.log.verbose(&format!(
                                "advanced the forward-secure state to {floor} ({}); older keys \
                                 can no longer be derived",
                                utc_millis(floor, 0)
                            )),
                            Ok(false) => {}
                            Err(msg) => {
                                self.log.error(&format!(
                                    "cannot advance the forward-secure state: {msg}"
                                ));
                                errors += 1;
                            }
                        }
                    }
                }
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
