//! The `keywheel` command line (clap): one subcommand per job: `tfo` and `stek`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use keywheel::{DEFAULT_INTERVAL, MAX_TIME, MIN_TIME, Schedule};

use crate::engine::{Config, Dialect, KeySource, stderr_line};
use crate::os;
use crate::stek::{self, StekArgs};
use crate::tofurkey::DEFAULT_PROCFS;

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

/// Deterministic rotating keys for a cluster: every node computes the same short-lived keys
/// from one shared main secret and the clock.
#[derive(Debug, Parser)]
#[command(name = "keywheel", version, propagate_version = true, after_help = EXIT_STATUS_HELP)]
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
    let key = match (args.key.main_key, args.key.credential, args.key.autokey) {
        (Some(path), _, _) => KeySource::File(path),
        (_, Some(name), _) => match credential_path(&name) {
            Ok(path) => KeySource::File(path),
            Err(msg) => {
                stderr_line("error: ", &msg);
                return ExitCode::from(1);
            }
        },
        (_, _, Some(path)) => KeySource::Autokey(path),
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
    let config = Config {
        dialect: Dialect::Keywheel,
        key,
        check_key_mode: !args.allow_insecure_key_file,
        procfs: args.procfs,
        schedule,
        fake_time: args.time,
        verbose: args.verbose,
        print_keys: args.print_keys,
        dry_run: args.dry_run,
        once: args.once || args.time.is_some(),
    };
    config.run();
    ExitCode::SUCCESS
}

/// `keywheel`'s `main`. Usage errors exit 2 (clap), runtime errors 1.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Tfo(args) => tfo(args),
        Command::Stek(args) => stek::main(args),
    }
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
