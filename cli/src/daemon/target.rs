//! What the daemon serves: a [`Target`] receives keys at each rotation (its wake time), and
//! reports [`Stats`] for the metrics and systemd. Failures are counted by [`ErrorKind`] and
//! retried with [`BACKOFF`] ([`retry_after`]).

use crate::daemon::keys::KeyRound;

/// Retry delays after a failure (seconds), the last one repeating.
pub(crate) const BACKOFF: [u64; 6] = [2, 4, 8, 16, 32, 60];

/// What went wrong, as counted in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The main key (or a previous/next main key) is missing, short, unreadable or insecure.
    MainKey,
    /// The keys could not be written (output missing, read-only, not tmpfs, procfs refused).
    Write,
    /// The reload command failed.
    Reload,
    /// HAProxy's admin socket could not be reached or refused the keys.
    Haproxy,
    /// The clock is out of the supported range.
    Time,
    /// Forward-secure mode: the state cannot derive the keys needed (the clock is behind the
    /// state's start), or it cannot be advanced.
    State,
}

impl ErrorKind {
    /// Every kind, in metrics order.
    pub(crate) const ALL: [ErrorKind; 6] = [
        ErrorKind::MainKey,
        ErrorKind::Write,
        ErrorKind::Reload,
        ErrorKind::Haproxy,
        ErrorKind::Time,
        ErrorKind::State,
    ];

    /// The `kind` label of `keywheel_errors_total`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ErrorKind::MainKey => "main_key",
            ErrorKind::Write => "write",
            ErrorKind::Reload => "reload",
            ErrorKind::Haproxy => "haproxy",
            ErrorKind::Time => "time",
            ErrorKind::State => "state",
        }
    }
}

/// What a target reports to the metrics and to systemd.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    /// The first keys were written.
    pub(crate) has_keys: bool,
    /// Nothing is pending or failing.
    pub(crate) up: bool,
    /// When the target was last fully up to date (unix seconds).
    pub(crate) last_success: Option<u64>,
    /// When its keys change next (unix seconds; the write happens 2.02 s later).
    pub(crate) next_rotation: Option<u64>,
    /// The counter of the encrypting key (TFO: the primary key).
    pub(crate) counter: Option<u64>,
    /// How many times new keys were written.
    pub(crate) rotations: u64,
    /// Errors by kind, in [`ErrorKind::ALL`] order.
    pub(crate) errors: [u64; 6],
    /// The kind of the last error while the target is not up.
    pub(crate) failing: Option<ErrorKind>,
}

impl Stats {
    /// Counts one error of `kind`.
    pub(crate) fn count(&mut self, kind: ErrorKind) {
        if let Some(i) = ErrorKind::ALL.iter().position(|k| *k == kind) {
            self.errors[i] += 1;
        }
        self.failing = Some(kind);
    }
}

/// What a target is, for `keywheel_target_info`.
#[derive(Debug, Clone)]
pub(crate) struct Describe {
    /// "tfo" or "stek".
    pub(crate) kind: &'static str,
    /// The format ("tfo" for TFO).
    pub(crate) format: String,
    /// The label ("" for TFO).
    pub(crate) label: String,
    /// The rotation interval in seconds.
    pub(crate) interval: u64,
}

/// One thing the daemon keeps supplied with keys.
pub(crate) trait Target {
    /// Its name (log prefix under `keywheel run`, metrics label).
    fn name(&self) -> &str;
    /// What it is.
    fn describe(&self) -> Describe;
    /// The part of a wake-up that needs the keys (signals are blocked): derive and write them
    /// when due. Returns the number of errors reported.
    fn install(&mut self, now: u64, keys: &mut KeyRound<'_>) -> u32;
    /// The rest of the wake-up (signals unblocked): the reload command; sets the next wake
    /// time. Returns the number of errors reported.
    fn finish(&mut self, now: u64) -> u32;
    /// When this target wants to wake next: (unix seconds, nanoseconds).
    fn wake(&self) -> (u64, u32);
    /// Its counters.
    fn stats(&self) -> &Stats;
    /// The verbose line before sleeping until `wake`, when this target runs alone.
    fn sleep_line(&self, wake: (u64, u32)) -> String;
    /// Forward-secure mode: the first second of the oldest key this target still installs at
    /// `now` (a state must start at or before it to serve the target).
    fn floor(&self, now: u64) -> Option<u64>;
}

/// The wake time after a failure at `now`: the next backoff delay, unless that falls at or
/// after `limit` (the next scheduled wake does the work then). Returns the wake (if any) and
/// the words for the log ("; retrying in 2 s" or "; retrying at the next rotation").
pub(crate) fn retry_after(
    now: u64,
    failures: usize,
    limit: u64,
    at_limit: &str,
) -> (Option<u64>, String) {
    let retry_at = now.saturating_add(BACKOFF[failures.min(BACKOFF.len() - 1)]);
    if retry_at < limit {
        (
            Some(retry_at),
            format!("; retrying in {} s", retry_at - now),
        )
    } else {
        (None, format!("; retrying at {at_limit}"))
    }
}
