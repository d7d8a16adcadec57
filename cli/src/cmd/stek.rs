//! `keywheel stek`: one server's session-ticket keys from the daemon loop.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use nix::unistd::Gid;

use crate::cmd::{StateOpts, fail, fail_with, state_sources};
use crate::daemon::keys::{Extra, KeyFile, KeySources, credential_path};
use crate::daemon::{Daemon, Mode};
use crate::servers::{self, StekFormat, extra_limitation, parse_format};
use crate::sys::log::Log;
use crate::sys::os;
use crate::sys::paths::{Place, check_distinct};
use crate::targets::tickets::{DEFAULT_KEEP, DEFAULT_STEK_INTERVAL, Options, StekSpec, StekTarget};
use crate::targets::values::{
    parse_group, parse_interval, parse_keep, parse_label, parse_owner, parse_time,
};

pub(crate) const EXAMPLES: &str = concat!(
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
  lighttpd (`ssl.stek-file = /run/keywheel/lighttpd.stek`), no reload:
    keywheel stek --format lighttpd --label www --credential stek-main \\
      --out /run/keywheel/lighttpd.stek --group www-data
  Caddy (storage root of the `distributed` session-ticket provider; README \"Caddy\"):
    keywheel stek --format caddy --label www --credential stek-main \\
      --out /run/keywheel/caddy --owner caddy --reload 'systemctl reload caddy'
  Counters, roles and key names for tooling:
    keywheel stek --format json --label www --main-key main.key --out - --once"
);

/// Where the main key comes from.
#[derive(Debug, Args)]
#[group(id = "stek_key", required = true, multiple = false)]
struct StekKeyArgs {
    /// Main key file shared by the cluster (at least 32 bytes; the first 32 are used). It is
    /// re-read at every rotation. Refused if group or others may access it.
    #[arg(long, value_name = "FILE", group = "stek_key")]
    main_key: Option<PathBuf>,

    /// Read the main key from $CREDENTIALS_DIRECTORY/NAME (a systemd credential, e.g. from
    /// LoadCredential=NAME:/etc/keywheel/main.key).
    #[arg(long, value_name = "NAME", group = "stek_key")]
    credential: Option<String>,

    /// Forward-secure mode: a state file (`keywheel state new`) instead of a main key: the
    /// same keys on every node, and a stolen node reveals no key older than --keep intervals.
    #[arg(long, value_name = "FILE", group = "stek_key", group = "state_source")]
    state: Option<PathBuf>,

    /// Forward-secure mode: the state from $CREDENTIALS_DIRECTORY/NAME (a systemd credential).
    #[arg(long, value_name = "NAME", group = "stek_key", group = "state_source")]
    state_credential: Option<String>,
}

/// `keywheel stek` options.
#[derive(Debug, Args)]
pub(crate) struct StekArgs {
    /// Output format: nginx (80-byte files), nginx48, haproxy (base64 lines, 80-byte keys),
    /// haproxy48, apache (48 bytes, current key only), ats (48-byte records), openssl (80
    /// bytes, current key only), lighttpd (ssl.stek-file: one 92-byte record, the next key
    /// published ahead of lighttpd's 64-s check; no reload), h2o (YAML ticket file with the
    /// whole window; no reload), go (32-byte seeds for Go's crypto/tls), go-json (the seeds
    /// as JSON, base64), caddy (stek/stek.bin under Caddy's storage root), json (counters,
    /// roles, key names).
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    format: StekFormat,

    /// The service or cluster name (1..=64 bytes of UTF-8): nodes with the same main key and
    /// label share ticket keys; another label gives unrelated keys.
    #[arg(long, value_name = "LABEL", value_parser = parse_label)]
    label: String,

    #[command(flatten)]
    key: StekKeyArgs,

    #[command(flatten)]
    state_opts: StateOpts,

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
    /// symlink and the nginx.conf include snippet; created if missing), Caddy's storage root
    /// for caddy (stek/stek.bin, locks/; created if missing), a file for the other formats,
    /// or - (stdout) for json. Must be on tmpfs or ramfs unless --allow-persistent.
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

    /// --format caddy: give the storage root's directories, stek.bin and its lock to this
    /// user (name or uid; Debian: caddy), which Caddy runs as and needs to take the lock.
    #[arg(long, value_name = "USER", value_parser = parse_owner)]
    owner: Option<(u32, u32)>,

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

/// Runs `keywheel stek`.
pub(crate) fn run(args: StekArgs) -> ExitCode {
    let (target, keys, time) = match from_args(args) {
        Ok(parts) => parts,
        Err((status, msg)) => return fail_with(status, &msg),
    };
    let locked = match os::harden() {
        Ok(locked) => locked,
        Err(msg) => return fail(&msg),
    };
    let log = target.log().clone();
    let once = target.once();
    let advance_states = !target.dry_run() && time.is_none();
    if !locked && !once {
        log.info(os::NOT_LOCKED);
    }
    Daemon {
        targets: vec![Box::new(target)],
        keys,
        mode: Mode::Single,
        once,
        time,
        metrics_file: None,
        log,
        advance_states,
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
        owner: args.owner,
        allow_persistent: args.allow_persistent,
    };
    let schedule = spec.check().map_err(|e| usage(e.to_string()))?;
    let format = spec.format;
    let to_stdout = spec.out.as_os_str() == "-";
    let state = state_sources(
        args.key.state,
        args.key.state_credential.as_deref(),
        args.state_opts,
        args.allow_persistent,
    )
    .map_err(|e| (1, e))?;
    if state.is_some() && (args.previous_main_key.is_some() || args.next_main_key.is_some()) {
        return Err(usage(
            "--previous-main-key and --next-main-key belong to main-key mode; with --state use \
             --previous-state and --next-state (a target never mixes the two modes)"
                .into(),
        ));
    }
    let main = match (args.key.main_key, args.key.credential) {
        (Some(path), _) => Some(path),
        (None, Some(name)) => Some(credential_path(&name).map_err(|e| (1, e.cli_text()))?),
        (None, None) if state.is_some() => None,
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
        main: main.map(|path| KeyFile {
            path,
            what: "main key file",
        }),
        state,
        extra,
        check_mode: !args.allow_insecure_key_file,
    };
    let mut places = Vec::new();
    if !to_stdout {
        if let Some(main) = &keys.main {
            places.push(Place::file("--main-key", &main.path));
        }
        for (which, k) in &keys.extra {
            places.push(Place::file(format!("--{}-main-key", which.name()), &k.path));
        }
        places.push(if servers::server(format).writes_directory() {
            Place::dir("--out", &spec.out)
        } else {
            Place::file("--out", &spec.out)
        });
    }
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
    if !to_stdout {
        target.check_out().map_err(|msg| (1, msg))?;
        check_distinct(&places).map_err(usage)?;
    }
    if !format.accepts_extra_keys() {
        for which in keys.extras() {
            target.log().info(&format!(
                "the {} {} is not used for format {}: {}",
                which.name(),
                keys.extra_kind(),
                format.name(),
                extra_limitation(format)
            ));
        }
    }
    Ok((target, keys, args.time))
}
