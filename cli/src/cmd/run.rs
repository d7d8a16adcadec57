//! `keywheel run`: every target of a configuration file served by one daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::cmd::{fail, fail_with, load_or_report};
use crate::config::{Config, DEFAULT_CONFIG};
use crate::daemon::keys::KeySources;
use crate::daemon::target::Target;
use crate::daemon::{Daemon, Mode};
use crate::servers::extra_limitation;
use crate::sys::log::Log;
use crate::sys::os;
use crate::targets::procfs::{Dialect, TfoOutput};
use crate::targets::tfo::TfoTarget;
use crate::targets::tickets::{Options, StekTarget};

pub(crate) const HELP: &str = "\
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

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
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

/// The targets of `config`, in order (TFO first), for a daemon or for `status`.
fn targets(config: &Config, keys: &KeySources, verbose: bool, once: bool) -> Vec<Box<dyn Target>> {
    let mut targets: Vec<Box<dyn Target>> = Vec::new();
    if let Some(tfo) = &config.tfo {
        let out = TfoOutput {
            dialect: Dialect::Keywheel,
            procfs: tfo.procfs.clone(),
            schedule: tfo.schedule,
            print_keys: false,
            dry_run: false,
            log: Log::with_prefix("tfo", verbose),
        };
        if !keys.extras().is_empty() {
            let kind = keys.extra_kind();
            out.log.info(&format!(
                "TFO uses the {kind} only: the kernel holds two keys (primary, backup), so \
                 cookies made with another {kind} fail once after the switch (clients then \
                 make a normal handshake)"
            ));
        }
        targets.push(Box::new(TfoTarget::new("tfo", out, false, once)));
    }
    for (spec, schedule) in &config.stek {
        let log = Log::with_prefix(&spec.name, verbose);
        let accepts = spec.format.accepts_extra_keys();
        for which in keys.extras() {
            if !accepts {
                log.info(&format!(
                    "the {} {} is not used for format {}: {}",
                    which.name(),
                    keys.extra_kind(),
                    spec.format.name(),
                    extra_limitation(spec.format)
                ));
            }
        }
        let options = Options {
            log,
            config_words: true,
            fatal_first: false,
            once,
            dry_run: false,
            print_keys: false,
        };
        targets.push(Box::new(StekTarget::new(
            spec.clone(),
            *schedule,
            options,
            keys,
        )));
    }
    targets
}

/// Runs `keywheel run`.
pub(crate) fn run(args: RunArgs) -> ExitCode {
    let (metrics, once, verbose) = (args.metrics_file, args.once, args.verbose);
    let mut config = match load_or_report(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(m) = &metrics {
        // --metrics-file replaces the configuration's: it must not be another file either.
        config.metrics_file = Some(m.clone());
        if let Err(e) = config.check_distinct() {
            return fail_with(2, &e.to_string());
        }
    }
    let keys = match config.key_sources() {
        Ok(k) => k,
        Err(msg) => return fail(&msg),
    };
    let locked = match os::harden() {
        Ok(locked) => locked,
        Err(msg) => return fail(&msg),
    };
    let log = Log::new(verbose);
    if !locked && !once {
        log.info(os::NOT_LOCKED);
    }
    log.info(&format!(
        "{}: {} target{}: {}",
        config.path.display(),
        config.target_names().len(),
        if config.target_names().len() == 1 {
            ""
        } else {
            "s"
        },
        config.target_names().join(", ")
    ));
    let targets = targets(&config, &keys, verbose, once);
    Daemon {
        targets,
        keys,
        mode: Mode::Run,
        once,
        time: None,
        metrics_file: config.metrics_file.clone(),
        log,
        advance_states: true,
    }
    .run()
}
