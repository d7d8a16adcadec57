//! The Prometheus textfile of `keywheel run --metrics-file` (for node_exporter's textfile
//! collector), rewritten atomically at every wake-up. Metric names are documented in
//! docs/operations.md; they never carry key material (names, counters and times only).

use std::fmt::Write as _;
use std::path::Path;

use crate::daemon::target::{ErrorKind, Target};
use crate::sys::files::{self, Perms};

/// The daemon's own counters, for the metrics.
#[derive(Debug, Default)]
pub(crate) struct DaemonStats {
    pub(crate) start: u64,
    pub(crate) ready: bool,
    pub(crate) clock_steps: u64,
}

/// Escapes a label value (backslash, double quote, newline).
fn label(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The metrics text for the daemon's state at unix time `now`.
pub(crate) fn render(stats: &DaemonStats, now: u64, targets: &[&dyn Target]) -> String {
    let mut o = String::with_capacity(4096);
    header(
        &mut o,
        "keywheel_ready",
        "gauge",
        "1 once every target has its first keys (systemd READY=1 sent).",
    );
    let _ = writeln!(o, "keywheel_ready {}", u8::from(stats.ready));
    header(
        &mut o,
        "keywheel_start_time_seconds",
        "gauge",
        "Unix time the daemon started.",
    );
    let _ = writeln!(o, "keywheel_start_time_seconds {}", stats.start);
    header(
        &mut o,
        "keywheel_metrics_time_seconds",
        "gauge",
        "Unix time this file was written (at every wake-up).",
    );
    let _ = writeln!(o, "keywheel_metrics_time_seconds {now}");
    header(
        &mut o,
        "keywheel_clock_steps_total",
        "counter",
        "Clock steps noticed (every target's keys were recomputed at once).",
    );
    let _ = writeln!(o, "keywheel_clock_steps_total {}", stats.clock_steps);

    type Gauge = fn(&dyn Target) -> Option<u64>;
    let per_target: [(&str, &str, &str, Gauge); 6] = [
        (
            "keywheel_target_up",
            "gauge",
            "1 when the target's keys are installed and nothing is pending or failing.",
            |t| Some(u64::from(t.stats().up)),
        ),
        (
            "keywheel_target_has_keys",
            "gauge",
            "1 once the target's first keys were written.",
            |t| Some(u64::from(t.stats().has_keys)),
        ),
        (
            "keywheel_last_success_time_seconds",
            "gauge",
            "Unix time the target was last fully up to date.",
            |t| t.stats().last_success,
        ),
        (
            "keywheel_next_rotation_time_seconds",
            "gauge",
            "Unix time the target's keys change next (written 2.02 s later).",
            |t| t.stats().next_rotation,
        ),
        (
            "keywheel_current_counter",
            "gauge",
            "Interval counter of the encrypting key (TFO: the primary key).",
            |t| t.stats().counter,
        ),
        (
            "keywheel_rotations_total",
            "counter",
            "Times new keys were written.",
            |t| Some(t.stats().rotations),
        ),
    ];
    header(
        &mut o,
        "keywheel_target_info",
        "gauge",
        "One per target: its kind, format, label and interval.",
    );
    for t in targets {
        let d = t.describe();
        let _ = writeln!(
            o,
            "keywheel_target_info{{target=\"{}\",kind=\"{}\",format=\"{}\",label=\"{}\",\
             interval=\"{}\"}} 1",
            label(t.name()),
            d.kind,
            label(&d.format),
            label(&d.label),
            d.interval
        );
    }
    for (name, kind, help, value) in per_target {
        header(&mut o, name, kind, help);
        for t in targets {
            if let Some(v) = value(*t) {
                let _ = writeln!(o, "{name}{{target=\"{}\"}} {v}", label(t.name()));
            }
        }
    }
    header(
        &mut o,
        "keywheel_errors_total",
        "counter",
        "Errors by target and kind (main_key, write, reload, haproxy, time).",
    );
    for t in targets {
        for (kind, count) in ErrorKind::ALL.iter().zip(t.stats().errors) {
            let _ = writeln!(
                o,
                "keywheel_errors_total{{target=\"{}\",kind=\"{}\"}} {count}",
                label(t.name()),
                kind.name()
            );
        }
    }
    o
}

/// Replaces the metrics file atomically (mode 0644: node_exporter runs as another user).
pub(crate) fn write(path: &Path, text: &str) -> Result<(), String> {
    files::write_atomic(path, text.as_bytes(), Perms::world_readable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
