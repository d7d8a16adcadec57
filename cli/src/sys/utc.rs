//! ISO-8601 UTC rendering of unix times (proleptic Gregorian calendar, no leap seconds).

use std::fmt;

/// A unix time (seconds + milliseconds) that displays as `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
pub(crate) struct Utc {
    secs: u64,
    millis: Option<u32>,
}

/// Displays `secs` as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc(secs: u64) -> Utc {
    Utc { secs, millis: None }
}

/// Displays `secs` + `millis` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn utc_millis(secs: u64, millis: u32) -> Utc {
    Utc {
        secs,
        millis: Some(millis),
    }
}

/// (year, month, day) of the day `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d) = civil_from_days(self.secs / 86_400);
        let rem = self.secs % 86_400;
        let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if let Some(ms) = self.millis {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings from `date -u -d @N +%Y-%m-%dT%H:%M:%SZ` (GNU coreutils).
    #[test]
    fn known_dates() {
        assert_eq!(utc(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_000_000).to_string(), "1970-01-12T13:46:40Z");
        assert_eq!(utc(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_700_000_000).to_string(), "2023-11-14T22:13:20Z");
        assert_eq!(utc(4_107_542_400).to_string(), "2100-03-01T00:00:00Z");
        assert_eq!(utc(100_000_000_000).to_string(), "5138-11-16T09:46:40Z");
        assert_eq!(
            utc_millis(1_036_802, 20).to_string(),
            "1970-01-13T00:00:02.020Z"
        );
    }
}
