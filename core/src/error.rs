//! The one error type of the crate.

use core::fmt;

use crate::{
    DERIVE_MAX_LEN, DERIVE_MIN_LEN, MAIN_KEY_LEN, MAX_INTERVAL, MAX_LABEL_LEN, MAX_TICKET_AGE,
    MAX_TIME, MIN_INTERVAL, MIN_TIME,
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
}

impl Error {
    /// Writes the error's message — the same text as its `Display` — to `w`, piece by piece,
    /// without `core::fmt`'s formatting machinery (a WebAssembly module that writes messages
    /// this way carries none of it).
    ///
    /// # Errors
    /// When `w` fails.
    pub fn write_message<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match *self {
            Error::MainKeyTooShort { len } => {
                w.write_str("main key is ")?;
                decimal(w, len as u64)?;
                w.write_str(" bytes; it must be at least ")?;
                decimal(w, MAIN_KEY_LEN as u64)?;
                w.write_str(" bytes")
            }
            Error::OutputLength { len } => {
                w.write_str("output length ")?;
                decimal(w, len as u64)?;
                w.write_str(" is out of range; it must be in ")?;
                range(w, DERIVE_MIN_LEN as u64, DERIVE_MAX_LEN as u64)
            }
            Error::Interval { value } => {
                w.write_str("interval ")?;
                decimal(w, value)?;
                w.write_str(if value % 2 == 1 {
                    " is odd; it must be even and in "
                } else {
                    " is out of range; it must be even and in "
                })?;
                range(w, MIN_INTERVAL, MAX_INTERVAL)
            }
            Error::LabelLength { len } => {
                w.write_str("label is ")?;
                decimal(w, len as u64)?;
                w.write_str(" bytes; it must be ")?;
                range(w, 1, MAX_LABEL_LEN as u64)?;
                w.write_str(" bytes of UTF-8")
            }
            Error::Keep { keep, interval } => {
                w.write_str("keep ")?;
                decimal(w, keep)?;
                w.write_str(" with interval ")?;
                decimal(w, interval)?;
                w.write_str(" accepts tickets up to ")?;
                decimal(w, keep.saturating_add(1).saturating_mul(interval))?;
                w.write_str(" s old; (keep + 1) * interval must be at most ")?;
                decimal(w, MAX_TICKET_AGE)?;
                w.write_str(" (7 days, RFC 8446), so keep must be in ")?;
                // (An interval of 0, which no schedule takes, gives "0..=0" rather than a panic.)
                let max_keep = match MAX_TICKET_AGE.checked_div(interval) {
                    Some(n) => n.saturating_sub(1),
                    None => 0,
                };
                range(w, 0, max_keep)
            }
            Error::FormatKeep { format, keep } => {
                w.write_str("keep ")?;
                decimal(w, keep)?;
                w.write_str(" does not fit format ")?;
                w.write_str(format)?;
                w.write_str(
                    ": HAProxy uses exactly 3 keys (previous, current, next), so keep must be 1",
                )
            }
            Error::FormatStrength { format } => {
                w.write_str("the key's strength does not match format ")?;
                w.write_str(format)
            }
            Error::BufferTooSmall { len, needed } => {
                w.write_str("output buffer is ")?;
                decimal(w, len as u64)?;
                w.write_str(" bytes; it must be at least ")?;
                decimal(w, needed as u64)?;
                w.write_str(" bytes")
            }
            Error::Time { value } => {
                w.write_str("time ")?;
                decimal(w, value)?;
                w.write_str(" is out of range; it must be in ")?;
                range(w, MIN_TIME, MAX_TIME)
            }
        }
    }
}

/// The decimal digits.
const DIGITS: &str = "0123456789";

/// Writes `n` in decimal, as `{n}` does.
pub(crate) fn decimal<W: fmt::Write + ?Sized>(w: &mut W, n: u64) -> fmt::Result {
    if n >= 10 {
        // At most 19 levels deep.
        decimal(w, n / 10)?;
    }
    let digit = usize::try_from(n % 10).ok().and_then(|i| DIGITS.get(i..=i));
    w.write_str(digit.unwrap_or_default())
}

/// Writes `lo..=hi`.
pub(crate) fn range<W: fmt::Write + ?Sized>(w: &mut W, lo: u64, hi: u64) -> fmt::Result {
    decimal(w, lo)?;
    w.write_str("..=")?;
    decimal(w, hi)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl core::error::Error for Error {}
