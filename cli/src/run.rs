//! `keywheel run`: every target of a configuration file served by one daemon, and
//! `keywheel check-config`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, Config};
use crate::daemon::{Daemon, Mode, Target};
use crate::engine::{Dialect, TfoOutput, stderr_line};
use crate::keys::KeySources;
use crate::log::Log;
use crate::os;
use crate::stek::{Options, StekFormat, StekTarget};
use crate::tfo_target::TfoTarget;

/// The targets of `config`, in order (TFO first), for a daemon or for `status`.
pub(crate) fn targets(
    config: &Config,
    keys: &KeySources,
    verbose: bool,
    once: bool,
) -> Vec<Box<dyn Target>> {
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
        if !keys.extra.is_empty() {
            out.log.info(
                "TFO uses the main key only: the kernel holds two keys (primary, backup), so \
                 cookies made with another main key fail once after the switch (clients then \
                 make a normal handshake)",
            );
        }
        targets.push(Box::new(TfoTarget::new("tfo", out, false, once)));
    }
    for (spec, schedule) in &config.stek {
        let log = Log::with_prefix(&spec.name, verbose);
        let accepts = matches!(spec.format, StekFormat::Server(f) if f.accepts_extra_keys());
        for (which, _) in &keys.extra {
            if !accepts {
                log.info(&format!(
                    "the {} main key is not used for format {}: {}",
                    which.name(),
                    spec.format.name(),
                    crate::stek::extra_limitation(spec.format)
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

/// Loads `path`, printing the error: `Err(exit status 2)`.
pub(crate) fn load_or_report(path: &Path) -> Result<Config, ExitCode> {
    config::load(path).map_err(|msg| {
        stderr_line("error: ", &msg);
        ExitCode::from(2)
    })
}

/// Runs `keywheel run`.
pub(crate) fn run(path: &Path, metrics: Option<PathBuf>, once: bool, verbose: bool) -> ExitCode {
    let config = match load_or_report(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let keys = match config.key_sources() {
        Ok(k) => k,
        Err(msg) => {
            stderr_line("error: ", &msg);
            return ExitCode::from(1);
        }
    };
    if let Err(msg) = os::harden() {
        stderr_line("error: ", &msg);
        return ExitCode::from(1);
    }
    let log = Log::new(verbose);
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
        metrics_file: metrics.or(config.metrics_file.clone()),
        log,
    }
    .run()
}

/// Runs `keywheel check-config`: 0 when valid (with a summary on stdout), 2 otherwise.
pub(crate) fn check_config(path: &Path) -> ExitCode {
    let config = match load_or_report(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut out = format!(
        "{}: ok, {} target{}\n",
        config.path.display(),
        config.target_names().len(),
        if config.target_names().len() == 1 {
            ""
        } else {
            "s"
        }
    );
    let key = |k: &config::KeyRef| match k {
        config::KeyRef::File(p) => format!("file {}", p.display()),
        config::KeyRef::Credential(n) => format!("credential {n}"),
    };
    out.push_str(&format!("  main key           {}\n", key(&config.main_key)));
    if let Some(k) = &config.previous_main_key {
        out.push_str(&format!("  previous main key  {} (decrypt only)\n", key(k)));
    }
    if let Some(k) = &config.next_main_key {
        out.push_str(&format!("  next main key      {} (decrypt only)\n", key(k)));
    }
    if let Some(m) = &config.metrics_file {
        out.push_str(&format!("  metrics file       {}\n", m.display()));
    }
    if let Some(tfo) = &config.tfo {
        out.push_str(&format!(
            "  tfo                interval {} s, {}\n",
            tfo.schedule.interval(),
            tfo.procfs.display()
        ));
    }
    for (spec, schedule) in &config.stek {
        let mut extra = String::new();
        if let Some(s) = &spec.haproxy_socket {
            extra.push_str(&format!(", HAProxy socket {}", s.display()));
        }
        if let Some(r) = &spec.reload {
            extra.push_str(&format!(", reload `{r}`"));
        }
        let rollover = config.previous_main_key.is_some() || config.next_main_key.is_some();
        if rollover && !matches!(spec.format, StekFormat::Server(f) if f.accepts_extra_keys()) {
            extra.push_str(&format!(
                " (rollover: {})",
                crate::stek::extra_limitation(spec.format)
            ));
        }
        out.push_str(&format!(
            "  {:<18} {} label {:?}, interval {} s, keep {}, {}{extra}\n",
            spec.name,
            spec.format.name(),
            spec.label,
            schedule.interval(),
            schedule.keep(),
            spec.out.display()
        ));
    }
    print!("{out}");
    ExitCode::SUCCESS
}
