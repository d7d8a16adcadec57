//! ISO-8601 UTC text of unix times (proleptic Gregorian calendar, no leap seconds), as every
//! message of keywheel (the core's errors, the CLI's logs and reports) writes them.

use core::fmt;

/// A unix time that displays as `YYYY-MM-DDTHH:MM:SSZ`, or `YYYY-MM-DDTHH:MM:SS.mmmZ` with
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Utc {
    secs: u64,
    millis: Option<u32>,
}

impl Utc {
    /// `secs` seconds after 1970-01-01T00:00:00Z.
    pub const fn new(secs: u64) -> Self {
        Utc { secs, millis: None }
    }

    /// `secs` seconds and `millis` (0..=999; a larger value counts as 999) milliseconds after
    /// 1970-01-01T00:00:00Z.
    pub const fn with_millis(secs: u64, millis: u32) -> Self {
        let millis = if millis > 999 { 999 } else { millis };
        Utc {
            secs,
            millis: Some(millis),
        }
    }
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

/// (year, month, day) of the day `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// restricted to non-negative days).
const fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::Utc;

    // Expected strings from `date -u -d @N +%Y-%m-%dT%H:%M:%SZ` (GNU coreutils).
    #[test]
    fn known_dates() {
        let utc = |t| Utc::new(t).to_string();
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_000_000), "1970-01-12T13:46:40Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(utc(100_000_000_000), "5138-11-16T09:46:40Z");
        assert_eq!(
            Utc::with_millis(1_036_802, 20).to_string(),
            "1970-01-13T00:00:02.020Z"
        );
    }
}
