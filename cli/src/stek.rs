//! `keywheel stek`: TLS session-ticket keys for real servers, written in each server's format
//! and rotated at interval boundaries. Every key, layout and order comes from the `keywheel`
//! core crate; this module writes files atomically, talks to HAProxy and runs the reload
//! command. [`StekTarget`] is one such output; `keywheel stek` runs one in the daemon loop,
//! `keywheel run` any number of them. The contract is /work/stek-contract.md (README
//! "keywheel stek").

use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use keywheel::{
    Format, LabelKey, MAX_LABEL_LEN, Role, Strength, TICKET_NAME_LEN, TicketSchedule, TicketSlot,
    WAKE_FUDGE_NANOS, WAKE_FUDGE_SECS,
};
use nix::unistd::{Gid, Group};
use zeroize::Zeroizing;

use crate::daemon::{self, Daemon, Describe, ErrorKind, Mode, Stats, Target};
use crate::engine::{concat, stderr_line, write_unbuffered};
use crate::haproxy::Haproxy;
use crate::keys::{Extra, KeyFile, KeyRound, KeySources};
use crate::keywheel::{credential_path, parse_interval, parse_time};
use crate::log::Log;
use crate::os;
use crate::stek_files::{self, NginxSet, Perms, Published};
use crate::utc::{utc, utc_millis};

/// The default rotation interval of ticket keys: one hour (Cloudflare's choice).
pub(crate) const DEFAULT_STEK_INTERVAL: u64 = 3600;
/// The default number of previous keys accepted.
pub(crate) const DEFAULT_KEEP: u64 = 1;
/// The longest a reload command may run before it is killed.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a HAProxy socket exchange may take.
const HAPROXY_TIMEOUT: Duration = Duration::from_secs(10);

/// The names `--format` accepts.
pub(crate) const FORMAT_NAMES: &str =
    "nginx, nginx48, haproxy, haproxy48, apache, ats, openssl, json";

/// What `--format` names: a server's key format, or the JSON description for tooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StekFormat {
    /// A server format from the core crate.
    Server(Format),
    /// Counters, roles and key names (key bytes only with --print-keys).
    Json,
}

impl StekFormat {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StekFormat::Server(f) => f.name(),
            StekFormat::Json => "json",
        }
    }

    fn server(self) -> Option<Format> {
        match self {
            StekFormat::Server(f) => Some(f),
            StekFormat::Json => None,
        }
    }
}

pub(crate) fn parse_format(s: &str) -> Result<StekFormat, String> {
    if s == "json" {
        return Ok(StekFormat::Json);
    }
    Format::from_name(s)
        .map(StekFormat::Server)
        .ok_or_else(|| format!("format '{s}' is unknown; it must be one of {FORMAT_NAMES}"))
}

pub(crate) fn parse_label(s: &str) -> Result<String, String> {
    if (1..=MAX_LABEL_LEN).contains(&s.len()) {
        Ok(s.to_owned())
    } else {
        Err(keywheel::Error::LabelLength { len: s.len() }.to_string())
    }
}

fn parse_keep(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|e| format!("'{s}' is not a number of previous keys ({e})"))
}

pub(crate) fn parse_group(s: &str) -> Result<Gid, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map(Gid::from_raw)
            .map_err(|e| format!("group id {s} is out of range ({e})"));
    }
    match Group::from_name(s) {
        Ok(Some(group)) => Ok(group.gid),
        Ok(None) => Err(format!("group '{s}' does not exist")),
        Err(e) => Err(format!("cannot look group '{s}' up: {e}")),
    }
}

/// Where the main key comes from.
#[derive(Debug, Args)]
#[group(id = "stek_key", required = true, multiple = false)]
pub(crate) struct StekKeyArgs {
    /// Main key file shared by the cluster (at least 32 bytes; the first 32 are used). It is
    /// re-read at every rotation. Refused if group or others may access it.
    #[arg(long, value_name = "FILE", group = "stek_key")]
    main_key: Option<PathBuf>,

    /// Read the main key from $CREDENTIALS_DIRECTORY/NAME (a systemd credential, e.g. from
    /// LoadCredential=NAME:/etc/keywheel/main.key).
    #[arg(long, value_name = "NAME", group = "stek_key")]
    credential: Option<String>,
}

/// `keywheel stek` options.
#[derive(Debug, Args)]
pub(crate) struct StekArgs {
    /// Output format: nginx (80-byte files), nginx48, haproxy (base64 lines, 80-byte keys),
    /// haproxy48, apache (48 bytes, current key only), ats (48-byte records), openssl (80
    /// bytes, current key only), json (counters, roles, key names).
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    format: StekFormat,

    /// The service or cluster name (1..=64 bytes of UTF-8): nodes with the same main key and
    /// label share ticket keys; another label gives unrelated keys.
    #[arg(long, value_name = "LABEL", value_parser = parse_label)]
    label: String,

    #[command(flatten)]
    key: StekKeyArgs,

    /// Main-key rollover: the previous main key file. The same window of its keys is appended
    /// as decrypt-only keys (nginx, nginx48, ats; other formats cannot hold them), so tickets
    /// issued with it still resume. Remove it after the longest ticket lifetime.
    #[arg(long, value_name = "FILE")]
    previous_main_key: Option<PathBuf>,

    /// Main-key rollover: the next main key file, staged: its keys are appended as
    /// decrypt-only keys before any node encrypts with it.
    #[arg(long, value_name = "FILE")]
    next_main_key: Option<PathBuf>,

    /// Where to write: a directory for nginx/nginx48 (keys.<counter>/N.key, the `current`
    /// symlink and the nginx.conf include snippet; created if missing), a file for the other
    /// formats, or - (stdout) for json. Must be on tmpfs or ramfs unless --allow-persistent.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,

    /// Rotation interval in seconds: even, 10..=604800. It must be the same on every node.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_STEK_INTERVAL, value_parser = parse_interval)]
    interval: u64,

    /// How many previous keys stay accepted for decryption; (keep + 1) * interval must be at
    /// most 604800 (7 days). HAProxy formats need exactly 1.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_KEEP, value_parser = parse_keep)]
    keep: u64,

    /// Write the keys once and exit instead of running as a daemon.
    #[arg(long)]
    once: bool,

    /// Write nothing, push nothing, run nothing: print on stdout what would be written where
    /// and when (paths, counters, roles, key names; no key bytes).
    #[arg(long)]
    dry_run: bool,

    /// Compute the keys for this unix time (1000000..=100000000000) instead of the clock;
    /// implies --once.
    #[arg(long, value_name = "UNIX", value_parser = parse_time)]
    time: Option<u64>,

    /// Run this command with /bin/sh -c after the keys are written, at start and at every
    /// rotation (e.g. "nginx -s reload"), with $KEYWHEEL_COUNTER and $KEYWHEEL_OUT set. A
    /// failure is logged and retried with backoff; it never stops the daemon.
    #[arg(long, value_name = "CMD")]
    reload: Option<String>,

    /// HAProxy's admin stats socket: after writing the file, also set the keys in the running
    /// HAProxy with `set ssl tls-key` (no reload) and check them with `show tls-keys`.
    #[arg(long, value_name = "PATH")]
    haproxy_socket: Option<PathBuf>,

    /// Make the files readable by this group (mode 0640, directories 0750) instead of the
    /// owner only (0600, 0700).
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    group: Option<Gid>,

    /// Allow writing keys to a filesystem other than tmpfs or ramfs (they may then reach disk).
    #[arg(long)]
    allow_persistent: bool,

    /// Also print the keys themselves (on stdout with --dry-run, else on stderr). Secret!
    #[arg(long)]
    print_keys: bool,

    /// Accept a main key file that group or others may access.
    #[arg(long)]
    allow_insecure_key_file: bool,

    /// Log every step on stderr.
    #[arg(short, long)]
    verbose: bool,
}

/// A runtime error (exit status 1) or a usage error (exit status 2), already described.
fn fail(status: u8, msg: &str) -> ExitCode {
    stderr_line("error: ", msg);
    ExitCode::from(status)
}

/// Runs `keywheel stek`.
pub(crate) fn main(args: StekArgs) -> ExitCode {
    let (target, keys, time) = match from_args(args) {
        Ok(parts) => parts,
        Err((status, msg)) => return fail(status, &msg),
    };
    if let Err(msg) = os::harden() {
        return fail(1, &msg);
    }
    let log = target.log.clone();
    let once = target.once;
    Daemon {
        targets: vec![Box::new(target)],
        keys,
        mode: Mode::Single,
        once,
        time,
        metrics_file: None,
        log,
    }
    .run()
}

/// Checks every option and the output location; `Err((status, message))`.
fn from_args(args: StekArgs) -> Result<(StekTarget, KeySources, Option<u64>), (u8, String)> {
    let usage = |msg: String| (2u8, msg);
    let spec = StekSpec {
        name: args.format.name().to_owned(),
        format: args.format,
        label: args.label,
        out: args.out,
        interval: args.interval,
        keep: args.keep,
        reload: args.reload,
        haproxy_socket: args.haproxy_socket,
        group: args.group,
        allow_persistent: args.allow_persistent,
    };
    let schedule = spec.check().map_err(usage)?;
    let main = match (args.key.main_key, args.key.credential) {
        (Some(path), _) => path,
        (None, Some(name)) => credential_path(&name).map_err(|msg| (1, msg))?,
        // clap's required group guarantees one of them.
        (None, None) => return Err(usage("--main-key or --credential is required".into())),
    };
    let mut extra = Vec::new();
    if let Some(path) = args.previous_main_key {
        extra.push((
            Extra::Previous,
            KeyFile {
                path,
                what: "previous main key file",
            },
        ));
    }
    if let Some(path) = args.next_main_key {
        extra.push((
            Extra::Next,
            KeyFile {
                path,
                what: "next main key file",
            },
        ));
    }
    let keys = KeySources {
        main: KeyFile {
            path: main,
            what: "main key file",
        },
        extra,
        check_mode: !args.allow_insecure_key_file,
    };
    let once = args.once || args.time.is_some();
    let target = StekTarget::new(
        spec,
        schedule,
        Options {
            log: Log::new(args.verbose),
            config_words: false,
            fatal_first: true,
            once,
            dry_run: args.dry_run,
            print_keys: args.print_keys,
        },
        &keys,
    );
    if !target.stdout {
        target.check_out().map_err(|msg| (1, msg))?;
    }
    if !target.use_extra {
        for (which, _) in &keys.extra {
            target.log.info(&format!(
                "the {} main key is not used for format {}: {}",
                which.name(),
                target.format.name(),
                extra_limitation(target.format)
            ));
        }
    }
    Ok((target, keys, args.time))
}

/// One ticket-key output as the command line or a `[[stek]]` table describes it.
#[derive(Debug, Clone)]
pub(crate) struct StekSpec {
    /// The target's name (log prefix and metrics label under `keywheel run`).
    pub(crate) name: String,
    pub(crate) format: StekFormat,
    pub(crate) label: String,
    pub(crate) out: PathBuf,
    pub(crate) interval: u64,
    pub(crate) keep: u64,
    pub(crate) reload: Option<String>,
    pub(crate) haproxy_socket: Option<PathBuf>,
    pub(crate) group: Option<Gid>,
    pub(crate) allow_persistent: bool,
}

impl StekSpec {
    /// The checks that need no file system, in the CLI's words; returns the schedule.
    pub(crate) fn check(&self) -> Result<TicketSchedule, String> {
        let schedule = TicketSchedule::new(self.interval, self.keep).map_err(|e| e.to_string())?;
        let server = self.format.server();
        if let Some(f) = server {
            f.check_keep(self.keep).map_err(|e| e.to_string())?;
        }
        if self.haproxy_socket.is_some() && !server.is_some_and(Format::base64_lines) {
            return Err(format!(
                "--haproxy-socket needs --format haproxy or haproxy48, not {}",
                self.format.name()
            ));
        }
        if self.out.as_os_str() == "-" && server.is_some() {
            return Err(format!(
                "--out - (stdout) is only for --format json; --format {} writes key files",
                self.format.name()
            ));
        }
        Ok(schedule)
    }
}

/// How a [`StekTarget`] runs.
pub(crate) struct Options {
    pub(crate) log: Log,
    /// Messages name config keys ("out", "allow_persistent = true") instead of options.
    pub(crate) config_words: bool,
    /// A failure before the first keys are written ends the program (no retry wording).
    pub(crate) fatal_first: bool,
    pub(crate) once: bool,
    pub(crate) dry_run: bool,
    pub(crate) print_keys: bool,
}

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
    stdout: bool,
    schedule: TicketSchedule,
    once: bool,
    fatal_first: bool,
    dry_run: bool,
    reload: Option<String>,
    haproxy_socket: Option<PathBuf>,
    perms: Perms,
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
    wake: (u64, u32),
}

/// What `install` leaves for `finish`.
struct Round {
    slot: TicketSlot,
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
        let stdout = spec.out.as_os_str() == "-";
        let out_abs = stek_files::absolute(&spec.out);
        let accepts = spec.format.server().is_some_and(Format::accepts_extra_keys);
        StekTarget {
            name: spec.name,
            format: spec.format,
            label: spec.label,
            out: spec.out,
            out_abs,
            stdout,
            schedule,
            once: options.once,
            fatal_first: options.fatal_first,
            dry_run: options.dry_run,
            reload: spec.reload,
            haproxy_socket: spec.haproxy_socket,
            perms: Perms::secret(spec.group),
            allow_persistent: spec.allow_persistent,
            print_keys: options.print_keys,
            config_words: options.config_words,
            use_extra: accepts && !keys.extra.is_empty(),
            log: options.log,
            state: State::default(),
            stats: Stats::default(),
            round: None,
            wake: (0, 0),
        }
    }

    /// In `keywheel run`, messages name the config keys rather than the options.
    fn words(&self, msg: String) -> String {
        if !self.config_words {
            return msg;
        }
        msg.replace("pass --allow-persistent", "set allow_persistent = true")
            .replace("--allow-persistent", "allow_persistent")
            .replace("--haproxy-socket", "haproxy_socket")
            .replace("--out ", "out ")
            .replace("--format ", "format ")
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

    fn is_nginx(&self) -> bool {
        matches!(self.format, StekFormat::Server(f) if f.one_file_per_key())
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
                self.wake = (now.saturating_add(daemon::BACKOFF[0]), 0);
                return 1;
            }
        };
        let rotation_wake = (slot.next_rotation + WAKE_FUDGE_SECS, WAKE_FUDGE_NANOS);
        // A retry falls before the next interval boundary; from the boundary on, the rotation
        // (2.02 s after it) does the work.
        let (retry_at, retry) = daemon::retry_after(
            now,
            self.state.failures,
            slot.next_rotation,
            "the next rotation",
        );
        let retry = if self.once { String::new() } else { retry };
        let mut errors = 0;
        let first = self.state.written.is_none();
        if self.state.written != Some(slot.current) || self.state.haproxy_pending {
            errors += self.write_round(keys, &slot, first, &retry);
        }
        self.round = Some(Round {
            slot,
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
                self.wake = (now.saturating_add(daemon::BACKOFF[0]), 0);
            }
            return 0;
        };
        let mut errors = 0;
        if self.state.reload_pending && !self.dry_run {
            if let Some(cmd) = &self.reload {
                match self.run_reload(cmd, round.slot.current) {
                    Ok(()) => {
                        self.state.reload_pending = false;
                        self.log
                            .verbose(&format!("reload command `{cmd}` succeeded"));
                    }
                    Err(msg) => {
                        self.log.error(&format!("{msg}{}", round.retry));
                        self.stats.count(ErrorKind::Reload);
                        errors += 1;
                    }
                }
            }
        }
        let slot = round.slot;
        let pending = self.state.written != Some(slot.current)
            || self.state.haproxy_pending
            || self.state.reload_pending;
        self.wake = if pending {
            self.state.failures += 1;
            round.retry_wake.unwrap_or(round.rotation_wake)
        } else {
            self.state.failures = 0;
            round.rotation_wake
        };
        self.stats.up = !pending;
        if !pending {
            self.stats.last_success = Some(now);
            self.stats.failing = None;
        }
        self.stats.next_rotation = Some(slot.next_rotation);
        if self.state.written.is_some() {
            self.stats.counter = self.state.written;
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
        let rendered = match self.render(slot, keys) {
            Ok(r) => r,
            Err((kind, msg)) => {
                self.log.error(&format!("{msg}{keeping}{write_retry}"));
                self.stats.count(kind);
                return 1;
            }
        };
        let written = if self.dry_run {
            self.print_plan(slot, &rendered);
            Ok(("dry run: nothing written".to_owned(), None))
        } else {
            self.write(slot, &rendered)
                .map(|(what, published)| (format!("wrote {what}"), published))
        };
        let window = match self.format {
            StekFormat::Server(f) if f.current_only() => format!("{} only", slot.current),
            _ => format!("{}..={}", slot.current - slot.keep, slot.current + 1),
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
            slot.now, slot.current
        );
        match written {
            Ok((what, published)) => {
                self.log.info(&format!("{head}; {what}"));
                for path in published.iter().flat_map(|p| &p.removed) {
                    self.log.verbose(&format!("removed {}", path.display()));
                }
                for msg in published.iter().flat_map(|p| &p.cleanup_errors) {
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
        if self.state.written != Some(slot.current) {
            self.state.written = Some(slot.current);
            self.state.reload_pending = self.reload.is_some();
            self.state.haproxy_pending = self.haproxy_socket.is_some();
            self.stats.rotations += 1;
            self.stats.has_keys = true;
        }
        match (&self.haproxy_socket, self.dry_run) {
            (Some(socket), false) => match self.push_haproxy(socket, &rendered) {
                Ok(()) => {
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

    /// Renders the keys of `slot` in the output format: the main key's window, then (during a
    /// rollover, for formats that hold any number of keys) the same window of each
    /// decrypt-only main key.
    pub(crate) fn render(
        &self,
        slot: &TicketSlot,
        keys: &mut KeyRound<'_>,
    ) -> Result<Rendered, (ErrorKind, String)> {
        let label = LabelKey::new(
            keys.main().map_err(|e| (ErrorKind::MainKey, e))?,
            &self.label,
        )
        .map_err(|e| (ErrorKind::Write, e.to_string()))?;
        let format = match self.format {
            StekFormat::Server(format) => format,
            StekFormat::Json => {
                let text = self.json(slot, &label);
                let keys = slot
                    .window()
                    .map(|(counter, role)| KeyInfo {
                        counter,
                        role,
                        extra: None,
                        name: label.ticket_name(Strength::Aes256, counter),
                    })
                    .collect();
                let mut text = text;
                // Take the text's buffer without copying it.
                let bytes = Zeroizing::new(std::mem::take(&mut *text).into_bytes());
                return Ok(Rendered {
                    bytes,
                    keys,
                    record_len: 0,
                });
            }
        };
        let mut labels = vec![(None, label)];
        if self.use_extra {
            for (which, main) in keys.extra().map_err(|e| (ErrorKind::MainKey, e))? {
                let extra = LabelKey::new(main, &self.label)
                    .map_err(|e| (ErrorKind::Write, e.to_string()))?;
                labels.push((Some(*which), extra));
            }
        }
        let one = format.rendered_len(slot);
        let mut bytes = Zeroizing::new(vec![0u8; one * labels.len()]);
        let mut keys_info = Vec::new();
        for (n, (which, label)) in labels.iter().enumerate() {
            let len = format
                .render(label, slot, &mut bytes[n * one..])
                .map_err(|e| (ErrorKind::Write, e.to_string()))?;
            debug_assert_eq!(len, one);
            let mut i = 0;
            while let Some(role) = format.role(slot, i) {
                let Some(counter) = slot.counter(role) else {
                    break;
                };
                keys_info.push(KeyInfo {
                    counter,
                    role,
                    extra: *which,
                    name: label.ticket_name(format.strength(), counter),
                });
                i += 1;
            }
        }
        Ok(Rendered {
            bytes,
            keys: keys_info,
            record_len: format.record_len(),
        })
    }

    /// The output location must exist (nginx: its parent), be of the right kind, and (unless
    /// --allow-persistent) be on tmpfs or ramfs.
    pub(crate) fn check_out(&self) -> Result<(), String> {
        self.check_out_raw().map_err(|msg| self.words(msg))
    }

    fn check_out_raw(&self) -> Result<(), String> {
        let allow_persistent = self.allow_persistent;
        let out = &self.out;
        let fmt = self.format.name();
        let meta = std::fs::metadata(out);
        let nginx = self.is_nginx();
        let dir = match &meta {
            Ok(m) if nginx && !m.is_dir() => {
                return Err(format!(
                    "--out {} is not a directory; --format {fmt} writes a directory of key files",
                    out.display()
                ));
            }
            Ok(m) if !nginx && m.is_dir() => {
                return Err(format!(
                    "--out {} is a directory; --format {fmt} writes one file (e.g. {})",
                    out.display(),
                    out.join(format!("{fmt}.key")).display()
                ));
            }
            Ok(_) if nginx => out.as_path(),
            _ => stek_files::parent_dir(out),
        };
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "output directory {} is not a directory (--out {})",
                    dir.display(),
                    out.display()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "output directory {} does not exist or cannot be reached (--out {}): {}",
                    dir.display(),
                    out.display(),
                    os::strerror(&e)
                ));
            }
        }
        if nginx {
            stek_files::nginx_conf(&self.out_abs, 1)?;
        }
        if allow_persistent {
            Ok(())
        } else {
            stek_files::check_memory_fs(dir)
        }
    }

    /// Writes the rendered keys; returns what was written, for the log (and, for nginx, what
    /// the clean-up of older sets did).
    fn write(
        &self,
        slot: &TicketSlot,
        rendered: &Rendered,
    ) -> Result<(String, Option<Published>), String> {
        if self.stdout {
            write_unbuffered(std::io::stdout(), &rendered.bytes);
            return Ok(("the JSON to stdout".to_owned(), None));
        }
        self.check_out_raw()?;
        if !self.is_nginx() {
            stek_files::write_atomic(&self.out, &rendered.bytes, self.perms)?;
            return Ok((self.out.display().to_string(), None));
        }
        let files: Vec<&[u8]> = rendered.bytes.chunks(rendered.record_len).collect();
        let conf = stek_files::nginx_conf(&self.out_abs, files.len())?;
        let set = NginxSet {
            dir: &self.out_abs,
            counter: slot.current,
            files,
            conf: &conf,
        };
        let published = stek_files::publish_nginx(&set, self.perms)?;
        let dir = stek_files::key_dir_name(slot.current);
        let what = format!(
            "{}/{dir} ({} keys), {}/current -> {dir}, {}/nginx.conf",
            self.out.display(),
            set.files.len(),
            self.out.display(),
            self.out.display()
        );
        Ok((what, Some(published)))
    }

    /// Logs the keys' counters, roles and names (verbose), and the keys (--print-keys).
    fn log_keys(&self, rendered: &Rendered) {
        if !(self.log.is_verbose() || self.print_keys) || rendered.record_len == 0 {
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
                let record = rendered.record(i);
                let shown = self.show_record(record);
                self.log.info(&concat(&[&line, ", key ", &shown]));
            } else {
                self.log.info(&line);
            }
        }
    }

    /// A record as text: its base64 line (HAProxy) or hex.
    fn show_record(&self, record: &[u8]) -> Zeroizing<String> {
        match self.format {
            StekFormat::Server(f) if f.base64_lines() => {
                let line = record.strip_suffix(b"\n").unwrap_or(record);
                Zeroizing::new(String::from_utf8_lossy(line).into_owned())
            }
            _ => hex_secret(record),
        }
    }

    /// Step 2–5 of the HAProxy algorithm (the file is written already).
    fn push_haproxy(&self, socket: &Path, rendered: &Rendered) -> Result<(), String> {
        let StekFormat::Server(format) = self.format else {
            return Ok(());
        };
        let lines: Vec<&[u8]> = rendered
            .bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let [previous, current, next] = lines[..] else {
            return Err(format!(
                "internal error: {} base64 lines instead of 3",
                lines.len()
            ));
        };
        let haproxy = Haproxy {
            socket,
            file: &self.out,
            format: format.name(),
            timeout: HAPROXY_TIMEOUT,
        };
        let synced = haproxy.sync([previous, current, next])?;
        let what = match synced.pushes {
            0 => "already held them".to_owned(),
            1 => "pushed 1 key".to_owned(),
            n => format!("pushed {n} keys"),
        };
        self.log.info(&format!(
            "HAProxy at {}: ring {} of {} holds counters {}, {}, {} (previous, current, next); \
             {what}{}",
            socket.display(),
            synced.ring,
            self.out.display(),
            rendered.keys[0].counter,
            rendered.keys[1].counter,
            rendered.keys[2].counter,
            if synced.attempts > 1 {
                format!(" ({} attempts)", synced.attempts)
            } else {
                String::new()
            }
        ));
        Ok(())
    }

    /// Runs the reload command with /bin/sh -c; its output goes to stderr.
    fn run_reload(&self, cmd: &str, counter: u64) -> Result<(), String> {
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| format!("cannot run reload command `{cmd}`: {}", os::strerror(&e)))?;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .env("KEYWHEEL_COUNTER", counter.to_string())
            .env("KEYWHEEL_OUT", &self.out)
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

    /// The JSON description of `slot`: counters, roles, key names of both strengths; the key
    /// bytes only with --print-keys. Built in one buffer, wiped on drop.
    fn json(&self, slot: &TicketSlot, label: &LabelKey) -> Zeroizing<String> {
        let interval = self.schedule.interval();
        // Room for every key with its bytes, so the buffer never moves (leaving a copy).
        let mut s = Zeroizing::new(String::with_capacity(4096 + 1024 * slot.window().count()));
        let out = &mut *s;
        out.push_str("{\n  \"label\": ");
        json_string(out, &self.label);
        let _ = write!(
            out,
            ",\n  \"interval\": {interval},\n  \"keep\": {},\n  \"time\": {},\n  \
             \"current\": {},\n  \"next_rotation\": {},\n  \"max_ticket_age\": {},\n  \
             \"keys\": [",
            slot.keep,
            slot.now,
            slot.current,
            slot.next_rotation,
            self.schedule.max_ticket_age()
        );
        let mut sep = "\n";
        for (counter, role) in slot.window() {
            let _ = write!(
                out,
                "{sep}    {{\n      \"counter\": {counter},\n      \"role\": \"{}\",\n",
                match role {
                    Role::Current => "current",
                    Role::Next => "next",
                    Role::Previous(_) => "previous",
                }
            );
            if let Role::Previous(age) = role {
                let _ = writeln!(out, "      \"age\": {age},");
            }
            let _ = write!(
                out,
                "      \"current_from\": {},\n      \"current_until\": {}",
                counter * interval,
                (counter + 1) * interval
            );
            for (strength, name) in [(Strength::Aes256, "aes256"), (Strength::Aes128, "aes128")] {
                let key = label.ticket_key(strength, counter);
                let _ = write!(out, ",\n      \"{name}\": {{\"name\": \"");
                push_hex(out, key.name());
                out.push('"');
                if self.print_keys {
                    out.push_str(", \"aes_key\": \"");
                    push_hex(out, key.aes_key());
                    out.push_str("\", \"hmac_key\": \"");
                    push_hex(out, key.hmac_key());
                    out.push('"');
                }
                out.push('}');
            }
            out.push_str("\n    }");
            sep = ",\n";
        }
        out.push_str("\n  ]\n}\n");
        s
    }

    /// The dry-run report on stdout: what would be written where and when.
    fn print_plan(&self, slot: &TicketSlot, rendered: &Rendered) {
        let interval = self.schedule.interval();
        let covers = |counter: u64| {
            let start = counter * interval;
            let end = start + interval;
            format!(
                "encrypts during unix time {start}..{end} ({}..{})",
                utc(start),
                utc(end)
            )
        };
        let mode = if self.perms.group.is_some() {
            "0640"
        } else {
            "0600"
        };
        let mut out = Zeroizing::new(String::with_capacity(8192 + 512 * rendered.keys.len()));
        let o = &mut *out;
        let _ = writeln!(o, "dry run: nothing written");
        let _ = writeln!(
            o,
            "  time           {} ({}); interval {interval} s, keep {}, label {:?}",
            slot.now,
            utc(slot.now),
            slot.keep,
            self.label
        );
        let describe = match self.format {
            StekFormat::Server(f) => {
                let layout = match f.layout() {
                    keywheel::Layout::NameHmacAes => "name|hmac|aes",
                    keywheel::Layout::NameAesHmac => "name|aes|hmac",
                };
                let cipher = match f.strength() {
                    Strength::Aes256 => "AES-256-CBC",
                    Strength::Aes128 => "AES-128-CBC",
                };
                let raw = f.strength().record_len();
                let coding = if f.base64_lines() {
                    "base64 lines"
                } else {
                    "raw"
                };
                format!(
                    "{}: {raw}-byte keys {layout} ({cipher} + HMAC-SHA256), {coding}",
                    f.name()
                )
            }
            StekFormat::Json => "json: counters, roles and key names".to_owned(),
        };
        let _ = writeln!(o, "  format         {describe}");
        let out_path = self.out.display();
        let key_line = |o: &mut String, prefix: &str, key: &KeyInfo| {
            let _ = writeln!(
                o,
                "{prefix}{:<11} counter {}, name {}, {}",
                key.role_text(),
                key.counter,
                hex(&key.name),
                covers(key.counter)
            );
        };
        if self.stdout {
            let _ = writeln!(o, "  would print    the JSON on stdout");
        } else if self.is_nginx() {
            let dir = stek_files::key_dir_name(slot.current);
            for (i, key) in rendered.keys.iter().enumerate() {
                let _ = write!(
                    o,
                    "  would write    {out_path}/{dir}/{i}.key ({} bytes, mode {mode}): ",
                    rendered.record_len
                );
                key_line(o, "", key);
                self.plan_key(o, rendered, i);
            }
            let _ = writeln!(o, "  would link     {out_path}/current -> {dir}");
            let _ = writeln!(
                o,
                "  would write    {out_path}/nginx.conf ({} ssl_session_ticket_key lines, \
                 0.key encrypts)",
                rendered.keys.len()
            );
            let _ = writeln!(o, "  would remove   older keys.* directories in {out_path}");
        } else {
            let _ = writeln!(
                o,
                "  would write    {out_path} ({} bytes, mode {mode}), atomically",
                rendered.bytes.len()
            );
            for (i, key) in rendered.keys.iter().enumerate() {
                let what = if self.format == StekFormat::Json {
                    "key"
                } else if rendered.record_len > 0 && self.is_base64() {
                    "line"
                } else {
                    "record"
                };
                key_line(o, &format!("    {what} {i:<2}     "), key);
                self.plan_key(o, rendered, i);
            }
        }
        if let Some(socket) = &self.haproxy_socket {
            let _ = writeln!(
                o,
                "  then push      the keys to HAProxy at {} (set ssl tls-key, no reload) so \
                 that it holds exactly these 3",
                socket.display()
            );
        }
        if let Some(cmd) = &self.reload {
            let _ = writeln!(o, "  then run       /bin/sh -c {cmd:?}");
        }
        if self.once {
            let _ = writeln!(o, "  then exit      (--once)");
        } else {
            let _ = writeln!(
                o,
                "  next rotation  unix time {}.{:03} ({}), {WAKE_FUDGE_SECS}.{:02} s after the \
                 interval boundary {}; then current counter {}",
                slot.next_rotation + WAKE_FUDGE_SECS,
                WAKE_FUDGE_NANOS / 1_000_000,
                utc_millis(
                    slot.next_rotation + WAKE_FUDGE_SECS,
                    WAKE_FUDGE_NANOS / 1_000_000
                ),
                WAKE_FUDGE_NANOS / 10_000_000,
                slot.next_rotation,
                slot.current + 1
            );
        }
        if !self.print_keys {
            let _ = writeln!(
                o,
                "  keys           not shown (add --print-keys to show them)"
            );
        }
        write_unbuffered(std::io::stdout(), out.as_bytes());
    }

    fn is_base64(&self) -> bool {
        matches!(self.format, StekFormat::Server(f) if f.base64_lines())
    }

    /// With --print-keys, the record of key `i` in the dry-run report.
    fn plan_key(&self, o: &mut String, rendered: &Rendered, i: usize) {
        if self.print_keys && rendered.record_len > 0 {
            let shown = self.show_record(rendered.record(i));
            o.push_str("                   key ");
            o.push_str(&shown);
            o.push('\n');
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

    fn sleep_line(&self, (secs, nanos): (u64, u32)) -> String {
        format!(
            "sleeping until unix time {secs}.{:03} ({})",
            nanos / 1_000_000,
            utc_millis(secs, nanos / 1_000_000)
        )
    }
}

/// Why a format does not take the decrypt-only keys of another main key, and what happens.
pub(crate) fn extra_limitation(format: StekFormat) -> &'static str {
    match format {
        StekFormat::Server(f) if f.base64_lines() => {
            "HAProxy holds exactly 3 keys (previous, current, next), so tickets made with the \
             other main key are not resumed here (clients make one full handshake)"
        }
        StekFormat::Server(_) => {
            "this server holds a single key, so tickets made with the other main key are not \
             resumed here (clients make one full handshake)"
        }
        StekFormat::Json => "the JSON lists the main key's window only",
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

/// The public part of one key.
pub(crate) struct KeyInfo {
    pub(crate) counter: u64,
    pub(crate) role: Role,
    /// `Some` for a decrypt-only key of another main key (rollover).
    pub(crate) extra: Option<Extra>,
    pub(crate) name: [u8; TICKET_NAME_LEN],
}

impl KeyInfo {
    /// "current", "previous 1", "next of the previous main key", ...
    fn role_text(&self) -> String {
        match self.extra {
            None => role_text(self.role),
            Some(which) => format!("{} of the {} main key", role_text(self.role), which.name()),
        }
    }
}

/// The rendered output, wiped on drop.
pub(crate) struct Rendered {
    pub(crate) bytes: Zeroizing<Vec<u8>>,
    /// The keys in output order.
    pub(crate) keys: Vec<KeyInfo>,
    /// Length of one record (0 for json).
    pub(crate) record_len: usize,
}

impl Rendered {
    /// Record `i` (a raw record, or a base64 line with its newline).
    pub(crate) fn record(&self, i: usize) -> &[u8] {
        self.bytes
            .get(i * self.record_len..(i + 1) * self.record_len)
            .unwrap_or_default()
    }
}

fn role_text(role: Role) -> String {
    match role {
        Role::Current => "current".to_owned(),
        Role::Next => "next".to_owned(),
        Role::Previous(n) => format!("previous {n}"),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 * bytes.len());
    push_hex(&mut s, bytes);
    s
}

fn hex_secret(bytes: &[u8]) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(2 * bytes.len()));
    push_hex(&mut s, bytes);
    s
}

/// Appends lowercase hex (no temporary copies).
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_errors_name_value_and_range() {
        assert_eq!(
            parse_format("nginx80").unwrap_err(),
            "format 'nginx80' is unknown; it must be one of nginx, nginx48, haproxy, haproxy48, \
             apache, ats, openssl, json"
        );
        assert_eq!(parse_format("json"), Ok(StekFormat::Json));
        assert_eq!(
            parse_label("").unwrap_err(),
            "label is 0 bytes; it must be 1..=64 bytes of UTF-8"
        );
        assert!(parse_keep("-1").unwrap_err().contains("'-1'"));
        assert_eq!(
            parse_group("no-such-group-kw").unwrap_err(),
            "group 'no-such-group-kw' does not exist"
        );
        assert_eq!(parse_group("0"), Ok(Gid::from_raw(0)));
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
    }
}
