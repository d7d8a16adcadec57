//! The `keywheel` command line (clap): one subcommand per job: `tfo` and `stek`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use keywheel::{DEFAULT_INTERVAL, MAX_TIME, MIN_TIME, Schedule};

use crate::config::DEFAULT_CONFIG;
use crate::daemon::{Daemon, Mode};
use crate::engine::{Dialect, TfoOutput, autokey_setup, stderr_line};
use crate::keys::{KeyFile, KeySources};
use crate::log::Log;
use crate::os;
use crate::status::DEFAULT_GRACE;
use crate::stek::{self, StekArgs};
use crate::tfo_target::TfoTarget;
use crate::tofurkey::DEFAULT_PROCFS;
use crate::{run, secret, status};

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
const EXIT_STATUS_HELP: &str = exit_status_help!();

const MAIN_HELP: &str = "\
Exit status: 0 success, 1 runtime error, 2 usage or configuration error; `keywheel check`
follows the Nagios convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Each subcommand's
--help has the details.

Operations: docs/operations.md; rollover of the main key: docs/rollover.md.";

const RUN_HELP: &str = "\
Exit status:
  0  --once: every target got its keys
  1  runtime error: a main key unreadable at start, $CREDENTIALS_DIRECTORY unset; --once with
     a target that failed
  2  usage or configuration error (nothing was started)
The daemon runs until killed; SIGTERM ends it by the signal. It sends READY=1 to
$NOTIFY_SOCKET once every target has its first keys, and STATUS= lines. A target that fails
(reload command, unwritable output, missing socket, main key gone) keeps its installed keys
and is retried after 2, 4, 8, 16, 32, 60 s (never later than its next rotation); the others
go on. A clock step makes every target's keys be recomputed at once.

Example:
  keywheel check-config /etc/keywheel/keywheel.toml
  keywheel run --config /etc/keywheel/keywheel.toml \\
    --metrics-file /var/lib/prometheus/node-exporter/keywheel.prom";

const STATUS_HELP: &str = "\
Exit status: 0 report printed (whatever the keys' state), 1 runtime error, 2 usage or
configuration error.

Run it on two nodes and compare the `fingerprint` lines (or `jq .fingerprint` of --json): they
are equal when both nodes hold the same keys (compare within the same interval). Key names are
public (sent in clear in every ticket); key bytes are never shown.";

const CHECK_HELP: &str = "\
Exit status (Nagios plugin convention), with one line of output and performance data:
  0  OK: every target's installed keys are what should be there now (or the rotation is
     under way: at most 10 s after the boundary)
  1  WARNING: keys stale within the grace period (rotation overdue), or HAProxy's socket
     cannot be asked
  2  CRITICAL: keys wrong, missing, stale beyond the grace period; a main key unreadable;
     HAProxy holding other keys than its file
  3  UNKNOWN: configuration unreadable or invalid, usage error; installed key files that
     cannot be read (run it as the user keywheel runs as, usually root)";

const GEN_SECRET_HELP: &str = "\
Exit status: 0 written, 1 runtime error (PATH exists without --force, cannot write), 2 usage
error. The key is never printed; its public fingerprint is (compare it across nodes, or with
`keywheel status`).

Example (then copy it to every node, e.g. with your configuration management):
  keywheel gen-secret /etc/keywheel/main.key";

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
    #[command(after_help = EXIT_STATUS_HELP, after_long_help = TFO_EXAMPLES)]
    Tfo(TfoArgs),

    /// Write TLS session-ticket keys for nginx, HAProxy, Apache, Traffic Server or OpenSSL, and
    /// rotate them.
    ///
    /// Every node with the same main key, label, interval and keep writes the same keys, so a
    /// ticket issued by one server is resumed by the others. At start and 2.02 s after every
    /// interval boundary the keys of the current interval (encrypting), the next one and
    /// `--keep` previous ones are written atomically in the server's format, then HAProxy gets
    /// them through its admin socket (--haproxy-socket) and the reload command runs (--reload).
    #[command(after_help = EXIT_STATUS_HELP, after_long_help = STEK_EXAMPLES)]
    Stek(StekArgs),

    /// Serve every target of a configuration file from one daemon: TFO keys and any number of
    /// servers' ticket keys.
    ///
    /// One wake-up loop serves all targets (each wakes 2.02 s after its own boundaries); a
    /// failing target is retried with backoff and never stops the others. The configuration
    /// (TOML) is described in docs/operations.md; `keywheel check-config` validates it.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),

    /// Validate a configuration file without running it: exit 0 (and a summary) when valid,
    /// 2 with an error naming the file, line, key and allowed values otherwise.
    CheckConfig(CheckConfigArgs),

    /// Show every target's keys: what should be installed now (counters, public key names,
    /// next rotation) and what is installed (files, HAProxy's socket), with a fingerprint to
    /// compare across nodes.
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),

    /// Monitoring plugin (Nagios/Icinga/NRPE convention): are the installed keys what should
    /// be there now?
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),

    /// Write a new main key: 32 random bytes from the OS, mode 0600, never printed.
    #[command(after_help = GEN_SECRET_HELP)]
    GenSecret(GenSecretArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The configuration file (TOML).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    config: PathBuf,

    /// Write Prometheus metrics to this file (atomically, at every wake-up), for
    /// node_exporter's textfile collector; overrides `metrics_file` of the configuration.
    #[arg(long, value_name = "PATH")]
    metrics_file: Option<PathBuf>,

    /// Set every target's keys once (with reload commands and HAProxy pushes) and exit.
    #[arg(long)]
    once: bool,

    /// Log every step on stderr.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Debug, Args)]
struct CheckConfigArgs {
    /// The configuration file (TOML).
    #[arg(value_name = "FILE", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// The configuration file (TOML).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    config: PathBuf,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,

    /// Report for this unix time (1000000..=100000000000) instead of the clock.
    #[arg(long, value_name = "UNIX", value_parser = parse_time)]
    time: Option<u64>,
}

#[derive(Debug, Args)]
struct CheckArgs {
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

#[derive(Debug, Args)]
struct GenSecretArgs {
    /// The file to create (its directory must exist).
    #[arg(value_name = "PATH")]
    path: PathBuf,

    /// Replace PATH if it exists (atomically: a new file renamed over it).
    #[arg(long)]
    force: bool,
}

const TFO_EXAMPLES: &str = concat!(
    exit_status_help!(),
    "

Examples:
  Try it without root (creates ./keywheel-demo.key, writes nothing else):
    keywheel tfo --autokey ./keywheel-demo.key --dry-run --once
  Daemon for a cluster, main key from a systemd credential (LoadCredential=tfo-main:...):
    keywheel tfo --credential tfo-main
  Make a main key and copy it to every node:
    (umask 077 && head -c 32 /dev/urandom > main.key)"
);

const STEK_EXAMPLES: &str = concat!(
    exit_status_help!(),
    "

Examples:
  See what would be written where and when (no key bytes), writing nothing:
    keywheel stek --format nginx --label www --main-key main.key \\
      --out /run/keywheel/nginx --dry-run --once
  nginx (`include /run/keywheel/nginx/nginx.conf;` in the server block):
    keywheel stek --format nginx --label www --credential stek-main \\
      --out /run/keywheel/nginx --reload 'nginx -s reload'
  HAProxy (`bind ... tls-ticket-keys /run/keywheel/haproxy.keys`), no reload:
    keywheel stek --format haproxy --label www --credential stek-main \\
      --out /run/keywheel/haproxy.keys --haproxy-socket /run/haproxy/admin.sock
  Counters, roles and key names for tooling:
    keywheel stek --format json --label www --main-key main.key --out - --once"
);

#[derive(Debug, Args)]
#[group(id = "key", required = true, multiple = false)]
struct KeyArgs {
    /// Main key file shared by the cluster (at least 32 bytes; the first 32 are used). It is
    /// re-read at every rotation. Refused if group or others may access it.
    #[arg(long, value_name = "FILE", group = "key")]
    main_key: Option<PathBuf>,

    /// Read the main key from $CREDENTIALS_DIRECTORY/NAME (a systemd credential, e.g. from
    /// LoadCredential=NAME:/etc/keywheel/main.key).
    #[arg(long, value_name = "NAME", group = "key")]
    credential: Option<String>,

    /// Host-local key file, created with 32 random bytes (mode 0600) when missing or
    /// unreadable, as tofurkey -a. Keys are then NOT shared with other hosts. Created even
    /// with --dry-run.
    #[arg(long, value_name = "FILE", group = "key")]
    autokey: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct TfoArgs {
    #[command(flatten)]
    key: KeyArgs,

    /// Accept a key file that group or others may access.
    #[arg(long)]
    allow_insecure_key_file: bool,

    /// Rotation interval in seconds: even, 10..=604800. It must be the same on every node.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_INTERVAL, value_parser = parse_interval)]
    interval: u64,

    /// Set the keys once and exit instead of running as a daemon.
    #[arg(long)]
    once: bool,

    /// Write nothing to the procfs file; print on stdout what would be written and when
    /// (paths, key counters and the time ranges they cover, next rotation; no key bytes).
    #[arg(long)]
    dry_run: bool,

    /// Also print the keys themselves (on stdout with --dry-run, else on stderr). Secret!
    #[arg(long)]
    print_keys: bool,

    /// The kernel's TFO key file (any file, for testing).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PROCFS)]
    procfs: PathBuf,

    /// Compute the keys for this unix time (1000000..=100000000000) instead of the clock;
    /// implies --once.
    #[arg(long, value_name = "UNIX", value_parser = parse_time)]
    time: Option<u64>,

    /// Log every step on stderr.
    #[arg(short, long)]
    verbose: bool,
}

pub(crate) fn parse_interval(s: &str) -> Result<u64, String> {
    let value: u64 = s
        .parse()
        .map_err(|e| format!("'{s}' is not a number of seconds ({e})"))?;
    Schedule::new(value)
        .map(|schedule| schedule.interval())
        .map_err(|e| e.to_string())
}

pub(crate) fn parse_time(s: &str) -> Result<u64, String> {
    let value: u64 = s
        .parse()
        .map_err(|e| format!("'{s}' is not a unix time in seconds ({e})"))?;
    if (MIN_TIME..=MAX_TIME).contains(&value) {
        Ok(value)
    } else {
        Err(keywheel::Error::Time { value }.to_string())
    }
}

/// A credential name must be one file name inside $CREDENTIALS_DIRECTORY.
pub(crate) fn credential_path(name: &str) -> Result<PathBuf, String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(format!(
            "--credential '{name}' is not a credential name (a file name without '/')"
        ));
    }
    match std::env::var_os("CREDENTIALS_DIRECTORY") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir).join(name)),
        _ => Err(format!(
            "--credential {name}: $CREDENTIALS_DIRECTORY is not set; systemd sets it for \
             services with LoadCredential= or SetCredential= (use --main-key FILE otherwise)"
        )),
    }
}

fn tfo(args: TfoArgs) -> ExitCode {
    let (path, what, autokey) = match (args.key.main_key, args.key.credential, args.key.autokey) {
        (Some(path), _, _) => (path, "main key file", false),
        (_, Some(name), _) => match credential_path(&name) {
            Ok(path) => (path, "main key file", false),
            Err(msg) => {
                stderr_line("error: ", &msg);
                return ExitCode::from(1);
            }
        },
        (_, _, Some(path)) => (path, "autokey file", true),
        // clap's required group guarantees one of them.
        (None, None, None) => return ExitCode::from(2),
    };
    let Ok(schedule) = Schedule::new(args.interval) else {
        return ExitCode::from(2); // parse_interval already validated it
    };
    if let Err(msg) = os::harden() {
        stderr_line("error: ", &msg);
        return ExitCode::from(1);
    }
    let check_mode = !args.allow_insecure_key_file;
    let log = Log::new(args.verbose);
    if autokey {
        if let Err(msg) = autokey_setup(Dialect::Keywheel, &path, check_mode, &log) {
            stderr_line("error: ", &msg);
            return ExitCode::from(1);
        }
    }
    let once = args.once || args.time.is_some();
    let out = TfoOutput {
        dialect: Dialect::Keywheel,
        procfs: args.procfs,
        schedule,
        print_keys: args.print_keys,
        dry_run: args.dry_run,
        log: log.clone(),
    };
    Daemon {
        targets: vec![Box::new(TfoTarget::new("tfo", out, true, once))],
        keys: KeySources {
            main: KeyFile { path, what },
            extra: Vec::new(),
            check_mode,
        },
        mode: Mode::Single,
        once,
        time: args.time,
        metrics_file: None,
        log,
    }
    .run()
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
        Command::Tfo(args) => tfo(args),
        Command::Stek(args) => stek::main(args),
        Command::Run(args) => run::run(&args.config, args.metrics_file, args.once, args.verbose),
        Command::CheckConfig(args) => run::check_config(&args.config),
        Command::Status(args) => status::status(&args.config, args.json, args.time),
        Command::Check(args) => status::check(&args.config, args.time, args.grace),
        Command::GenSecret(args) => secret::gen_secret(&args.path, args.force),
    }
}

/// The clap definition of `keywheel` (for the man pages).
pub(crate) fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn value_errors_name_value_and_range() {
        assert_eq!(
            parse_interval("11").unwrap_err(),
            "interval 11 is odd; it must be even and in 10..=604800"
        );
        assert_eq!(
            parse_interval("604802").unwrap_err(),
            "interval 604802 is out of range; it must be even and in 10..=604800"
        );
        assert!(parse_interval("ten").unwrap_err().contains("'ten'"));
        assert_eq!(
            parse_time("999999").unwrap_err(),
            "time 999999 is out of range; it must be in 1000000..=100000000000"
        );
        assert_eq!(parse_time("1000000"), Ok(1_000_000));
    }
}
