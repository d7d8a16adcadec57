//! The TCP Fast Open target of the `keywheel` daemon (`keywheel tfo`, `[tfo]` of
//! `keywheel run`): writes "primary,backup" to the kernel's procfs file at start and 2.02 s
//! after every half-interval boundary; a failure keeps the installed keys and is retried with
//! backoff (never past the next scheduled write).
//!
//! Rollover: the kernel holds exactly two keys (primary, backup), so there is no room for a
//! decrypt-only key of the previous main key: TFO always uses the main key. Cookies made with
//! the old key fail once after the switch; the client then falls back to a normal handshake
//! and gets a new cookie (its data is sent after the handshake instead of in the SYN).

use keywheel::Slot;

use crate::daemon::keys::KeyRound;
use crate::daemon::target::{self, Describe, ErrorKind, Stats, Target};
use crate::targets::procfs::{Dialect, TfoOutput};

/// The TFO target.
pub(crate) struct TfoTarget {
    name: String,
    out: TfoOutput,
    /// A failure before the first keys are written ends the program (no retry wording).
    fatal_first: bool,
    once: bool,
    failures: usize,
    stats: Stats,
    wake: (u64, u32),
    /// The slot of the last successful write.
    installed: Option<Slot>,
}

impl TfoTarget {
    /// A target writing through `out` (whose dialect is keywheel's).
    pub(crate) fn new(name: &str, out: TfoOutput, fatal_first: bool, once: bool) -> Self {
        debug_assert_eq!(out.dialect, Dialect::Keywheel);
        TfoTarget {
            name: name.to_owned(),
            out,
            fatal_first,
            once,
            failures: 0,
            stats: Stats::default(),
            wake: (0, 0),
            installed: None,
        }
    }

    fn failed(&mut self, now: u64, kind: ErrorKind, text: &str, next_wake: (u64, u32)) -> u32 {
        let first = !self.stats.has_keys;
        let suffix = if (first && self.fatal_first) || self.once {
            String::new()
        } else {
            let (retry_at, retry) =
                target::retry_after(now, self.failures, next_wake.0, "the next wake-up");
            self.wake = retry_at.map_or(next_wake, |t| (t, 0));
            if first {
                retry
            } else {
                format!("; keeping the installed keys{retry}")
            }
        };
        self.out.log.error(&format!("{text}{suffix}"));
        self.stats.count(kind);
        self.stats.up = false;
        self.failures += 1;
        1
    }
}

impl Target for TfoTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> Describe {
        Describe {
            kind: "tfo",
            format: "tfo".to_owned(),
            label: String::new(),
            interval: self.out.schedule.interval(),
        }
    }

    fn install(&mut self, now: u64, keys: &mut KeyRound<'_>) -> u32 {
        let slot = match self.out.schedule.at(now) {
            Ok(slot) => slot,
            Err(e) => {
                let next = (now.saturating_add(target::BACKOFF[0]), 0);
                return self.failed(now, ErrorKind::Time, &e.to_string(), next);
            }
        };
        self.out.head(now, &slot);
        let next = slot.wake_time();
        let main = match keys.main() {
            Ok(main) => main,
            Err(text) => return self.failed(now, ErrorKind::MainKey, &text, next),
        };
        if let Err(text) = self.out.install(main, &slot) {
            return self.failed(now, ErrorKind::Write, &text, next);
        }
        if self.installed.map(|s| (s.primary(), s.backup()))
            != Some((slot.primary(), slot.backup()))
        {
            self.stats.rotations += 1;
        }
        self.installed = Some(slot);
        self.failures = 0;
        self.wake = next;
        self.stats.has_keys = true;
        self.stats.up = true;
        self.stats.failing = None;
        self.stats.last_success = Some(now);
        self.stats.next_rotation = Some(slot.next_wake());
        self.stats.counter = Some(slot.primary());
        0
    }

    fn finish(&mut self, _now: u64) -> u32 {
        0
    }

    fn wake(&self) -> (u64, u32) {
        self.wake
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }

    fn sleep_line(&self, (secs, _): (u64, u32)) -> String {
        format!("Sleeping until next half-interval wakeup at {secs}")
    }
}
