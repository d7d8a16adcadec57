//! `keywheel tfo`: TCP Fast Open keys from the daemon loop.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use keywheel::{DEFAULT_INTERVAL, Schedule};

use crate::cmd::{StateOpts, fail, fail_with, state_sources};
use crate::daemon::keys::{KeyFile, KeySources, credential_path};
use crate::daemon::{Daemon, Mode};
use crate::sys::log::Log;
use crate::sys::os;
use crate::sys::paths::{Place, check_distinct};
use crate::targets::procfs::{DEFAULT_PROCFS, Dialect, TfoOutput, autokey_setup};
use crate::targets::tfo::TfoTarget;
use crate::targets::values::{parse_interval, parse_time};

pub(crate) const EXAMPLES: &str = concat!(
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

#[derive(Debug, Args)]
#[group(id = "key", required = true, multiple = false)]
pub(crate) struct KeyArgs {
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

    /// Forward-secure mode: a state file (`keywheel state new`) instead of a main key. The
    /// TFO keys are then keywheel's own (not tofurkey's); every node must use this mode.
    #[arg(long, value_name = "FILE", group = "key", group = "state_source")]
    state: Option<PathBuf>,

    /// Forward-secure mode: the state from $CREDENTIALS_DIRECTORY/NAME (a systemd credential).
    #[arg(long, value_name = "NAME", group = "key", group = "state_source")]
    state_credential: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TfoArgs {
    #[command(flatten)]
    key: KeyArgs,

    #[command(flatten)]
    state_opts: StateOpts,

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

/// Runs `keywheel tfo`.
pub(crate) fn run(args: TfoArgs) -> ExitCode {
    let state = match state_sources(
        args.key.state,
        args.key.state_credential.as_deref(),
        args.state_opts,
        false,
    ) {
        Ok(s) => s,
        Err(msg) => return fail(&msg),
    };
    let (main, autokey) = match (args.key.main_key, args.key.credential, args.key.autokey) {
        (Some(path), _, _) => (Some((path, "main key file")), false),
        (_, Some(name), _) => match credential_path(&name) {
            Ok(path) => (Some((path, "main key file")), false),
            Err(e) => return fail(&e.cli_text()),
        },
        (_, _, Some(path)) => (Some((path, "autokey file")), true),
        // clap's required group guarantees one of them (or a state).
        (None, None, None) if state.is_some() => (None, false),
        (None, None, None) => return ExitCode::from(2),
    };
    let mut places = vec![Place::file("--procfs", &args.procfs)];
    if let Some((path, _)) = &main {
        places.push(Place::file(
            if autokey { "--autokey" } else { "--main-key" },
            path,
        ));
    }
    if let Err(msg) = check_distinct(&places) {
        return fail_with(2, &msg);
    }
    let Ok(schedule) = Schedule::new(args.interval) else {
        return ExitCode::from(2); // parse_interval already validated it
    };
    let locked = match os::harden() {
        Ok(locked) => locked,
        Err(msg) => return fail(&msg),
    };
    let check_mode = !args.allow_insecure_key_file;
    let log = Log::new(args.verbose);
    if !(locked || args.once || args.time.is_some()) {
        log.info(os::NOT_LOCKED);
    }
    if let (true, Some((path, _))) = (autokey, &main) {
        if let Err(msg) = autokey_setup(Dialect::Keywheel, path, check_mode, &log) {
            return fail(&msg);
        }
    }
    let advance_states = !args.dry_run && args.time.is_none();
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
            main: main.map(|(path, what)| KeyFile { path, what }),
            state,
            extra: Vec::new(),
            check_mode,
        },
        mode: Mode::Single,
        once,
        time: args.time,
        metrics_file: None,
        log,
        advance_states,
    }
    .run()
}
