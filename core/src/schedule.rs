//! tofurkey's time arithmetic: which interval counters are in use at a unix time, and when to
//! wake up next.

use crate::{
    Error, MAX_INTERVAL, MAX_TIME, MIN_INTERVAL, MIN_TIME, WAKE_FUDGE_NANOS, WAKE_FUDGE_SECS,
};

/// A validated rotation interval: even, in [`MIN_INTERVAL`]`..=`[`MAX_INTERVAL`] seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schedule {
    interval: u64,
}

/// What the schedule says at one unix time: the counters of the keys to install and the next
/// half-interval boundary. Only [`Schedule::at`] makes one, so its fields always agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot {
    now: u64,
    primary: u64,
    backup: u64,
    next_wake: u64,
}

impl Schedule {
    /// Validates `interval` (seconds).
    ///
    /// # Errors
    /// [`Error::Interval`] when `interval` is odd or not in
    /// [`MIN_INTERVAL`]`..=`[`MAX_INTERVAL`].
    pub const fn new(interval: u64) -> Result<Self, Error> {
        if interval < MIN_INTERVAL || interval > MAX_INTERVAL || interval % 2 != 0 {
            return Err(Error::Interval { value: interval });
        }
        Ok(Schedule { interval })
    }

    /// The interval in seconds.
    pub const fn interval(&self) -> u64 {
        self.interval
    }

    /// `floor(now / interval)` for a `now` in [`MIN_TIME`]`..=`[`MAX_TIME`].
    ///
    /// # Errors
    /// [`Error::Time`] when `now` is out of range.
    pub const fn counter(&self, now: u64) -> Result<u64, Error> {
        if now < MIN_TIME || now > MAX_TIME {
            return Err(Error::Time { value: now });
        }
        // `new` made the interval at least MIN_INTERVAL, so this never divides by zero.
        Ok(now / self.interval)
    }

    /// The slot for unix time `now` (seconds).
    ///
    /// # Errors
    /// [`Error::Time`] when `now` is not in [`MIN_TIME`]`..=`[`MAX_TIME`].
    pub const fn at(&self, now: u64) -> Result<Slot, Error> {
        let primary = match self.counter(now) {
            Ok(c) => c,
            Err(e) => return Err(e),
        };
        // MIN_TIME > MAX_INTERVAL, so primary >= 1 and primary - 1 cannot wrap; all sums stay
        // below MAX_TIME + MAX_INTERVAL, far from u64::MAX.
        let start = primary * self.interval;
        let half = self.interval / 2;
        let (backup, next_wake) = if now - start >= half {
            (primary + 1, start + self.interval)
        } else {
            (primary - 1, start + half)
        };
        Ok(Slot {
            now,
            primary,
            backup,
            next_wake,
        })
    }
}

impl Slot {
    /// The unix time this slot was computed for.
    pub const fn now(&self) -> u64 {
        self.now
    }

    /// `floor(now / interval)`: the counter of the primary key.
    pub const fn primary(&self) -> u64 {
        self.primary
    }

    /// The counter of the backup key: `primary - 1` in the first half of the interval,
    /// `primary + 1` in the second half (`now % interval >= interval / 2`).
    pub const fn backup(&self) -> u64 {
        self.backup
    }

    /// The next half-interval boundary of unix time after `now`, where the backup key changes.
    /// A daemon sleeps until `next_wake` plus [`WAKE_FUDGE_SECS`] s and [`WAKE_FUDGE_NANOS`] ns.
    pub const fn next_wake(&self) -> u64 {
        self.next_wake
    }

    /// The absolute wake-up time after this slot as (seconds, nanoseconds) of unix time:
    /// `next_wake` + 2.02 s, so that a daemon never wakes early.
    pub const fn wake_time(&self) -> (u64, u32) {
        (self.next_wake + WAKE_FUDGE_SECS, WAKE_FUDGE_NANOS)
    }
}
