//! The errors of forward-secure mode: a type of their own, so that the messages (and the
//! calendar arithmetic they need) are linked only into programs that use a [`State`].
//!
//! [`State`]: super::State

use core::fmt;

use super::file::{HEADER_LEN, STATE_FILE_VERSION};
use super::tree::{FS_DEPTH, FS_END, FS_SEED_LEN};
use crate::{Error, Utc};

/// Everything that can be wrong with an input of forward-secure mode. Each variant carries the
/// bad values so that its message can name them; times in messages are unix seconds followed
/// by the UTC date in ISO 8601.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// A seed is not exactly [`FS_SEED_LEN`] bytes.
    SeedLength {
        /// How many bytes were given.
        len: usize,
    },
    /// A time is past the last second of the tree (`FS_END - 1`).
    TreeTime {
        /// The unix time, in seconds, that was given.
        value: u64,
    },
    /// A state cannot be advanced backwards.
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
    /// A key's interval starts past the last second of the tree.
    KeyTime {
        /// The key's counter.
        counter: u64,
        /// The key's interval, in seconds.
        interval: u64,
    },
    /// A state file is malformed.
    StateFile(StateFileError),
    /// An input shared with main-key mode is wrong (a label, an interval, a time, a buffer).
    Input(Error),
}

impl From<Error> for StateError {
    fn from(e: Error) -> Self {
        StateError::Input(e)
    }
}

/// What is wrong with a state file (see [`StateError::StateFile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateFileError {
    /// The first bytes are not `"KWFS"` (checked on the bytes present).
    Magic {
        /// The first four bytes (zero-padded when the file is shorter).
        found: [u8; 4],
    },
    /// The file ends before its 25-byte header does.
    TruncatedHeader {
        /// The file's length.
        len: usize,
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
    /// A start at or past `FS_END`.
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

impl StateError {
    /// Writes the error's message — the same text as its `Display` — to `w`, piece by piece,
    /// without `core::fmt`'s formatting machinery.
    ///
    /// # Errors
    /// When `w` fails.
    pub fn write_message<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match *self {
            StateError::SeedLength { len } => {
                w.write_str("seed is ")?;
                decimal(w, len as u64)?;
                w.write_str(" bytes; it must be exactly ")?;
                decimal(w, FS_SEED_LEN as u64)?;
                w.write_str(" bytes")
            }
            StateError::TreeTime { value } => {
                w.write_str("time ")?;
                decimal(w, value)?;
                w.write_str(" is past the forward-secure tree; it must be in ")?;
                range(w, 0, FS_END - 1)
            }
            StateError::Backwards { start, to } => {
                state_starts(w, start)?;
                w.write_str("; it cannot go back to ")?;
                time(w, to)
            }
            StateError::Punctured { start, time: t } => {
                state_starts(w, start)?;
                w.write_str("; second ")?;
                time(w, t)?;
                w.write_str(" is before it: it was punctured")
            }
            StateError::KeyPunctured {
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
            StateError::KeyTime { counter, interval } => {
                w.write_str("the key for counter ")?;
                decimal(w, counter)?;
                w.write_str(" (interval ")?;
                decimal(w, interval)?;
                w.write_str(
                    ") starts past the forward-secure tree; counter * interval must be in ",
                )?;
                range(w, 0, FS_END - 1)
            }
            StateError::StateFile(problem) => {
                w.write_str("state file: ")?;
                problem.write_message(w)
            }
            StateError::Input(e) => e.write_message(w),
        }
    }
}

impl StateFileError {
    /// Writes the problem's message (without the `"state file: "` prefix of
    /// [`StateError`]'s).
    ///
    /// # Errors
    /// When `w` fails.
    pub fn write_message<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match *self {
            StateFileError::Magic { found } => {
                w.write_str("bad magic ")?;
                for b in found {
                    hex_byte(w, b)?;
                }
                w.write_str(": not a keywheel state file (it must start with \"KWFS\", 4b574653)")
            }
            StateFileError::TruncatedHeader { len } => {
                w.write_str("truncated: ")?;
                decimal(w, len as u64)?;
                w.write_str(" bytes, shorter than the ")?;
                decimal(w, HEADER_LEN as u64)?;
                w.write_str("-byte header")
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
    write!(w, "{t} ({})", Utc::new(t))
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

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

impl core::error::Error for StateError {}

impl fmt::Display for StateFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }
}

/// Writes `n` in decimal.
fn decimal<W: fmt::Write + ?Sized>(w: &mut W, n: u64) -> fmt::Result {
    write!(w, "{n}")
}

/// Writes `lo..=hi`.
fn range<W: fmt::Write + ?Sized>(w: &mut W, lo: u64, hi: u64) -> fmt::Result {
    write!(w, "{lo}..={hi}")
}
