//! The one error type of the crate.

use core::fmt;

use crate::{
    DERIVE_MAX_LEN, DERIVE_MIN_LEN, FS_END, MAIN_KEY_LEN, MAX_INTERVAL, MAX_LABEL_LEN,
    MAX_TICKET_AGE, MAX_TIME, MIN_INTERVAL, MIN_TIME,
};

/// Everything that can be wrong with an input. Each variant carries the bad value so that its
/// message can name it together with the allowed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The main key material is shorter than [`MAIN_KEY_LEN`] bytes.
    MainKeyTooShort {
        /// How many bytes were given.
        len: usize,
    },
    /// A derived-key output buffer is not in [`DERIVE_MIN_LEN`]`..=`[`DERIVE_MAX_LEN`].
    OutputLength {
        /// The length of the buffer that was given.
        len: usize,
    },
    /// An interval is odd or not in [`MIN_INTERVAL`]`..=`[`MAX_INTERVAL`].
    Interval {
        /// The interval, in seconds, that was given.
        value: u64,
    },
    /// A label is empty or longer than [`MAX_LABEL_LEN`] bytes.
    LabelLength {
        /// The label's length in bytes.
        len: usize,
    },
    /// `keep` previous ticket keys at `interval` would accept tickets older than
    /// [`MAX_TICKET_AGE`].
    Keep {
        /// The number of previous keys that was asked for.
        keep: u64,
        /// The interval it was asked for, in seconds.
        interval: u64,
    },
    /// HAProxy formats take exactly three keys (previous, current, next).
    FormatKeep {
        /// The format's name.
        format: &'static str,
        /// The keep that was asked for.
        keep: u64,
    },
    /// A key of the wrong strength was given to a format.
    FormatStrength {
        /// The format's name.
        format: &'static str,
    },
    /// An output buffer is too small.
    BufferTooSmall {
        /// The length of the buffer that was given.
        len: usize,
        /// The length needed.
        needed: usize,
    },
    /// A unix time is not in [`MIN_TIME`]`..=`[`MAX_TIME`].
    Time {
        /// The unix time, in seconds, that was given.
        value: u64,
    },
    /// Forward-secure mode: a key's interval starts before the state's start, so the state
    /// cannot derive it (it was punctured).
    KeyPunctured {
        /// The state's start (unix seconds).
        start: u64,
        /// The key's counter.
        counter: u64,
        /// The key's interval, in seconds.
        interval: u64,
    },
    /// Forward-secure mode: a key's interval starts past the last second of the tree.
    KeyTime {
        /// The key's counter.
        counter: u64,
        /// The key's interval, in seconds.
        interval: u64,
    },
}

impl Error {
    /// Writes the error's message — the same text as its `Display` — to `w`.
    ///
    /// # Errors
    /// When `w` fails.
    pub fn write_message<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        write!(w, "{self}")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::MainKeyTooShort { len } => {
                write!(
                    f,
                    "main key is {len} bytes; it must be at least {MAIN_KEY_LEN} bytes"
                )
            }
            Error::OutputLength { len } => write!(
                f,
                "output length {len} is out of range; it must be in {DERIVE_MIN_LEN}..={DERIVE_MAX_LEN}"
            ),
            Error::Interval { value } => {
                let problem = if value % 2 == 1 {
                    "is odd"
                } else {
                    "is out of range"
                };
                write!(
                    f,
                    "interval {value} {problem}; it must be even and in {MIN_INTERVAL}..={MAX_INTERVAL}"
                )
            }
            Error::LabelLength { len } => write!(
                f,
                "label is {len} bytes; it must be 1..={MAX_LABEL_LEN} bytes of UTF-8"
            ),
            Error::Keep { keep, interval } => {
                let age = keep.saturating_add(1).saturating_mul(interval);
                // (An interval of 0, which no schedule takes, gives "0..=0" rather than a panic.)
                let max_keep = MAX_TICKET_AGE
                    .checked_div(interval)
                    .map_or(0, |n| n.saturating_sub(1));
                write!(
                    f,
                    "keep {keep} with interval {interval} accepts tickets up to {age} s old; \
                     (keep + 1) * interval must be at most {MAX_TICKET_AGE} (7 days, RFC 8446), \
                     so keep must be in 0..={max_keep}"
                )
            }
            Error::FormatKeep { format, keep } => write!(
                f,
                "keep {keep} does not fit format {format}: HAProxy uses exactly 3 keys \
                 (previous, current, next), so keep must be 1"
            ),
            Error::FormatStrength { format } => {
                write!(f, "the key's strength does not match format {format}")
            }
            Error::BufferTooSmall { len, needed } => write!(
                f,
                "output buffer is {len} bytes; it must be at least {needed} bytes"
            ),
            Error::Time { value } => write!(
                f,
                "time {value} is out of range; it must be in {MIN_TIME}..={MAX_TIME}"
            ),
            Error::KeyPunctured {
                start,
                counter,
                interval,
            } => write!(
                f,
                "state starts at {}; the key for counter {counter} (interval {interval}) \
                 starts at {}: it was punctured",
                UnixTime(start),
                UnixTime(counter.saturating_mul(interval))
            ),
            Error::KeyTime { counter, interval } => write!(
                f,
                "the key for counter {counter} (interval {interval}) starts past the \
                 forward-secure tree; counter * interval must be in 0..={}",
                FS_END - 1
            ),
        }
    }
}

impl core::error::Error for Error {}

/// A unix time shown as `T (YYYY-MM-DDTHH:MM:SSZ)` (UTC, proleptic Gregorian).
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnixTime(pub(crate) u64);

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, crate::Utc::new(self.0))
    }
}
