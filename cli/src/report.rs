//! The status model behind `keywheel status` and `keywheel check` (which print it): what should
//! be installed now for every target of a configuration, what is installed (files, HAProxy's
//! socket), and whether they agree. Only public values: counters, key names (sent in clear in
//! every ticket) and fingerprints; never key bytes.
//!
//! States: `fresh` (installed = what should be there now), `stale` (installed = the keys of
//! the previous slot: a rotation is in progress or overdue), `wrong` (anything else), `missing`
//! (a file is missing), `unknown` (the main key cannot be read, so nothing can be compared).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use keywheel::{
    Files, MIN_TIME, Role, TFO_KEY_LEN, TFO_PROCFS_TEXT_LEN, TicketSlot, tfo_key_fingerprint,
};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::config::{Config, TfoSpec};
use crate::daemon::keys::{Extra, KeyRound, KeySources, LiveStates, Secret};
use crate::daemon::target::ErrorKind;
use crate::servers::{self, Rendered, SeedFormat, StekFormat, caddy, go, json, role_text};
use crate::sys::log::Log;
use crate::sys::os;
use crate::sys::text::hex;
use crate::sys::utc::utc;
use crate::targets::procfs::TfoOutput;
use crate::targets::tfo::fs_tfo_keys;
use crate::targets::tickets::{Options, StekTarget};

/// A main key's state.
#[derive(Debug, Serialize)]
pub(crate) struct KeyState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// A forward-secure state's public facts (forward-secure mode).
#[derive(Debug, Serialize)]
pub(crate) struct StateReport {
    /// "state", "previous state" or "next state".
    pub(crate) which: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) root_id: Option<String>,
    /// The first second it derives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) start: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) start_utc: Option<String>,
    /// Which copy was read: the daemon's working copy or the given file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// One expected key (public part).
#[derive(Debug, Serialize)]
pub(crate) struct KeyName {
    pub(crate) counter: u64,
    pub(crate) role: String,
    /// "main", or "previous"/"next" for a decrypt-only key of another main key.
    pub(crate) main_key: &'static str,
    pub(crate) name: String,
}

/// One file's state.
#[derive(Debug, Serialize)]
pub(crate) struct FileState {
    pub(crate) path: PathBuf,
    pub(crate) present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fresh: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mtime: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// What HAProxy's admin socket says.
#[derive(Debug, Serialize)]
pub(crate) struct SocketState {
    pub(crate) socket: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fresh: Option<bool>,
    pub(crate) names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
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
    /// "fresh", "stale", ...
    pub(crate) fn text(self) -> &'static str {
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
pub(crate) struct TargetReport {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) label: Option<String>,
    pub(crate) interval: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) keep: Option<u64>,
    /// The counter of the encrypting key now (TFO: the primary key).
    pub(crate) counter: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) backup: Option<u64>,
    /// When the keys change next (unix seconds; the daemon writes 2.02 s later).
    pub(crate) next_rotation: u64,
    pub(crate) state: State,
    /// With `stale`: seconds since the keys should have changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stale_seconds: Option<u64>,
    /// The fingerprint of what is installed: the current key's name (ticket keys) or the
    /// fingerprint of the primary key (TFO). Equal on every node that agrees.
    pub(crate) fingerprint: Option<String>,
    /// The fingerprint of what should be installed now.
    pub(crate) expected_fingerprint: Option<String>,
    /// The keys that should be installed now, in file order (public names only).
    pub(crate) keys: Vec<KeyName>,
    /// The key names found in the files, in file order.
    pub(crate) installed_names: Vec<String>,
    pub(crate) files: Vec<FileState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) haproxy: Option<SocketState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) problem: Option<String>,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) config: PathBuf,
    pub(crate) time: u64,
    pub(crate) main_key: KeyState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) previous_main_key: Option<KeyState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_main_key: Option<KeyState>,
    /// Forward-secure mode: the states (empty in main-key mode).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) states: Vec<StateReport>,
    /// "target=fingerprint" for every target, comma-separated: equal on every node that
    /// agrees (at the same interval).
    pub(crate) fingerprint: String,
    pub(crate) targets: Vec<TargetReport>,
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

/// Everything `status` needs for one ticket target, computed at `now`.
fn stek_report(
    t: &StekTarget,
    name: &str,
    now: u64,
    keys: &mut KeyRound<'_>,
) -> Result<TargetReport, String> {
    let schedule = t.schedule();
    let interval = schedule.interval();
    let slot = schedule.at(now).map_err(|e| e.to_string())?;
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
        counter: slot.current(),
        backup: None,
        next_rotation: slot.next_rotation(),
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
        StekFormat::Json => return Ok(json_report(t, report, now, &slot)),
        StekFormat::Own(_) => {
            if let Err((_, msg)) = &expected {
                report.problem = Some(msg.clone());
            }
            let own = own_report(t, report, now, expected.as_ref().ok(), previous.as_ref());
            return Ok(own);
        }
        StekFormat::Seeds(f) => {
            return Ok(seeds_report(
                t,
                f,
                report,
                now,
                &slot,
                &expected,
                previous.as_ref(),
            ));
        }
    };
    let dest = t.dest();
    let pieces = t
        .server()
        .pieces(&dest, expected.as_ref().ok(), previous.as_ref());
    let mut all_now = expected.is_ok();
    let mut all_prev = previous.is_some();
    let mut missing = false;
    let mut unreadable = false;
    let mut installed_current: Option<String> = None;
    let current_index = server.roles(slot.keep()).position(|r| r == Role::Current);
    for (i, piece) in pieces.into_iter().enumerate() {
        let (want_now, want_prev) = (piece.now, piece.previous);
        let (mut st, content) = file_state(&piece.path);
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
                if piece.holds_keys {
                    let names = servers::installed_names(server, c);
                    if server.files() == Files::OnePerKey {
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
        report.stale_seconds = Some(now - slot.current() * interval);
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
    Ok(report)
}

/// What the running server holds, read through its admin socket.
fn socket_report(
    t: &StekTarget,
    server: keywheel::Format,
    socket: &Path,
    expected: Option<&Rendered>,
) -> SocketState {
    let held = t
        .server()
        .held(&t.dest(), socket)
        .unwrap_or_else(|| Err(format!("{} has no admin socket", socket.display())));
    match held {
        Ok(held) => SocketState {
            socket: socket.to_owned(),
            fresh: expected.map(|r| r.bytes[..] == held[..]),
            names: servers::installed_names(server, &held),
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

/// Go's and Caddy's seed files: byte-compared with what keywheel writes now and wrote in the
/// previous interval; the installed seeds' Go names listed; for Caddy, a file that is neither
/// is told apart (Caddy rotated on its own, foreign keys, unreadable).
fn seeds_report(
    t: &StekTarget,
    format: SeedFormat,
    mut report: TargetReport,
    now: u64,
    slot: &TicketSlot,
    expected: &Result<Rendered, (ErrorKind, String)>,
    previous: Option<&Rendered>,
) -> TargetReport {
    let dest = t.dest();
    let pieces = t.server().pieces(&dest, expected.as_ref().ok(), previous);
    let Some(piece) = pieces.into_iter().next() else {
        return report;
    };
    let (mut st, content) = file_state(&piece.path);
    let fresh = match (&content, &piece.now) {
        (Some(c), Some(w)) => Some(c[..] == w[..]),
        _ => None,
    };
    st.fresh = fresh;
    if let Some(c) = &content {
        report.installed_names = go::installed_names(format, c);
        report.fingerprint = report.installed_names.first().cloned();
    }
    let was_previous = match (&content, &piece.previous) {
        (Some(c), Some(w)) => c[..] == w[..],
        _ => false,
    };
    report.state = if content.is_none() && !st.present && st.error.is_none() {
        State::Missing
    } else if content.is_none() || expected.is_err() {
        State::Unknown
    } else if fresh == Some(true) {
        State::Fresh
    } else if was_previous {
        report.stale_seconds = Some(now - slot.current() * report.interval);
        State::Stale
    } else {
        State::Wrong
    };
    if let (SeedFormat::Caddy, Some(c), Ok(r)) = (format, &content, expected) {
        let why = match caddy::classify(Some(c), &r.bytes, &r.ours) {
            caddy::StekState::CaddyRotated => Some(
                "Caddy rotated on its own (the first key is not keywheel's): keywheel rewrites \
                 stek.bin and runs the reload command at its next write (restart it to repair \
                 now)",
            ),
            caddy::StekState::Foreign => Some("stek.bin holds no key of keywheel's"),
            caddy::StekState::Corrupt => Some("stek.bin is not a Caddy STEK file"),
            _ => None,
        };
        if report.state == State::Wrong {
            report.problem = why.map(str::to_owned);
        }
    }
    if let Err((_, msg)) = expected {
        report.problem = Some(msg.clone());
    }
    report.files.push(st);
    report
}

/// The JSON format: its file holds `"current": N`; fresh when N is the current counter.
fn json_report(
    t: &StekTarget,
    mut report: TargetReport,
    now: u64,
    slot: &TicketSlot,
) -> TargetReport {
    let (mut st, content) = file_state(t.out());
    let current = content.as_deref().and_then(|c| json::installed_counter(c));
    st.fresh = current.map(|c| c == slot.current());
    report.state = match current {
        None if content.is_none() && !st.present && st.error.is_none() => State::Missing,
        None if content.is_none() => State::Unknown,
        None => State::Wrong,
        Some(c) if c == slot.current() => State::Fresh,
        Some(c) if c + 1 == slot.current() => {
            report.stale_seconds = Some(now - slot.current() * report.interval);
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

/// A format its server renders itself (lighttpd, h2o): one file, compared with what it should
/// hold now and in the previous interval; its key names read back by the server.
fn own_report(
    t: &StekTarget,
    mut report: TargetReport,
    now: u64,
    expected: Option<&Rendered>,
    previous: Option<&Rendered>,
) -> TargetReport {
    let (mut st, content) = file_state(t.out());
    report.state = match &content {
        None if !st.present && st.error.is_none() => State::Missing,
        None => State::Unknown,
        Some(c) => {
            let names = t.server().names(c).unwrap_or_default();
            let current = expected.and_then(|r| {
                r.keys
                    .iter()
                    .position(|k| k.role == Role::Current && k.extra.is_none())
            });
            report.fingerprint = current.and_then(|i| names.get(i).cloned());
            report.installed_names = names;
            st.fresh = expected.map(|r| r.bytes[..] == c[..]);
            if expected.is_none() {
                State::Unknown
            } else if st.fresh == Some(true) {
                State::Fresh
            } else if previous.is_some_and(|r| r.bytes[..] == c[..]) {
                report.stale_seconds = Some(now - report.counter * report.interval);
                State::Stale
            } else {
                State::Wrong
            }
        }
    };
    report.files.push(st);
    report
}

/// The TFO target's report at `now`.
fn tfo_report(spec: &TfoSpec, now: u64, keys: &mut KeyRound<'_>) -> Result<TargetReport, String> {
    let schedule = spec.schedule;
    let interval = schedule.interval();
    let slot = schedule.at(now).map_err(|e| e.to_string())?;
    let prev_slot = now
        .checked_sub(interval / 2)
        .filter(|&p| p >= MIN_TIME)
        .and_then(|p| schedule.at(p).ok());
    let (main, expected, previous) = match keys.secret() {
        Ok(Secret::Main(m)) => (
            Ok(()),
            Some(TfoOutput::expected(m, &slot)),
            prev_slot.map(|s| TfoOutput::expected(m, &s)),
        ),
        Ok(Secret::State(state)) => match fs_tfo_keys(state, &schedule, now) {
            Ok(k) => (
                Ok(()),
                Some(TfoOutput::text_of(k)),
                prev_slot
                    .and_then(|s| fs_tfo_keys(state, &schedule, s.now()).ok())
                    .map(TfoOutput::text_of),
            ),
            Err(e) => (Err(e), None, None),
        },
        Err(e) => (Err(e), None, None),
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
        counter: slot.primary(),
        backup: Some(slot.backup()),
        next_rotation: slot.next_wake(),
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
        let half_start = slot.next_wake() - interval / 2;
        report.stale_seconds = Some(now - half_start);
        State::Stale
    } else {
        State::Wrong
    };
    report.files.push(st);
    Ok(report)
}

/// The report of every target of `config` at `now`.
pub(crate) fn report(config: &Config, keys: &KeySources, now: u64) -> Result<Report, String> {
    let (live, states) = open_states(keys);
    let mut round = KeyRound::new(keys, live.as_ref());
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
    let main_key = if keys.state.is_some() {
        KeyState {
            fingerprint: None,
            error: None,
        }
    } else {
        key_state(round.main().map(|m| m.fingerprint()))
    };
    let mut previous_main_key = None;
    let mut next_main_key = None;
    for (which, file) in &keys.extra {
        let state = key_state(file.read(keys.check_mode).map(|m| m.fingerprint()));
        match which {
            Extra::Previous => previous_main_key = Some(state),
            Extra::Next => next_main_key = Some(state),
        }
    }
    let mut targets = Vec::new();
    if let Some(tfo) = &config.tfo {
        targets.push(tfo_report(tfo, now, &mut round)?);
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
        targets.push(stek_report(&t, &spec.name, now, &mut round)?);
    }
    drop(round);
    let fingerprint = targets
        .iter()
        .map(|t| format!("{}={}", t.name, t.fingerprint.as_deref().unwrap_or("none")))
        .collect::<Vec<_>>()
        .join(",");
    Ok(Report {
        config: config.path.clone(),
        time: now,
        main_key,
        previous_main_key,
        next_main_key,
        states,
        fingerprint,
        targets,
    })
}

/// Forward-secure mode: the states as the daemon would open them (the newest of the given file
/// and the working copy; read only), and their public facts.
fn open_states(keys: &KeySources) -> (Option<LiveStates>, Vec<StateReport>) {
    let Some(sources) = &keys.state else {
        return (None, Vec::new());
    };
    let mut read_only = sources.clone();
    read_only.allow_persistent = true; // nothing is written here
    let blocked = os::block_all_signals();
    let opened = read_only.open(keys.check_mode);
    if let Ok(b) = blocked {
        let _ = b.restore();
    }
    match opened {
        Ok((live, _)) => {
            let mut reports = vec![state_report("state", &live.current)];
            for (which, s) in &live.extra {
                let w = match which {
                    Extra::Previous => "previous state",
                    Extra::Next => "next state",
                };
                reports.push(state_report(w, s));
            }
            (Some(live), reports)
        }
        Err(e) => (
            None,
            vec![StateReport {
                which: "state",
                root_id: None,
                start: None,
                start_utc: None,
                source: None,
                error: Some(e),
            }],
        ),
    }
}

fn state_report(which: &'static str, s: &crate::daemon::forward::LiveState) -> StateReport {
    let state = s.state();
    StateReport {
        which,
        root_id: Some(hex(&state.root_id())),
        start: Some(state.s0()),
        start_utc: Some(utc(state.s0()).to_string()),
        source: Some(s.source()),
        error: None,
    }
}
