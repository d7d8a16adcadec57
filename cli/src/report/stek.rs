//! The status of one ticket-key target: its files (or HAProxy's socket) read back and compared
//! with what should be installed now, per kind of server format.

use std::path::Path;

use keywheel::{Files, MIN_TIME, Role, TicketSlot};

use super::{KeyName, SocketState, State, TargetReport, file_state};
use crate::daemon::keys::KeyRound;
use crate::daemon::target::ErrorKind;
use crate::servers::{self, Rendered, SeedFormat, StekFormat, caddy, go, json, role_text};
use crate::sys::text::hex;
use crate::targets::tickets::StekTarget;

/// Everything `status` needs for one ticket target, computed at `now`.
pub(super) fn stek_report(
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
