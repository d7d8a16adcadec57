//! The one error type of the crate.

use core::fmt;

use crate::forward::civil;
use crate::{
    DERIVE_MAX_LEN, DERIVE_MIN_LEN, FS_DEPTH, FS_END, FS_SEED_LEN, MAIN_KEY_LEN, MAX_INTERVAL,
    MAX_LABEL_LEN, MAX_TICKET_AGE, MAX_TIME, MIN_INTERVAL, MIN_TIME, STATE_FILE_VERSION,
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
    /// A forward-secure seed is not exactly [`FS_SEED_LEN`] bytes.
    SeedLength {
        /// How many bytes were given.
        len: usize,
    },
    /// A time is past the last second of the forward-secure tree ([`FS_END`]` - 1`).
    TreeTime {
        /// The unix time, in seconds, that was given.
        value: u64,
    },
    /// A forward-secure state cannot be advanced backwards.
    Backwards {
        /// The state's start (unix seconds).
        start: u64,
        /// The earlier time it was asked to go to.
        to: u64,
    },
    /// The leaf of a second before the state's start was punctured: it cannot be derived.
    Punctured {
        /// The state's start (unix seconds).
        start: u64,
        /// The second that was asked for.
        time: u64,
    },
    /// A key's interval starts before the state's start: it was punctured.
    KeyPunctured {
        /// The state's start (unix seconds).
        start: u64,
        /// The key's counter.
        counter: u64,
        /// The key's interval, in seconds.
        interval: u64,
    },
    /// A key's interval starts past the last second of the forward-secure tree.
    KeyTime {
        /// The key's counter.
        counter: u64,
        /// The key's interval, in seconds.
        interval: u64,
    },
    /// A state file is malformed.
    StateFile(StateFileError),
}

/// What is wrong with a state file (see [`Error::StateFile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateFileError {
    /// The file ends before its header does.
    TruncatedHeader {
        /// The file's length.
        len: usize,
    },
    /// The first four bytes are not `"KWFS"`.
    Magic {
        /// The first four bytes (zero-padded when the file is shorter).
        found: [u8; 4],
    },
    /// An unknown version.
    Version {
        /// The version byte.
        value: u8,
    },
    /// A depth other than [`FS_DEPTH`].
    Depth {
        /// The depth byte.
        value: u8,
    },
    /// Flags other than 0.
    Flags {
        /// The flags.
        value: u16,
    },
    /// A start at or past [`FS_END`].
    Start {
        /// The start that was read.
        value: u64,
    },
    /// A node count other than the cover size of the start.
    NodeCount {
        /// The count that was read.
        count: u8,
        /// The start that was read.
        start: u64,
        /// The cover size of that start.
        expected: usize,
    },
    /// The file ends before its nodes and checksum do.
    Truncated {
        /// The file's length.
        len: usize,
        /// The length its header announces.
        expected: usize,
    },
    /// Bytes follow the checksum.
    Trailing {
        /// The file's length.
        len: usize,
        /// The length its header announces.
        expected: usize,
    },
    /// The checksum does not match the contents.
    Checksum,
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
            Error::SeedLength { len } => {
                w.write_str("seed is ")?;
                decimal(w, len as u64)?;
                w.write_str(" bytes; it must be exactly ")?;
                decimal(w, FS_SEED_LEN as u64)?;
                w.write_str(" bytes")
            }
            Error::TreeTime { value } => {
                w.write_str("time ")?;
                decimal(w, value)?;
                w.write_str(" is past the forward-secure tree; it must be in ")?;
                range(w, 0, FS_END - 1)
            }
            Error::Backwards { start, to } => {
                state_starts(w, start)?;
                w.write_str("; it cannot go back to ")?;
                time(w, to)
            }
            Error::Punctured { start, time: t } => {
                state_starts(w, start)?;
                w.write_str("; second ")?;
                time(w, t)?;
                w.write_str(" is before it: it was punctured")
            }
            Error::KeyPunctured {
                start,
                counter,
                interval,
            } => {
                state_starts(w, start)?;
                w.write_str("; the key for counter ")?;
                decimal(w, counter)?;
                w.write_str(" (interval ")?;
                decimal(w, interval)?;
                w.write_str(") starts at ")?;
                time(w, counter.saturating_mul(interval))?;
                w.write_str(": it was punctured")
            }
            Error::KeyTime { counter, interval } => {
                w.write_str("the key for counter ")?;
                decimal(w, counter)?;
                w.write_str(" (interval ")?;
                decimal(w, interval)?;
                w.write_str(
                    ") starts past the forward-secure tree; counter * interval must be in ",
                )?;
                range(w, 0, FS_END - 1)
            }
            Error::StateFile(problem) => {
                w.write_str("state file: ")?;
                problem.write_message(w)
            }
        }
    }
}

impl StateFileError {
    /// Writes the problem's message (without the `"state file: "` prefix of [`Error`]'s).
    ///
    /// # Errors
    /// When `w` fails.
    pub fn write_message<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match *self {
            StateFileError::TruncatedHeader { len } => {
                w.write_str("truncated: ")?;
                decimal(w, len as u64)?;
                w.write_str(" bytes, shorter than the ")?;
                decimal(w, crate::forward::HEADER_LEN as u64)?;
                w.write_str("-byte header")
            }
            StateFileError::Magic { found } => {
                w.write_str("bad magic ")?;
                for b in found {
                    hex_byte(w, b)?;
                }
                w.write_str(": not a keywheel state file (it must start with \"KWFS\", 4b574653)")
            }
            StateFileError::Version { value } => {
                w.write_str("version ")?;
                decimal(w, u64::from(value))?;
                w.write_str(" is not supported; it must be ")?;
                decimal(w, u64::from(STATE_FILE_VERSION))
            }
            StateFileError::Depth { value } => {
                w.write_str("depth ")?;
                decimal(w, u64::from(value))?;
                w.write_str(" is not supported; it must be ")?;
                decimal(w, u64::from(FS_DEPTH))
            }
            StateFileError::Flags { value } => {
                w.write_str("flags 0x")?;
                for b in value.to_be_bytes() {
                    hex_byte(w, b)?;
                }
                w.write_str(" are not supported; they must be 0")
            }
            StateFileError::Start { value } => {
                w.write_str("start ")?;
                decimal(w, value)?;
                w.write_str(" is out of range; it must be in ")?;
                range(w, 0, FS_END - 1)
            }
            StateFileError::NodeCount {
                count,
                start,
                expected,
            } => {
                w.write_str("node count ")?;
                decimal(w, u64::from(count))?;
                w.write_str(" is wrong: a state starting at ")?;
                decimal(w, start)?;
                w.write_str(" has exactly ")?;
                decimal(w, expected as u64)?;
                w.write_str(" nodes")
            }
            StateFileError::Truncated { len, expected } => {
                w.write_str("truncated: ")?;
                decimal(w, len as u64)?;
                w.write_str(" bytes; its header announces ")?;
                decimal(w, expected as u64)?;
                w.write_str(" bytes")
            }
            StateFileError::Trailing { len, expected } => {
                w.write_str("trailing bytes: ")?;
                decimal(w, len as u64)?;
                w.write_str(" bytes; its header announces ")?;
                decimal(w, expected as u64)?;
                w.write_str(" bytes")
            }
            StateFileError::Checksum => w.write_str("checksum mismatch: the file is corrupt"),
        }
    }
}

/// Writes `state starts at T (ISO)`.
fn state_starts<W: fmt::Write + ?Sized>(w: &mut W, start: u64) -> fmt::Result {
    w.write_str("state starts at ")?;
    time(w, start)
}

/// Writes a unix time as `T (YYYY-MM-DDTHH:MM:SSZ)`.
fn time<W: fmt::Write + ?Sized>(w: &mut W, t: u64) -> fmt::Result {
    decimal(w, t)?;
    w.write_str(" (")?;
    let (year, month, day, secs) = civil(t);
    decimal_padded(w, year, 4)?;
    for (sep, n) in [
        ("-", u64::from(month)),
        ("-", u64::from(day)),
        ("T", secs / 3600),
        (":", secs / 60 % 60),
        (":", secs % 60),
    ] {
        w.write_str(sep)?;
        decimal_padded(w, n, 2)?;
    }
    w.write_str("Z)")
}

/// Writes `n` in decimal with at least `width` digits (zero-padded).
fn decimal_padded<W: fmt::Write + ?Sized>(w: &mut W, n: u64, width: u32) -> fmt::Result {
    let mut digits = 1;
    let mut rest = n / 10;
    while rest > 0 {
        digits += 1;
        rest /= 10;
    }
    for _ in digits..width {
        w.write_str("0")?;
    }
    decimal(w, n)
}

/// Writes a byte as two lowercase hex digits.
fn hex_byte<W: fmt::Write + ?Sized>(w: &mut W, b: u8) -> fmt::Result {
    const HEX: &str = "0123456789abcdef";
    for nibble in [b >> 4, b & 0xf] {
        let i = usize::from(nibble);
        w.write_str(HEX.get(i..=i).unwrap_or_default())?;
    }
    Ok(())
}

/// The decimal digits.
const DIGITS: &str = "0123456789";

/// Writes `n` in decimal, as `{n}` does.
fn decimal<W: fmt::Write + ?Sized>(w: &mut W, n: u64) -> fmt::Result {
    if n >= 10 {
        // At most 19 levels deep.
        decimal(w, n / 10)?;
    }
    let digit = usize::try_from(n % 10).ok().and_then(|i| DIGITS.get(i..=i));
    w.write_str(digit.unwrap_or_default())
}

/// Writes `lo..=hi`.
fn range<W: fmt::Write + ?Sized>(w: &mut W, lo: u64, hi: u64) -> fmt::Result {
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

impl fmt::Display for StateFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}
