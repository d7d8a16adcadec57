//! `keywheel status`: the report of every target, as text or JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::cmd::{fail, load_or_report, now_or};
use crate::config::{Config, DEFAULT_CONFIG};
use crate::daemon::keys::KeySources;
use crate::report::{KeyState, Report, report};
use crate::sys::utc::utc;
use crate::targets::values::parse_time;

pub(crate) const HELP: &str = "\
Exit status: 0 report printed (whatever the keys' state), 1 runtime error, 2 usage or
configuration error.

Run it on two nodes and compare the `fingerprint` lines (or `jq .fingerprint` of --json): they
are equal when both nodes hold the same keys (compare within the same interval). Key names are
public (sent in clear in every ticket); key bytes are never shown.";

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
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

fn human(report: &Report) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "keywheel status at unix time {} ({}), config {}\n",
        report.time,
        utc(report.time),
        report.config.display()
    ));
    let key = |name: &str, k: &KeyState| match (&k.fingerprint, &k.error) {
        (Some(fp), _) => format!("{name} fingerprint {fp}"),
        (None, Some(e)) => format!("{name}: {e}"),
        (None, None) => format!("{name}: ?"),
    };
    if let Some(main_key) = &report.main_key {
        o.push_str(&key("main key", main_key));
    } else {
        let lines: Vec<String> = report
            .states
            .iter()
            .map(|st| match (&st.root_id, st.start, &st.error) {
                (Some(id), Some(start), _) => format!(
                    "forward-secure {} root id {id}, start {start} ({}){}",
                    st.which,
                    utc(start),
                    st.source
                        .as_ref()
                        .map(|s| format!(" from the {s}"))
                        .unwrap_or_default()
                ),
                (_, _, Some(e)) => format!("forward-secure {}: {e}", st.which),
                _ => format!("forward-secure {}: ?", st.which),
            })
            .collect();
        o.push_str(&lines.join("; "));
    }
    for (name, k) in [
        ("previous main key", &report.previous_main_key),
        ("next main key", &report.next_main_key),
    ] {
        if let Some(k) = k {
            o.push_str(&format!("; {} (decrypt only)", key(name, k)));
        }
    }
    o.push('\n');
    for t in &report.targets {
        let what = match (&t.label, t.keep) {
            (Some(label), Some(keep)) => format!(
                "{} label {label:?}, interval {} s, keep {keep}",
                t.format, t.interval
            ),
            _ => format!("TFO, interval {} s", t.interval),
        };
        let stale = t
            .stale_seconds
            .map(|s| format!(" (for {s} s)"))
            .unwrap_or_default();
        o.push_str(&format!(
            "{}: {}{stale}; {what}\n",
            t.name,
            t.state.text().to_uppercase()
        ));
        let counter = match t.backup {
            Some(b) => format!("primary counter {}, backup counter {b}", t.counter),
            None => format!("current counter {}", t.counter),
        };
        o.push_str(&format!(
            "  {counter}; next rotation at unix time {} ({})\n",
            t.next_rotation,
            utc(t.next_rotation)
        ));
        o.push_str(&format!(
            "  fingerprint {} (expected {})\n",
            t.fingerprint.as_deref().unwrap_or("none"),
            t.expected_fingerprint.as_deref().unwrap_or("unknown")
        ));
        for k in &t.keys {
            let of = if k.main_key == "main" {
                String::new()
            } else {
                format!(" of the {} main key", k.main_key)
            };
            o.push_str(&format!(
                "  key {:<11} counter {}, name {}{of}\n",
                k.role, k.counter, k.name
            ));
        }
        if !t.installed_names.is_empty() {
            o.push_str(&format!(
                "  installed names {}\n",
                t.installed_names.join(" ")
            ));
        }
        for f in &t.files {
            let mut parts = vec![if f.present { "present" } else { "MISSING" }.to_owned()];
            match f.fresh {
                Some(true) => parts.push("fresh".to_owned()),
                Some(false) => parts.push("NOT FRESH".to_owned()),
                None => {}
            }
            if let Some(m) = &f.mode {
                parts.push(format!("mode {m}"));
            }
            if let Some(s) = f.size {
                parts.push(format!("{s} bytes"));
            }
            if let Some(t) = f.mtime.and_then(|t| u64::try_from(t).ok()) {
                parts.push(format!("modified {}", utc(t)));
            }
            if let Some(e) = &f.error {
                parts.push(e.clone());
            }
            o.push_str(&format!(
                "  file {}: {}\n",
                f.path.display(),
                parts.join(", ")
            ));
        }
        if let Some(h) = &t.haproxy {
            let state = match (&h.error, h.fresh) {
                (Some(e), _) => e.clone(),
                (None, Some(true)) => format!("holds the fresh keys ({})", h.names.join(" ")),
                (None, Some(false)) => format!("holds OTHER keys ({})", h.names.join(" ")),
                (None, None) => format!("holds {}", h.names.join(" ")),
            };
            o.push_str(&format!("  HAProxy {}: {state}\n", h.socket.display()));
        }
        if let Some(p) = &t.problem {
            o.push_str(&format!("  problem: {p}\n"));
        }
    }
    o.push_str(&format!("fingerprint {}\n", report.fingerprint));
    o
}

/// Reads the configuration and keys, and "now".
fn prepare(config: &Path, time: Option<u64>) -> Result<(Config, KeySources, u64), ExitCode> {
    let config = load_or_report(config)?;
    let keys = config.key_sources().map_err(|msg| fail(&msg))?;
    let now = now_or(time).map_err(|msg| fail(&msg))?;
    Ok((config, keys, now))
}

/// Runs `keywheel status`.
pub(crate) fn run(args: &StatusArgs) -> ExitCode {
    let (config, keys, now) = match prepare(&args.config, args.time) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = match report(&config, &keys, now) {
        Ok(r) => r,
        Err(msg) => return fail(&msg),
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => return fail(&format!("cannot encode JSON: {e}")),
        }
    } else {
        print!("{}", human(&report));
    }
    ExitCode::SUCCESS
}
