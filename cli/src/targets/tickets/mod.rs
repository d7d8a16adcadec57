//! Session-ticket keys for one server ([`StekTarget`]): at start and 2.02 s after every
//! interval boundary, the keys of the current interval, the next one and `keep` previous ones
//! are rendered in the server's format and installed by its [`Server`], pushed to HAProxy, and
//! the reload command runs; a failure keeps the installed keys and is retried with backoff.
//! `keywheel stek` runs one in the daemon loop, `keywheel run` any number of them. The dry-run
//! report is in [`plan`]. README "TLS session tickets" describes the behaviour.

mod plan;
mod render;
mod spec;

pub(crate) use spec::{Options, StekSpec, config_words};

use std::path::{Path, PathBuf};

use keywheel::{TicketSchedule, TicketSlot, WAKE_FUDGE_NANOS, WAKE_FUDGE_SECS, Window};

use crate::daemon::keys::{Extra, KeyRound, KeySources};
use crate::daemon::target::{self, Describe, ErrorKind, Stats, Target};
use crate::servers::{self, Installed, Out, Rendered, Server, StekFormat, json};
use crate::sys::files::{self, Perms};
use crate::sys::log::{Log, concat};
use crate::sys::reload::{self, Reload};
use crate::sys::text::hex;
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

    /// Derives, writes (or describes) and pushes the keys of `slot` (signals are blocked by the
    /// daemon, so that every copy is wiped before a terminating signal is delivered). Returns
    /// the number of errors reported.
    fn write_round(
        &mut self,
        keys: &mut KeyRound<'_>,
        slot: &TicketSlot,
        due: u64,
        first: bool,
        retry: &str,
    ) -> u32 {
        // A failed first write ends a single-target daemon: no retry then.
        let (keeping, write_retry) = if (first && self.fatal_first) || self.once {
            ("", "")
        } else if first {
            ("", retry)
        } else {
            ("; keeping the installed keys", retry)
        };
        let rendered = match self.render_due(slot, due, keys) {
            Ok(r) => r,
            Err((kind, msg)) => {
                self.log.error(&format!("{msg}{keeping}{write_retry}"));
                self.stats.count(kind);
                return 1;
            }
        };
        let written = if self.dry_run {
            self.print_plan(slot, &rendered);
            Ok(None)
        } else {
            self.write(due, &rendered).map(Some)
        };
        let window = match self.format {
            StekFormat::Server(f) if f.window() == Window::CurrentOnly => {
                format!("{} only", slot.current())
            }
            StekFormat::Own(_) if rendered.keys.len() == 1 => format!("{due} only"),
            _ => format!("{}..={}", slot.current() - slot.keep(), slot.current() + 1),
        };
        let extra = if rendered.keys.iter().any(|k| k.extra.is_some()) {
            let mut which: Vec<&str> = Vec::new();
            for name in rendered
                .keys
                .iter()
                .filter_map(|k| k.extra.map(Extra::name))
            {
                if !which.contains(&name) {
                    which.push(name);
                }
            }
            format!(
                " and the same window of the {} main key (decrypt only)",
                which.join(" and ")
            )
        } else {
            String::new()
        };
        let head = format!(
            "ticket keys for unix time {}: current counter {} (accepted {window}{extra})",
            slot.now(),
            slot.current()
        );
        let mut repair = None;
        match written {
            Ok(None) => self.log.info(&format!("{head}; dry run: nothing written")),
            Ok(Some(installed)) => {
                repair = installed.repair.clone();
                self.log.info(&format!("{head}; wrote {}", installed.what));
                for path in &installed.removed {
                    self.log.verbose(&format!("removed {}", path.display()));
                }
                for msg in &installed.cleanup_errors {
                    self.log.error(msg);
                }
            }
            Err(msg) => {
                let msg = self.words(msg);
                self.log
                    .error(&format!("{head}: {msg}{keeping}{write_retry}"));
                self.stats.count(ErrorKind::Write);
                return 1;
            }
        }
        if !self.dry_run {
            self.log_keys(&rendered);
        }
        if let Some(why) = &repair {
            match &self.reload {
                Some(_) => self.log.info(&format!(
                    "{why}: rewrote it; running the reload command so that the server re-reads it"
                )),
                None => self.log.error(&format!(
                    "{why}: rewrote it, but no reload command is configured (--reload, e.g. \
                     \"caddy reload --force\"): the running server keeps other keys until it \
                     re-reads the file"
                )),
            }
        }
        if self.state.written != Some(due) || repair.is_some() {
            self.state.written = Some(due);
            self.state.reload_pending =
                self.reload.is_some() && (self.server.reloads_on_rotation() || repair.is_some());
            self.state.haproxy_pending = self.haproxy_socket.is_some();
            self.stats.rotations += 1;
            self.stats.has_keys = true;
        }
        match (&self.haproxy_socket, self.dry_run) {
            (Some(socket), false) => match self.server.push(&self.dest(), socket, &rendered) {
                Ok(line) => {
                    self.log.info(&line);
                    self.state.haproxy_pending = false;
                    0
                }
                Err(msg) => {
                    let file = self.out.display();
                    self.log.error(&format!(
                        "{msg} ({file} is written: HAProxy loads it when it starts or \
                         reloads){retry}"
                    ));
                    self.stats.count(ErrorKind::Haproxy);
                    1
                }
            },
            _ => {
                self.state.haproxy_pending = false;
                0
            }
        }
    }

    /// The output location must exist (nginx: its parent), be of the right kind, and (unless
    /// --allow-persistent) be on tmpfs or ramfs.
    pub(crate) fn check_out(&self) -> Result<(), String> {
        servers::check_out(&self.dest(), self.allow_persistent).map_err(|msg| self.words(msg))
    }

    /// Checks the output location and installs the rendered keys (the JSON on stdout needs no
    /// location).
    fn write(&self, due: u64, rendered: &Rendered) -> Result<Installed, String> {
        let dest = self.dest();
        if !json::is_stdout(&dest) {
            servers::check_out(&dest, self.allow_persistent)?;
        }
        self.server.install(&dest, due, rendered)
    }

    /// Logs the keys' counters, roles and names (verbose), and the keys (--print-keys).
    fn log_keys(&self, rendered: &Rendered) {
        // Seed formats (go-json, caddy) have no records, but each key is a seed of `ours`.
        let seeds = matches!(self.format, StekFormat::Seeds(_));
        if !(self.log.is_verbose() || self.print_keys) || (rendered.record_len == 0 && !seeds) {
            return;
        }
        for (i, key) in rendered.keys.iter().enumerate() {
            let line = format!(
                "key {i} ({}): counter {}, name {}",
                key.role_text(),
                key.counter,
                hex(&key.name)
            );
            if self.print_keys {
                let record = match rendered.ours.get(i) {
                    Some(seed) if seeds => &seed[..],
                    _ => rendered.record(i),
                };
                let shown = self.server.show_record(record);
                self.log.info(&concat(&[&line, ", key ", &shown]));
            } else {
                self.log.info(&line);
            }
        }
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
