//! ISO-8601 UTC rendering of unix times: the core crate's [`Utc`].

use keywheel::Utc;

/// Displays `secs` as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc(secs: u64) -> Utc {
    Utc::new(secs)
}

/// Displays `secs` + `millis` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn utc_millis(secs: u64, millis: u32) -> Utc {
    Utc::with_millis(secs, millis)
}
