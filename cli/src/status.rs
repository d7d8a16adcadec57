//! `keywheel status` and `keywheel check`: what should be installed now for every target of a
//! configuration, what is installed (files, HAProxy's socket), and whether they agree. Only
//! public values are shown: counters, key names (sent in clear in every ticket) and
//! fingerprints; never key bytes.
//!
//! States: `fresh` (installed = what should be there now), `stale` (installed = the keys of
//! the previous slot: a rotation is in progress or overdue), `wrong` (anything else), `missing`
//! (a file is missing), `unknown` (the main key cannot be read, so nothing can be compared).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use keywheel::{
    Format, MIN_TIME, Role, Slot, TFO_KEY_LEN, TFO_PROCFS_TEXT_LEN, TICKET_NAME_LEN, TicketSlot,
    tfo_key_fingerprint,
};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::config::{Config, TfoSpec};
use crate::engine::TfoOutput;
use crate::haproxy::Haproxy;
use crate::keys::{KeyRound, KeySources};
use crate::log::Log;
use crate::os;
use crate::run::load_or_report;
use crate::stek::{Options, Rendered, StekFormat, StekTarget, hex};
use crate::utc::utc;

/// A rotation this many seconds after a boundary is still "in progress" (the daemon writes
/// 2.02 s after it, then reloads): `check` says OK.
pub(crate) const ROTATING_SECONDS: u64 = 10;
/// The default grace period of `check`: stale longer than this is critical.
pub(crate) const DEFAULT_GRACE: u64 = 300;

/// A main key's state.
#[derive(Debug, Serialize)]
struct KeyState {
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// One expected key (public part).
#[derive(Debug, Serialize)]
struct KeyName {
    counter: u64,
    role: String,
    /// "main", or "previous"/"next" for a decrypt-only key of another main key.
    main_key: &'static str,
    name: String,
}

/// One file's state.
#[derive(Debug, Serialize)]
struct FileState {
    path: PathBuf,
    present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    fresh: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtime: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// What HAProxy's admin socket says.
#[derive(Debug, Serialize)]
struct SocketState {
    socket: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    fresh: Option<bool>,
    names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The state of a target's installed keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    Fresh,
    Stale,
    Wrong,
    Missing,
    Unknown,
}

impl State {
    fn text(self) -> &'static str {
        match self {
            State::Fresh => "fresh",
            State::Stale => "stale",
            State::Wrong => "wrong",
            State::Missing => "missing",
            State::Unknown => "unknown",
        }
    }
}

/// One target's report.
#[derive(Debug, Serialize)]
struct TargetReport {
    name: String,
    kind: &'static str,
    format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    interval: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep: Option<u64>,
    /// The counter of the encrypting key now (TFO: the primary key).
    counter: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<u64>,
    /// When the keys change next (unix seconds; the daemon writes 2.02 s later).
    next_rotation: u64,
    state: State,
    /// With `stale`: seconds since the keys should have changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_seconds: Option<u64>,
    /// The fingerprint of what is installed: the current key's name (ticket keys) or the
    /// fingerprint of the primary key (TFO). Equal on every node that agrees.
    fingerprint: Option<String>,
    /// The fingerprint of what should be installed now.
    expected_fingerprint: Option<String>,
    /// The keys that should be installed now, in file order (public names only).
    keys: Vec<KeyName>,
    /// The key names found in the files, in file order.
    installed_names: Vec<String>,
    files: Vec<FileState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    haproxy: Option<SocketState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    config: PathBuf,
    time: u64,
    main_key: KeyState,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_main_key: Option<KeyState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_main_key: Option<KeyState>,
    /// "target=fingerprint" for every target, comma-separated: equal on every node that
    /// agrees (at the same interval).
    fingerprint: String,
    targets: Vec<TargetReport>,
}

fn file_state(path: &Path) -> (FileState, Option<Zeroizing<Vec<u8>>>) {
    let mut st = FileState {
        path: path.to_owned(),
        present: false,
        fresh: None,
        mode: None,
        size: None,
        mtime: None,
        error: None,
    };
    match fs::metadata(path) {
        Ok(m) => {
            st.present = true;
            st.mode = Some(format!("{:04o}", m.mode() & 0o7777));
            st.size = Some(m.len());
            st.mtime = Some(m.mtime());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (st, None),
        Err(e) => {
            st.error = Some(format!("cannot stat: {}", os::strerror(&e)));
            return (st, None);
        }
    }
    match fs::read(path) {
        Ok(bytes) => (st, Some(Zeroizing::new(bytes))),
        Err(e) => {
            st.error = Some(format!("cannot read: {}", os::strerror(&e)));
            (st, None)
        }
    }
}

/// Standard base64 (with padding) decoded; `None` when malformed.
fn base64_decode(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    if text.len() % 4 != 0 {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() / 4 * 3));
    for chunk in text.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut v = 0u32;
        for &c in &chunk[..4 - pad] {
            v = (v << 6) | val(c)?;
        }
        for _ in 0..pad {
            v <<= 6;
        }
        out.extend_from_slice(&v.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

/// The key names of a key file's content.
fn names_of(format: Format, content: &[u8]) -> Vec<String> {
    if format.base64_lines() {
        content
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| match base64_decode(l) {
                Some(raw) if raw.len() >= TICKET_NAME_LEN => hex(&raw[..TICKET_NAME_LEN]),
                _ => "(not base64)".to_owned(),
            })
            .collect()
    } else {
        content
            .chunks(format.strength().record_len())
            .filter(|r| r.len() >= TICKET_NAME_LEN)
            .map(|r| hex(&r[..TICKET_NAME_LEN]))
            .collect()
    }
}

fn role_text(role: Role) -> String {
    match role {
        Role::Current => "current".to_owned(),
        Role::Next => "next".to_owned(),
        Role::Previous(n) => format!("previous {n}"),
    }
}

/// One file of a target and what it should hold now and held in the previous interval.
struct Piece {
    path: PathBuf,
    now: Option<Zeroizing<Vec<u8>>>,
    previous: Option<Zeroizing<Vec<u8>>>,
}

/// A copy of key bytes that is wiped on drop.
fn secret(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(bytes.to_vec())
}

/// Everything `status` needs for one ticket target, computed at `now`.
fn stek_report(t: &StekTarget, name: &str, now: u64, keys: &mut KeyRound<'_>) -> TargetReport {
    let schedule = t.schedule();
    let interval = schedule.interval();
    let slot = schedule.at(now).unwrap_or(TicketSlot {
        now,
        current: now / interval,
        keep: schedule.keep(),
        next_rotation: (now / interval + 1) * interval,
    });
    let format = t.format();
    let expected = t.render(&slot, keys);
    let previous = now
        .checked_sub(interval)
        .filter(|&p| p >= MIN_TIME)
        .and_then(|p| schedule.at(p).ok())
        .and_then(|s| t.render(&s, keys).ok());
    let mut report = TargetReport {
        name: name.to_owned(),
        kind: "stek",
        format: format.name().to_owned(),
        label: Some(t.label().to_owned()),
        interval,
        keep: Some(schedule.keep()),
        counter: slot.current,
        backup: None,
        next_rotation: slot.next_rotation,
        state: State::Unknown,
        stale_seconds: None,
        fingerprint: None,
        expected_fingerprint: None,
        keys: Vec::new(),
        installed_names: Vec::new(),
        files: Vec::new(),
        haproxy: None,
        problem: None,
    };
    if let Ok(r) = &expected {
        report.keys = r
            .keys
            .iter()
            .map(|k| KeyName {
                counter: k.counter,
                role: role_text(k.role),
                main_key: k.extra.map_or("main", |e| e.name()),
                name: hex(&k.name),
            })
            .collect();
        report.expected_fingerprint = r
            .keys
            .iter()
            .find(|k| k.role == Role::Current && k.extra.is_none())
            .map(|k| hex(&k.name));
    }
    // The files and their expected contents (when known).
    let server = match format {
        StekFormat::Server(f) => f,
        StekFormat::Json => return json_report(t, report, now, &slot),
    };
    let out = t.out();
    let mut pieces: Vec<Piece> = Vec::new();
    if server.one_file_per_key() {
        let abs = crate::stek_files::absolute(out);
        let count = match &expected {
            Ok(r) => r.keys.len(),
            Err(_) => (0..)
                .take_while(|i| out.join(format!("current/{i}.key")).exists())
                .count(),
        };
        for i in 0..count {
            pieces.push(Piece {
                path: out.join(format!("current/{i}.key")),
                now: expected.as_ref().ok().map(|r| secret(r.record(i))),
                previous: previous.as_ref().map(|r| secret(r.record(i))),
            });
        }
        let conf = crate::stek_files::nginx_conf(&abs, count).ok();
        pieces.push(Piece {
            path: out.join("nginx.conf"),
            now: conf.as_deref().map(secret),
            previous: conf.as_deref().map(secret),
        });
    } else {
        pieces.push(Piece {
            path: out.to_owned(),
            now: expected.as_ref().ok().map(|r| secret(&r.bytes)),
            previous: previous.as_ref().map(|r| secret(&r.bytes)),
        });
    }
    let mut all_now = expected.is_ok();
    let mut all_prev = previous.is_some();
    let mut missing = false;
    let mut unreadable = false;
    let mut installed_current: Option<String> = None;
    let current_index = (0..).find(|&i| server.role(&slot, i) == Some(Role::Current));
    for (i, piece) in pieces.into_iter().enumerate() {
        let (want_now, want_prev, path) = (piece.now, piece.previous, piece.path);
        let (mut st, content) = file_state(&path);
        match &content {
            None => {
                // Present but unreadable (not root?) is not "missing": nothing can be said.
                if st.present || st.error.is_some() {
                    unreadable = true;
                } else {
                    missing = true;
                }
                all_now = false;
                all_prev = false;
            }
            Some(c) => {
                let is_conf = path.file_name().is_some_and(|n| n == "nginx.conf");
                if !is_conf {
                    let names = names_of(server, c);
                    if server.one_file_per_key() {
                        if Some(i) == current_index {
                            installed_current = names.first().cloned();
                        }
                    } else if let Some(ci) = current_index {
                        installed_current = names.get(ci).cloned();
                    }
                    report.installed_names.extend(names);
                }
                let fresh = want_now.as_ref().map(|w| w[..] == c[..]);
                st.fresh = fresh;
                all_now &= fresh == Some(true);
                all_prev &= want_prev.as_ref().is_some_and(|w| w[..] == c[..]);
            }
        }
        report.files.push(st);
    }
    report.fingerprint = installed_current;
    report.state = if missing {
        State::Missing
    } else if expected.is_err() || unreadable {
        State::Unknown
    } else if all_now {
        State::Fresh
    } else if all_prev {
        report.stale_seconds = Some(now - slot.current * interval);
        State::Stale
    } else {
        State::Wrong
    };
    if let Err((_, msg)) = &expected {
        report.problem = Some(msg.clone());
    }
    if let Some(socket) = t.haproxy_socket() {
        report.haproxy = Some(socket_report(t, server, socket, expected.as_ref().ok()));
    }
    report
}

fn socket_report(
    t: &StekTarget,
    server: Format,
    socket: &Path,
    expected: Option<&Rendered>,
) -> SocketState {
    let h = Haproxy {
        socket,
        file: t.out(),
        format: server.name(),
        timeout: Duration::from_secs(5),
    };
    match h.held() {
        Ok(held) => SocketState {
            socket: socket.to_owned(),
            fresh: expected.map(|r| r.bytes[..] == held[..]),
            names: names_of(server, &held),
            error: None,
        },
        Err(e) => SocketState {
            socket: socket.to_owned(),
            fresh: None,
            names: Vec::new(),
            error: Some(e),
        },
    }
}

/// The JSON format: its file holds `"current": N`; fresh when N is the current counter.
fn json_report(
    t: &StekTarget,
    mut report: TargetReport,
    now: u64,
    slot: &TicketSlot,
) -> TargetReport {
    let (mut st, content) = file_state(t.out());
    let current = content.as_ref().and_then(|c| {
        let text = String::from_utf8_lossy(c);
        let rest = text.split("\"current\": ").nth(1)?.to_owned();
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<u64>()
            .ok()
    });
    st.fresh = current.map(|c| c == slot.current);
    report.state = match current {
        None if content.is_none() && !st.present && st.error.is_none() => State::Missing,
        None if content.is_none() => State::Unknown,
        None => State::Wrong,
        Some(c) if c == slot.current => State::Fresh,
        Some(c) if c + 1 == slot.current => {
            report.stale_seconds = Some(now - slot.current * report.interval);
            State::Stale
        }
        Some(_) => State::Wrong,
    };
    report.fingerprint = if report.state == State::Fresh {
        report.expected_fingerprint.clone()
    } else {
        None
    };
    report.files.push(st);
    report
}

/// The TFO target's report at `now`.
fn tfo_report(spec: &TfoSpec, now: u64, keys: &mut KeyRound<'_>) -> TargetReport {
    let schedule = spec.schedule;
    let interval = schedule.interval();
    let slot = schedule.at(now).unwrap_or(Slot {
        now,
        primary: now / interval,
        backup: now / interval,
        next_wake: now,
    });
    let main = keys.main();
    let expected = main.as_ref().ok().map(|m| TfoOutput::expected(m, &slot));
    let prev_slot = now
        .checked_sub(interval / 2)
        .filter(|&p| p >= MIN_TIME)
        .and_then(|p| schedule.at(p).ok());
    let previous = match (&main, prev_slot) {
        (Ok(m), Some(s)) => Some(TfoOutput::expected(m, &s)),
        _ => None,
    };
    let fp = |text: &[u8]| -> Option<String> {
        let primary: Vec<u8> = text
            .get(..35)?
            .iter()
            .copied()
            .filter(|&b| b != b'-')
            .collect();
        let mut key = Zeroizing::new([0u8; TFO_KEY_LEN]);
        for (i, pair) in primary.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).ok()?;
            *key.get_mut(i)? = u8::from_str_radix(s, 16).ok()?;
        }
        Some(hex(&tfo_key_fingerprint(&key)))
    };
    let (mut st, content) = file_state(&spec.procfs);
    let mut report = TargetReport {
        name: "tfo".to_owned(),
        kind: "tfo",
        format: "tfo".to_owned(),
        label: None,
        interval,
        keep: None,
        counter: slot.primary,
        backup: Some(slot.backup),
        next_rotation: slot.next_wake,
        state: State::Unknown,
        stale_seconds: None,
        fingerprint: content.as_ref().and_then(|c| fp(c)),
        expected_fingerprint: expected.as_ref().and_then(|e| fp(&e[..])),
        keys: Vec::new(),
        installed_names: Vec::new(),
        files: Vec::new(),
        haproxy: None,
        problem: main.as_ref().err().cloned(),
    };
    let same = |want: &Option<Zeroizing<[u8; TFO_PROCFS_TEXT_LEN + 1]>>| match (want, &content) {
        (Some(w), Some(c)) => c.get(..TFO_PROCFS_TEXT_LEN) == Some(&w[..TFO_PROCFS_TEXT_LEN]),
        _ => false,
    };
    st.fresh = expected.as_ref().map(|_| same(&expected));
    report.state = if content.is_none() && !st.present && st.error.is_none() {
        State::Missing
    } else if expected.is_none() || content.is_none() {
        State::Unknown
    } else if same(&expected) {
        State::Fresh
    } else if same(&previous) {
        let half_start = slot.next_wake - interval / 2;
        report.stale_seconds = Some(now - half_start);
        State::Stale
    } else {
        State::Wrong
    };
    report.files.push(st);
    report
}

/// The report of every target of `config` at `now`.
pub(crate) fn report(config: &Config, keys: &KeySources, now: u64) -> Report {
    let mut round = KeyRound::new(keys);
    let key_state = |r: Result<[u8; 8], String>| match r {
        Ok(fp) => KeyState {
            fingerprint: Some(hex(&fp)),
            error: None,
        },
        Err(e) => KeyState {
            fingerprint: None,
            error: Some(e),
        },
    };
    let main_key = key_state(round.main().map(|m| m.fingerprint()));
    let mut previous_main_key = None;
    let mut next_main_key = None;
    for (which, file) in &keys.extra {
        let state = key_state(file.read(keys.check_mode).map(|m| m.fingerprint()));
        match which {
            crate::keys::Extra::Previous => previous_main_key = Some(state),
            crate::keys::Extra::Next => next_main_key = Some(state),
        }
    }
    let mut targets = Vec::new();
    if let Some(tfo) = &config.tfo {
        targets.push(tfo_report(tfo, now, &mut round));
    }
    for (spec, schedule) in &config.stek {
        let t = StekTarget::new(
            spec.clone(),
            *schedule,
            Options {
                log: Log::new(false),
                config_words: true,
                fatal_first: false,
                once: true,
                dry_run: true,
                print_keys: false,
            },
            keys,
        );
        targets.push(stek_report(&t, &spec.name, now, &mut round));
    }
    drop(round);
    let fingerprint = targets
        .iter()
        .map(|t| format!("{}={}", t.name, t.fingerprint.as_deref().unwrap_or("none")))
        .collect::<Vec<_>>()
        .join(",");
    Report {
        config: config.path.clone(),
        time: now,
        main_key,
        previous_main_key,
        next_main_key,
        fingerprint,
        targets,
    }
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
    o.push_str(&key("main key", &report.main_key));
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
    let keys = config.key_sources().map_err(|msg| {
        crate::engine::stderr_line("error: ", &msg);
        ExitCode::from(1)
    })?;
    let now = match time {
        Some(t) => t,
        None => Clock::new().and_then(|mut c| c.now()).map_err(|msg| {
            crate::engine::stderr_line("error: ", &msg);
            ExitCode::from(1)
        })?,
    };
    Ok((config, keys, now))
}

/// Runs `keywheel status`.
pub(crate) fn status(config: &Path, json: bool, time: Option<u64>) -> ExitCode {
    let (config, keys, now) = match prepare(config, time) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = report(&config, &keys, now);
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                crate::engine::stderr_line("error: ", &format!("cannot encode JSON: {e}"));
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{}", human(&report));
    }
    ExitCode::SUCCESS
}

/// Nagios states, in increasing severity (UNKNOWN ranks between OK and WARNING, as Nagios
/// ranks them for a host's overall state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Nagios {
    Ok,
    Unknown,
    Warning,
    Critical,
}

impl Nagios {
    fn text(self) -> &'static str {
        match self {
            Nagios::Ok => "OK",
            Nagios::Unknown => "UNKNOWN",
            Nagios::Warning => "WARNING",
            Nagios::Critical => "CRITICAL",
        }
    }

    fn code(self) -> u8 {
        match self {
            Nagios::Ok => 0,
            Nagios::Warning => 1,
            Nagios::Critical => 2,
            Nagios::Unknown => 3,
        }
    }
}

/// Runs `keywheel check` (Nagios plugin convention). Config errors are UNKNOWN (3).
pub(crate) fn check(config: &Path, time: Option<u64>, grace: u64) -> ExitCode {
    let unknown = |msg: &str| {
        println!("KEYWHEEL UNKNOWN - {msg}");
        ExitCode::from(3)
    };
    let config = match crate::config::load(config) {
        Ok(c) => c,
        Err(msg) => return unknown(&msg),
    };
    let keys = match config.key_sources() {
        Ok(k) => k,
        Err(msg) => return unknown(&msg),
    };
    let now = match time {
        Some(t) => t,
        None => match Clock::new().and_then(|mut c| c.now()) {
            Ok(t) => t,
            Err(msg) => return unknown(&msg),
        },
    };
    let report = report(&config, &keys, now);
    let mut worst = Nagios::Ok;
    let mut problems = Vec::new();
    let mut perf = Vec::new();
    let mut ok = 0;
    if let Some(e) = &report.main_key.error {
        worst = Nagios::Critical;
        problems.push(format!("main key: {e}"));
    }
    for (name, k) in [
        ("previous main key", &report.previous_main_key),
        ("next main key", &report.next_main_key),
    ] {
        if let Some(KeyState { error: Some(e), .. }) = k {
            worst = Nagios::Critical;
            problems.push(format!("{name}: {e}"));
        }
    }
    for t in &report.targets {
        let (state, what) = match t.state {
            State::Fresh => (Nagios::Ok, String::new()),
            State::Stale => {
                let s = t.stale_seconds.unwrap_or(0);
                if s <= ROTATING_SECONDS {
                    (Nagios::Ok, String::new())
                } else if s <= grace {
                    (
                        Nagios::Warning,
                        format!("keys stale for {s} s (rotation overdue)"),
                    )
                } else {
                    (
                        Nagios::Critical,
                        format!("keys stale for {s} s (more than the {grace} s grace)"),
                    )
                }
            }
            State::Wrong => (
                Nagios::Critical,
                "installed keys are wrong (neither those of now nor of the previous rotation)"
                    .to_owned(),
            ),
            State::Missing => (Nagios::Critical, "key file missing".to_owned()),
            State::Unknown if report.main_key.error.is_some() => (
                Nagios::Critical,
                "cannot compute the expected keys (main key unreadable)".to_owned(),
            ),
            State::Unknown => (
                Nagios::Unknown,
                format!(
                    "cannot compare the installed keys: {}",
                    t.files
                        .iter()
                        .find_map(|f| f.error.clone())
                        .or_else(|| t.problem.clone())
                        .unwrap_or_else(|| "see `keywheel status`".to_owned())
                ),
            ),
        };
        let (state, what) = match &t.haproxy {
            Some(h) if h.fresh == Some(false) && state < Nagios::Critical => (
                Nagios::Critical,
                "HAProxy holds other keys than the file".to_owned(),
            ),
            Some(h) if h.error.is_some() && state < Nagios::Warning => (
                Nagios::Warning,
                format!(
                    "cannot check HAProxy: {}",
                    h.error.as_deref().unwrap_or_default()
                ),
            ),
            _ => (state, what),
        };
        if state == Nagios::Ok {
            ok += 1;
        } else {
            problems.push(format!("{} {}: {what}", t.name, state.text()));
        }
        worst = worst.max(state);
        let age = match t.state {
            State::Fresh => "0s".to_owned(),
            State::Stale => format!("{}s", t.stale_seconds.unwrap_or(0)),
            _ => "U".to_owned(),
        };
        perf.push(format!(
            "'{}_stale'={age};{ROTATING_SECONDS};{grace};0",
            t.name
        ));
    }
    let total = report.targets.len();
    perf.insert(0, format!("'targets_ok'={ok};;;0;{total}"));
    let summary = if problems.is_empty() {
        format!(
            "{ok} of {total} targets fresh ({})",
            report
                .targets
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("{ok} of {total} targets OK; {}", problems.join("; "))
    };
    println!("KEYWHEEL {} - {summary} | {}", worst.text(), perf.join(" "));
    ExitCode::from(worst.code())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn base64_round_trip() {
        assert_eq!(&base64_decode(b"aGVsbG8=").unwrap()[..], b"hello");
        assert_eq!(&base64_decode(b"aGVsbG8h").unwrap()[..], b"hello!");
        assert_eq!(&base64_decode(b"aGk=").unwrap()[..], b"hi");
        assert_eq!(&base64_decode(b"aA==").unwrap()[..], b"h");
        assert!(base64_decode(b"aGk").is_none());
        assert!(base64_decode(b"a*k=").is_none());
    }
}
