//! `keywheel check-config`: validate a configuration file and summarise it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::cmd::load_or_report;
use crate::config::{DEFAULT_CONFIG, KeyRef};
use crate::servers::extra_limitation;

#[derive(Debug, Args)]
pub(crate) struct CheckConfigArgs {
    /// The configuration file (TOML).
    #[arg(value_name = "FILE", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

/// Runs `keywheel check-config`: 0 when valid (with a summary on stdout), 2 otherwise.
pub(crate) fn run(args: &CheckConfigArgs) -> ExitCode {
    let config = match load_or_report(&args.config) {
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
    let key = |k: &KeyRef| match k {
        KeyRef::File(p) => format!("file {}", p.display()),
        KeyRef::Credential(n) => format!("credential {n}"),
    };
    if let Some(k) = &config.main_key {
        out.push_str(&format!("  main key           {}\n", key(k)));
    }
    if let Some(st) = &config.state {
        out.push_str(&format!("  forward-secure     state {}\n", key(&st.state)));
        if let Some(k) = &st.previous {
            out.push_str(&format!("  previous state     {} (decrypt only)\n", key(k)));
        }
        if let Some(k) = &st.next {
            out.push_str(&format!("  next state         {} (decrypt only)\n", key(k)));
        }
    }
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
        if rollover && !spec.format.accepts_extra_keys() {
            extra.push_str(&format!(" (rollover: {})", extra_limitation(spec.format)));
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
