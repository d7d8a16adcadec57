//! Session-ticket keys for one server ([`StekTarget`]): at start and 2.02 s after every
//! interval boundary, the keys of the current interval, the next one and `keep` previous ones
//! are rendered in the server's format and installed by its [`Server`], pushed to HAProxy, and
//! the reload command runs; a failure keeps the installed keys and is retried with backoff.
//! `keywheel stek` runs one in the daemon loop, `keywheel run` any number of them. The dry-run
//! report is in [`plan`]. README "TLS session tickets" describes the behaviour.

mod install;
mod plan;
mod render;
mod spec;

pub(crate) use spec::{Options, StekSpec, config_words};

use std::path::{Path, PathBuf};

use keywheel::{TicketSchedule, TicketSlot, WAKE_FUDGE_NANOS, WAKE_FUDGE_SECS};

use crate::daemon::keys::{KeyRound, KeySources};
use crate::daemon::target::{self, Describe, ErrorKind, Stats, Target};
use crate::servers::{self, Out, Server, StekFormat};
use crate::sys::files::{self, Perms};
use crate::sys::log::Log;
use crate::sys::reload::{self, Reload};
use crate::sys::utc::utc_millis;

/// The default rotation interval of ticket keys: one hour (Cloudflare's choice).
pub(crate) const DEFAULT_STEK_INTERVAL: u64 = 3600;
/// The default number of previous keys accepted.
pub(crate) const DEFAULT_KEEP: u64 = 1;

/// One ticket-key output: its files, its HAProxy socket and reload command, and its state
/// between wake-ups.
pub(crate) struct StekTarget {
    name: String,
    format: StekFormat,
    label: String,
    /// `--out` as given (HAProxy's ring is found by this string).
    out: PathBuf,
    /// `--out` made absolute (nginx.conf names absolute paths).
    out_abs: PathBuf,
    /// The server that takes the keys.
    server: &'static dyn Server,
    schedule: TicketSchedule,
    once: bool,
    fatal_first: bool,
    dry_run: bool,
    reload: Option<String>,
    haproxy_socket: Option<PathBuf>,
    perms: Perms,
    owner: Option<(u32, u32)>,
    allow_persistent: bool,
    print_keys: bool,
    config_words: bool,
    /// Decrypt-only keys of other main keys are appended (a rollover is configured and the
    /// format can hold them).
    use_extra: bool,
    log: Log,
    state: State,
    stats: Stats,
    /// The wake-up in progress (between `install` and `finish`).
    round: Option<Round>,
    /// The reload command running now (the daemon does not wait for it).
    running: Option<Reload>,
    wake: (u64, u32),
}

/// What `install` leaves for `finish`.
struct Round {
    slot: TicketSlot,
    /// The counter the files must hold (the current one, except for a server that takes keys
    /// on its own clock: [`Server::step`]).
    due: u64,
    rotation_wake: (u64, u32),
    retry_wake: Option<(u64, u32)>,
    retry: String,
}

impl StekTarget {
    /// A target for `spec` (already checked: `schedule` is its schedule).
    pub(crate) fn new(
        spec: StekSpec,
        schedule: TicketSchedule,
        options: Options,
        keys: &KeySources,
    ) -> Self {
        let out_abs = files::absolute(&spec.out);
        let accepts = spec.format.accepts_extra_keys();
        StekTarget {
            name: spec.name,
            format: spec.format,
            label: spec.label,
            out: spec.out,
            out_abs,
            server: servers::server(spec.format),
            schedule,
            once: options.once,
            fatal_first: options.fatal_first,
            dry_run: options.dry_run,
            reload: spec.reload,
            haproxy_socket: spec.haproxy_socket,
            perms: Perms::secret(spec.group),
            owner: spec.owner,
            allow_persistent: spec.allow_persistent,
            print_keys: options.print_keys,
            config_words: options.config_words,
            use_extra: accepts && !keys.extras().is_empty(),
            log: options.log,
            state: State::default(),
            stats: Stats::default(),
            round: None,
            running: None,
            wake: (0, 0),
        }
    }

    /// In `keywheel run`, messages name the config keys rather than the options.
    fn words(&self, msg: String) -> String {
        if self.config_words {
            config_words(&msg)
        } else {
            msg
        }
    }

    /// The output format.
    pub(crate) fn format(&self) -> StekFormat {
        self.format
    }

    /// The output path as configured.
    pub(crate) fn out(&self) -> &Path {
        &self.out
    }

    /// The ticket schedule.
    pub(crate) fn schedule(&self) -> TicketSchedule {
        self.schedule
    }

    /// The label.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// HAProxy's admin socket, if configured.
    pub(crate) fn haproxy_socket(&self) -> Option<&Path> {
        self.haproxy_socket.as_deref()
    }

    /// Where it logs.
    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    /// One round, then exit.
    pub(crate) fn dry_run(&self) -> bool {
        self.dry_run
    }

    pub(crate) fn once(&self) -> bool {
        self.once
    }

    /// Where the keys go, for the server.
    pub(crate) fn dest(&self) -> Out<'_> {
        Out {
            path: &self.out,
            abs: &self.out_abs,
            format: self.format,
            perms: self.perms,
            owner: self.owner,
        }
    }

    /// The server that takes the keys.
    pub(crate) fn server(&self) -> &'static dyn Server {
        self.server
    }

    /// The first half of a wake-up: write the keys of `now` when the interval changed (or a
    /// HAProxy push is pending) and push them to HAProxy. Failures are logged and set up a
    /// retry.
    fn install_at(&mut self, now: u64, keys: &mut KeyRound<'_>) -> u32 {
        let slot = match self.schedule.at(now) {
            Ok(slot) => slot,
            Err(e) => {
                self.log.error(&e.to_string());
                self.stats.count(ErrorKind::Time);
                self.stats.up = false;
                self.round = None;
                self.wake = (now.saturating_add(target::BACKOFF[0]), 0);
                return 1;
            }
        };
        let mut rotation_wake = (slot.next_rotation() + WAKE_FUDGE_SECS, WAKE_FUDGE_NANOS);
        let mut due = slot.current();
        let mut must_write = self.state.written != Some(due);
        // A retry falls before the next interval boundary; from the boundary on, the rotation
        // (2.02 s after it) does the work. lighttpd: before its next step.
        let mut retry_limit = slot.next_rotation();
        if let Some(step) = self.own_step(now, keys) {
            // lighttpd: the key its file must hold now, written only when it holds another.
            (due, must_write, rotation_wake) = (step.due, step.write, (step.wake, 0));
            retry_limit = step.wake;
            if !must_write && self.state.written != Some(due) {
                self.log.info(&format!(
                    "{} already holds key {due}; not rewritten",
                    self.out.display()
                ));
                self.state.written = Some(due);
                self.stats.has_keys = true;
            }
        }
        let (retry_at, retry) =
            target::retry_after(now, self.state.failures, retry_limit, "the next rotation");
        let retry = if self.once { String::new() } else { retry };
        let mut errors = 0;
        let first = self.state.written.is_none();
        if must_write || self.state.haproxy_pending {
            errors += self.write_round(keys, &slot, due, first, &retry);
        }
        self.round = Some(Round {
            slot,
            due,
            rotation_wake,
            retry_wake: retry_at.map(|t| (t, 0)),
            retry,
        });
        errors
    }

    /// The second half: the reload command, then the next wake time.
    fn finish_at(&mut self, now: u64) -> u32 {
        let Some(round) = self.round.take() else {
            if self.wake <= (now, 0) {
                self.wake = (now.saturating_add(target::BACKOFF[0]), 0);
            }
            return 0;
        };
        let mut errors = 0;
        if !self.dry_run {
            errors += self.reload_step(round.slot.current(), &round.retry);
        }
        let slot = round.slot;
        let running = self.running.is_some();
        let pending = self.state.written != Some(round.due)
            || self.state.haproxy_pending
            || (self.state.reload_pending && !running);
        self.wake = if pending {
            self.state.failures += 1;
            round.retry_wake.unwrap_or(round.rotation_wake)
        } else {
            if !running {
                self.state.failures = 0;
            }
            round.rotation_wake
        };
        if running {
            // Look at the running reload command again in a second (reap it or kill it at
            // its timeout); the keys are not read then.
            self.wake = self.wake.min((now.saturating_add(1), 0));
        }
        self.stats.up = !pending && !running;
        if !pending {
            self.stats.last_success = Some(now);
            self.stats.failing = None;
        }
        self.stats.next_rotation = Some(slot.next_rotation());
        if self.state.written.is_some() {
            self.stats.counter = self.state.written;
        }
        errors
    }

    /// The reload command: reaps the one running (logging its result), then starts it when the
    /// written keys still need it. The daemon never waits for it (but `--once` does, and a
    /// quick command is reported within 100 ms). Returns the number of errors reported.
    fn reload_step(&mut self, current: u64, retry: &str) -> u32 {
        let Some(cmd) = self.reload.clone() else {
            return 0;
        };
        let mut errors = 0;
        if self.running.is_none() && self.state.reload_pending {
            let timeout = reload::timeout_for(self.schedule.interval());
            match reload::spawn(&cmd, current, &self.out, timeout, &self.log) {
                Ok(r) => self.running = Some(r),
                Err(msg) => {
                    self.log.error(&format!("{msg}{retry}"));
                    self.stats.count(ErrorKind::Reload);
                    return 1;
                }
            }
        }
        let Some(running) = self.running.as_mut() else {
            return 0;
        };
        let result = if self.once {
            Some(running.wait())
        } else {
            running.wait_briefly(std::time::Duration::from_millis(100))
        };
        let Some(result) = result else {
            return 0;
        };
        let counter = running.counter;
        self.running = None;
        match result {
            Ok(()) => {
                if self.state.written == Some(counter) {
                    self.state.reload_pending = false;
                }
                self.log
                    .verbose(&format!("reload command `{cmd}` succeeded"));
            }
            Err(msg) => {
                self.log.error(&format!("{msg}{retry}"));
                self.stats.count(ErrorKind::Reload);
                errors += 1;
            }
        }
        errors
    }
}

impl Target for StekTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> Describe {
        Describe {
            kind: "stek",
            format: self.format.name().to_owned(),
            label: self.label.clone(),
            interval: self.schedule.interval(),
        }
    }

    fn install(&mut self, now: u64, keys: &mut KeyRound<'_>) -> u32 {
        self.install_at(now, keys)
    }

    fn finish(&mut self, now: u64) -> u32 {
        self.finish_at(now)
    }

    fn wake(&self) -> (u64, u32) {
        self.wake
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }

    fn floor(&self, now: u64) -> Option<u64> {
        Some(crate::targets::forward::ticket_floor(
            self.schedule.interval(),
            self.schedule.keep(),
            now,
        ))
    }

    fn sleep_line(&self, (secs, nanos): (u64, u32)) -> String {
        format!(
            "sleeping until unix time {secs}.{:03} ({})",
            nanos / 1_000_000,
            utc_millis(secs, nanos / 1_000_000)
        )
    }
}

/// The daemon's memory between wake-ups.
#[derive(Debug, Default)]
struct State {
    /// The counter whose keys were last written.
    written: Option<u64>,
    /// HAProxy still has to get the written keys.
    haproxy_pending: bool,
    /// The reload command still has to run (successfully) for the written keys.
    reload_pending: bool,
    /// Consecutive wake-ups that ended with something pending (selects the retry delay).
    failures: usize,
}
