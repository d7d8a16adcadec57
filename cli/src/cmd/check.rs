//! `keywheel check`: a monitoring plugin (Nagios/Icinga/NRPE convention) over the status
//! report: one line with performance data, exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::cmd::now_or;
use crate::config::{self, DEFAULT_CONFIG};
use crate::report::{KeyState, State, report};
use crate::targets::values::parse_time;

/// A rotation this many seconds after a boundary is still "in progress" (the daemon writes
/// 2.02 s after it, then reloads): `check` says OK.
pub(crate) const ROTATING_SECONDS: u64 = 10;
/// The default grace period of `check`: stale longer than this is critical.
pub(crate) const DEFAULT_GRACE: u64 = 300;

pub(crate) const HELP: &str = "\
Exit status (Nagios plugin convention), with one line of output and performance data:
  0  OK: every target's installed keys are what should be there now (or the rotation is
     under way: at most 10 s after the boundary)
  1  WARNING: keys stale within the grace period (rotation overdue), or HAProxy's socket
     cannot be asked
  2  CRITICAL: keys wrong, missing, stale beyond the grace period; a main key unreadable;
     HAProxy holding other keys than its file
  3  UNKNOWN: configuration unreadable or invalid, usage error; installed key files that
     cannot be read (run it as the user keywheel runs as, usually root)";

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The configuration file (TOML).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    config: PathBuf,

    /// Check for this unix time (1000000..=100000000000) instead of the clock.
    #[arg(long, value_name = "UNIX", value_parser = parse_time)]
    time: Option<u64>,

    /// Keys stale (rotation overdue) for at most this many seconds are a WARNING; longer is
    /// CRITICAL.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_GRACE)]
    grace: u64,
}

/// Nagios states, in increasing severity (UNKNOWN ranks between OK and WARNING, as Nagios
/// ranks them for a host's overall state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Nagios {
    Ok,
    Unknown,
    Warning,
    Critical,
}

impl Nagios {
    fn text(self) -> &'static str {
        match self {
            Nagios::Ok => "OK",
            Nagios::Unknown => "UNKNOWN",
            Nagios::Warning => "WARNING",
            Nagios::Critical => "CRITICAL",
        }
    }

    fn code(self) -> u8 {
        match self {
            Nagios::Ok => 0,
            Nagios::Warning => 1,
            Nagios::Critical => 2,
            Nagios::Unknown => 3,
        }
    }
}

/// Runs `keywheel check` (Nagios plugin convention). Config errors are UNKNOWN (3).
pub(crate) fn run(args: &CheckArgs) -> ExitCode {
    let (time, grace) = (args.time, args.grace);
    let unknown = |msg: &str| {
        println!("KEYWHEEL UNKNOWN - {msg}");
        ExitCode::from(3)
    };
    let config = match config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return unknown(&e.to_string()),
    };
    let keys = match config.key_sources() {
        Ok(k) => k,
        Err(msg) => return unknown(&msg),
    };
    let now = match now_or(time) {
        Ok(t) => t,
        Err(msg) => return unknown(&msg),
    };
    let report = match report(&config, &keys, now) {
        Ok(r) => r,
        Err(msg) => return unknown(&msg),
    };
    let mut worst = Nagios::Ok;
    let mut problems = Vec::new();
    let mut perf = Vec::new();
    let mut ok = 0;
    if let Some(e) = report.main_key.as_ref().and_then(|k| k.error.as_ref()) {
        worst = Nagios::Critical;
        problems.push(format!("main key: {e}"));
    }
    for (name, k) in [
        ("previous main key", &report.previous_main_key),
        ("next main key", &report.next_main_key),
    ] {
        if let Some(KeyState { error: Some(e), .. }) = k {
            worst = Nagios::Critical;
            problems.push(format!("{name}: {e}"));
        }
    }
    for st in &report.states {
        if let Some(e) = &st.error {
            worst = Nagios::Critical;
            problems.push(format!("forward-secure {}: {e}", st.which));
        }
    }
    let forward_secure = !report.states.is_empty();
    for t in &report.targets {
        let (state, what) = match t.state {
            State::Fresh => (Nagios::Ok, String::new()),
            State::Stale => {
                let s = t.stale_seconds.unwrap_or(0);
                if s <= ROTATING_SECONDS {
                    (Nagios::Ok, String::new())
                } else if s <= grace {
                    (
                        Nagios::Warning,
                        format!("keys stale for {s} s (rotation overdue)"),
                    )
                } else {
                    (
                        Nagios::Critical,
                        format!("keys stale for {s} s (more than the {grace} s grace)"),
                    )
                }
            }
            State::Wrong => (
                Nagios::Critical,
                "installed keys are wrong (neither those of now nor of the previous rotation)"
                    .to_owned(),
            ),
            State::Missing => (Nagios::Critical, "key file missing".to_owned()),
            // The state cannot derive the keys of now (clock behind the state): the daemon
            // keeps serving the installed keys, but cannot rotate.
            State::Unknown if forward_secure && t.problem.is_some() => {
                (Nagios::Critical, t.problem.clone().unwrap_or_default())
            }
            State::Unknown if report.main_key.as_ref().is_some_and(|k| k.error.is_some()) => (
                Nagios::Critical,
                "cannot compute the expected keys (main key unreadable)".to_owned(),
            ),
            State::Unknown => (
                Nagios::Unknown,
                format!(
                    "cannot compare the installed keys: {}",
                    t.files
                        .iter()
                        .find_map(|f| f.error.clone())
                        .or_else(|| t.problem.clone())
                        .unwrap_or_else(|| "see `keywheel status`".to_owned())
                ),
            ),
        };
        // Key files readable beyond their owner (and the configured group): someone widened
        // the mode keywheel set (0600, or 0640 with `group`).
        let (state, what) = match config.stek.iter().find(|(s, _)| s.name == t.name) {
            Some((spec, _)) => {
                let allowed = if spec.group.is_some() { 0o640 } else { 0o600 };
                let wide = t.files.iter().find_map(|f| {
                    let mode = u32::from_str_radix(f.mode.as_deref()?, 8).ok()?;
                    (mode & 0o777 & !allowed != 0).then(|| (f.path.display().to_string(), mode))
                });
                match wide {
                    Some((path, mode)) => (
                        Nagios::Critical,
                        format!(
                            "{path} has mode {mode:04o}: others than its owner{} can read the \
                             keys (expected {allowed:04o})",
                            if spec.group.is_some() {
                                " and group"
                            } else {
                                ""
                            }
                        ),
                    ),
                    None => (state, what),
                }
            }
            None => (state, what),
        };
        let (state, what) = match &t.haproxy {
            Some(h) if h.fresh == Some(false) && state < Nagios::Critical => (
                Nagios::Critical,
                "HAProxy holds other keys than the file".to_owned(),
            ),
            Some(h) if h.error.is_some() && state < Nagios::Warning => (
                Nagios::Warning,
                format!(
                    "cannot check HAProxy: {}",
                    h.error.as_deref().unwrap_or_default()
                ),
            ),
            _ => (state, what),
        };
        if state == Nagios::Ok {
            ok += 1;
        } else {
            problems.push(format!("{} {}: {what}", t.name, state.text()));
        }
        worst = worst.max(state);
        let age = match t.state {
            State::Fresh => "0s".to_owned(),
            State::Stale => format!("{}s", t.stale_seconds.unwrap_or(0)),
            _ => "U".to_owned(),
        };
        perf.push(format!(
            "'{}_stale'={age};{ROTATING_SECONDS};{grace};0",
            t.name
        ));
    }
    let total = report.targets.len();
    perf.insert(0, format!("'targets_ok'={ok};;;0;{total}"));
    let summary = if problems.is_empty() {
        format!(
            "{ok} of {total} targets fresh ({})",
            report
                .targets
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("{ok} of {total} targets OK; {}", problems.join("; "))
    };
    println!("KEYWHEEL {} - {summary} | {}", worst.text(), perf.join(" "));
    ExitCode::from(worst.code())
}
