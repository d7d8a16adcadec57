//! The `keywheel` command line (clap): one file per subcommand, each declaring its arguments
//! and calling into the layers below (`config`, `report`, `targets`, `daemon`). Exit status:
//! 0 success, 1 runtime error, 2 usage or configuration error (`check`: the Nagios codes).

/// The exit status text of `tfo` and `stek` (a macro so that `concat!` can extend it).
macro_rules! exit_status_help {
    () => {
        "\
Exit status:
  0  success (--once, --dry-run, --help, --version)
  1  runtime error: main key unreadable, too short or insecure; output not writable; ...
  2  usage error: unknown option, bad or missing value, conflicting options
A daemon (no --once) runs until killed; SIGTERM ends it by the signal."
    };
}
/// The exit status section of `tfo` and `stek`.
mod check;
mod check_config;
mod gen_secret;
mod run;
mod state;
mod status;
mod stek;
mod tfo;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::sys::clock::Clock;
use crate::sys::log::stderr_line;

const EXIT_STATUS_HELP: &str = exit_status_help!();

/// After `keywheel --help`.
const MAIN_HELP: &str = "\
Exit status: 0 success, 1 runtime error, 2 usage or configuration error; `keywheel check`
follows the Nagios convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Each subcommand's
--help has the details.

Operations: docs/operations.md; rollover of the main key: docs/rollover.md.";

/// Deterministic rotating keys for a cluster: every node computes the same short-lived keys
/// from one shared main secret and the clock.
#[derive(Debug, Parser)]
#[command(name = "keywheel", version, propagate_version = true, after_help = MAIN_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install Linux TCP Fast Open keys (the tofurkey scheme) and rotate them.
    ///
    /// Writes "primary,backup" to the kernel's TFO key file at start, then again 2.02 s after
    /// every half-interval boundary of unix time, re-reading the main key each time. Nodes that
    /// share the main key and the interval install the same keys, so a TFO cookie issued by
    /// one is accepted by the others. Keys are never taken from the command line.
    #[command(after_help = EXIT_STATUS_HELP, after_long_help = tfo::EXAMPLES)]
    Tfo(tfo::TfoArgs),

    /// Write TLS session-ticket keys for nginx, HAProxy, Apache, Traffic Server or OpenSSL, and
    /// rotate them.
    ///
    /// Every node with the same main key, label, interval and keep writes the same keys, so a
    /// ticket issued by one server is resumed by the others. At start and 2.02 s after every
    /// interval boundary the keys of the current interval (encrypting), the next one and
    /// `--keep` previous ones are written atomically in the server's format, then HAProxy gets
    /// them through its admin socket (--haproxy-socket) and the reload command runs (--reload).
    #[command(after_help = EXIT_STATUS_HELP, after_long_help = stek::EXAMPLES)]
    Stek(stek::StekArgs),

    /// Serve every target of a configuration file from one daemon: TFO keys and any number of
    /// servers' ticket keys.
    ///
    /// One wake-up loop serves all targets (each wakes 2.02 s after its own boundaries); a
    /// failing target is retried with backoff and never stops the others. The configuration
    /// (TOML) is described in docs/operations.md; `keywheel check-config` validates it.
    #[command(after_help = run::HELP)]
    Run(run::RunArgs),

    /// Validate a configuration file without running it: exit 0 (and a summary) when valid,
    /// 2 with an error naming the file, line, key and allowed values otherwise.
    CheckConfig(check_config::CheckConfigArgs),

    /// Show every target's keys: what should be installed now (counters, public key names,
    /// next rotation) and what is installed (files, HAProxy's socket), with a fingerprint to
    /// compare across nodes.
    #[command(after_help = status::HELP)]
    Status(status::StatusArgs),

    /// Monitoring plugin (Nagios/Icinga/NRPE convention): are the installed keys what should
    /// be there now?
    #[command(after_help = check::HELP)]
    Check(check::CheckArgs),

    /// Write a new main key: 32 random bytes from the OS, mode 0600, never printed.
    #[command(after_help = gen_secret::HELP)]
    GenSecret(gen_secret::GenSecretArgs),

    /// Forward-secure states: make one from a new random seed, advance it, show it.
    ///
    /// A state derives the keys of every second from its start on and nothing older, so a
    /// stolen node reveals no key of an interval before its start (docs/forward-secrecy.md).
    #[command(after_help = state::HELP)]
    State(state::StateArgs),
}

/// `keywheel`'s `main`. Usage errors exit 2 (clap), runtime errors 1.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let is_check = args.get(1).is_some_and(|a| a == "check");
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // A monitoring plugin's usage error is UNKNOWN (3); --help and --version are 0.
            return match (e.exit_code(), is_check) {
                (0, _) => ExitCode::SUCCESS,
                (_, true) => ExitCode::from(3),
                (code, false) => ExitCode::from(u8::try_from(code).unwrap_or(2)),
            };
        }
    };
    match cli.command {
        Command::Tfo(args) => tfo::run(args),
        Command::Stek(args) => stek::run(args),
        Command::Run(args) => run::run(args),
        Command::CheckConfig(args) => check_config::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Check(args) => check::run(&args),
        Command::GenSecret(args) => gen_secret::run(&args),
        Command::State(args) => state::run(&args),
    }
}

/// The clap definition of `keywheel` (for the man pages).
pub(crate) fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Loads `path`, printing the error: `Err(exit status 2)`.
fn load_or_report(path: &Path) -> Result<Config, ExitCode> {
    config::load(path).map_err(|e| {
        stderr_line("error: ", &e.to_string());
        ExitCode::from(2)
    })
}

/// The forward-secure options of `tfo` and `stek` (the state itself is in each command's key
/// group, so that clap refuses a main key and a state together).
#[derive(Debug, clap::Args)]
pub(crate) struct StateOpts {
    /// Seed rollover: the previous state file. Its keys stay accepted for decryption (formats
    /// that hold any number of keys), like --previous-main-key.
    #[arg(long, value_name = "FILE", requires = "state_source")]
    previous_state: Option<std::path::PathBuf>,

    /// Seed rollover: the next state file, staged: its keys are accepted for decryption
    /// before any node encrypts with them.
    #[arg(long, value_name = "FILE", requires = "state_source")]
    next_state: Option<std::path::PathBuf>,

    /// Where the daemon keeps its working copies of the states (tmpfs or ramfs). Default:
    /// $RUNTIME_DIRECTORY, else /run/keywheel.
    #[arg(long, value_name = "DIR", requires = "state_source")]
    state_dir: Option<std::path::PathBuf>,
}

/// The state sources of `--state FILE` / `--state-credential NAME` and [`StateOpts`].
fn state_sources(
    state: Option<std::path::PathBuf>,
    credential: Option<&str>,
    opts: StateOpts,
    allow_persistent: bool,
) -> Result<Option<crate::daemon::keys::StateSources>, String> {
    use crate::daemon::forward::{StateFile, working_dir};
    use crate::daemon::keys::{Extra, StateSources, credential_path};
    let path = match (state, credential) {
        (Some(p), _) => p,
        (None, Some(name)) => credential_path(name).map_err(|e| {
            e.cli_text()
                .replace("--credential", "--state-credential")
                .replace("--main-key FILE", "--state FILE")
        })?,
        (None, None) => return Ok(None),
    };
    let mut extra = Vec::new();
    if let Some(p) = opts.previous_state {
        extra.push((
            Extra::Previous,
            StateFile {
                path: p,
                what: "previous state file",
            },
        ));
    }
    if let Some(p) = opts.next_state {
        extra.push((
            Extra::Next,
            StateFile {
                path: p,
                what: "next state file",
            },
        ));
    }
    Ok(Some(StateSources {
        current: StateFile {
            path,
            what: "state file",
        },
        extra,
        working_dir: working_dir(opts.state_dir.as_deref()),
        allow_persistent,
    }))
}

/// `time` (`--time`), or the clock's now.
fn now_or(time: Option<u64>) -> Result<u64, String> {
    match time {
        Some(t) => Ok(t),
        None => Clock::new().and_then(|mut c| c.now()),
    }
}

/// A runtime error: the line on stderr, exit status 1.
fn fail(msg: &str) -> ExitCode {
    fail_with(1, msg)
}

/// An error already described: the line on stderr, exit status `status` (1 runtime, 2 usage).
fn fail_with(status: u8, msg: &str) -> ExitCode {
    stderr_line("error: ", msg);
    ExitCode::from(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
