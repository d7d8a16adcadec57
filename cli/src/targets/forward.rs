//! How far back a forward-secure state must reach for a target (FORWARD_SECRECY.md,
//! "Operations"): the first second of the oldest key the target still installs. A state whose
//! start is at or before it serves the target; the daemon advances its state to the minimum of
//! these over its targets after every rotation, so that nothing older stays derivable.

use keywheel::Schedule;

/// Session tickets of `interval` seconds keeping `keep` previous keys, at unix time `now`: the
/// start of key `c − keep` (`c = floor(now / interval)`), i.e. `(c − keep) · interval`.
pub(crate) fn ticket_floor(interval: u64, keep: u64, now: u64) -> u64 {
    (now / interval).saturating_sub(keep) * interval
}

/// TCP Fast Open keys at unix time `now`: the backup key may be `primary − 1`, so
/// `(primary − 1) · interval`.
pub(crate) fn tfo_floor(schedule: &Schedule, now: u64) -> u64 {
    let interval = schedule.interval();
    (now / interval).saturating_sub(1) * interval
}

/// A duration for `--before`: a number of seconds, or a number followed by `s`, `m`, `h`, `d`
/// or `w`; at most 100 years.
pub(crate) fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "'{s}' is not a duration (a number of seconds, or a number followed by s, m, h, d \
             or w, e.g. 1d; at most 36500d)"
        )
    };
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match n.checked_mul(factor) {
        Some(v) if v <= 36_500 * 86_400 => Ok(v),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors() {
        assert_eq!(
            ticket_floor(3600, 2, 1_749_999_600 + 5),
            (486_111 - 2) * 3600
        );
        assert_eq!(ticket_floor(3600, 0, 7199), 3600);
        let s = Schedule::new(600).unwrap();
        assert_eq!(tfo_floor(&s, 1_200_000_599), (2_000_000 - 1) * 600);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("1d").unwrap(), 86_400);
        for bad in [
            "",
            "d",
            "1x",
            "-1d",
            "1.5h",
            "99999999999999999999",
            "36501d",
        ] {
            assert!(
                parse_duration(bad)
                    .unwrap_err()
                    .contains("is not a duration"),
                "{bad}"
            );
        }
    }
}
