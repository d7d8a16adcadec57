//! The status of one TCP Fast Open target: procfs (or its file) read back and compared.

use keywheel::{MIN_TIME, TFO_KEY_LEN, TFO_PROCFS_TEXT_LEN, tfo_key_fingerprint};
use zeroize::Zeroizing;

use super::{State, TargetReport, file_state};
use crate::config::TfoSpec;
use crate::daemon::keys::{KeyRound, Secret};
use crate::sys::text::hex;
use crate::targets::procfs::TfoOutput;
use crate::targets::tfo::fs_tfo_keys;

/// The TFO target's report at `now`.
pub(super) fn tfo_report(
    spec: &TfoSpec,
    now: u64,
    keys: &mut KeyRound<'_>,
) -> Result<TargetReport, String> {
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
