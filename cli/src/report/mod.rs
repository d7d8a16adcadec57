//! The status model behind `keywheel status` and `keywheel check` (which print it): what should
//! be installed now for every target of a configuration, what is installed (files, HAProxy's
//! socket), and whether they agree. Only public values: counters, key names (sent in clear in
//! every ticket) and fingerprints; never key bytes.
//!
//! States: `fresh` (installed = what should be there now), `stale` (installed = the keys of
//! the previous slot: a rotation is in progress or overdue), `wrong` (anything else), `missing`
//! (a file is missing), `unknown` (the main key cannot be read, so nothing can be compared).

mod stek;
mod tfo;

use stek::stek_report;
use tfo::tfo_report;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::daemon::keys::{Extra, KeyRound, KeySources, LiveStates};
use crate::sys::log::Log;
use crate::sys::os;
use crate::sys::text::hex;
use crate::sys::utc::utc;
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
    /// Main-key mode: the main key (absent in forward-secure mode, which has `states`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) main_key: Option<KeyState>,
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
        None
    } else {
        Some(key_state(round.main().map(|m| m.fingerprint())))
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
