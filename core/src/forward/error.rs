//! The errors of forward-secure mode ([`super::State`] and its file).

use core::fmt;

use super::file::{HEADER_LEN, STATE_FILE_VERSION};
use super::tree::{FS_DEPTH, FS_END, FS_SEED_LEN};
use crate::Error;
use crate::error::UnixTime;

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
    /// A state file is malformed.
    StateFile(StateFileError),
    /// An input shared with main-key mode is wrong (a label, an interval, a time, a buffer),
    /// or a key cannot be derived ([`Error::KeyPunctured`], [`Error::KeyTime`]: the errors that
    /// [`crate::TicketKeys`] built from a state gives too).
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

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StateError::SeedLength { len } => {
                write!(
                    f,
                    "seed is {len} bytes; it must be exactly {FS_SEED_LEN} bytes"
                )
            }
            StateError::TreeTime { value } => write!(
                f,
                "time {value} is past the forward-secure tree; it must be in 0..={}",
                FS_END - 1
            ),
            StateError::Backwards { start, to } => write!(
                f,
                "state starts at {}; it cannot go back to {}",
                UnixTime(start),
                UnixTime(to)
            ),
            StateError::Punctured { start, time } => write!(
                f,
                "state starts at {}; second {} is before it: it was punctured",
                UnixTime(start),
                UnixTime(time)
            ),
            StateError::StateFile(problem) => write!(f, "state file: {problem}"),
            StateError::Input(e) => fmt::Display::fmt(&e, f),
        }
    }
}

impl core::error::Error for StateError {}

impl fmt::Display for StateFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StateFileError::Magic { found } => {
                f.write_str("bad magic ")?;
                for b in found {
                    write!(f, "{b:02x}")?;
                }
                f.write_str(": not a keywheel state file (it must start with \"KWFS\", 4b574653)")
            }
            StateFileError::TruncatedHeader { len } => write!(
                f,
                "truncated: {len} bytes, shorter than the {HEADER_LEN}-byte header"
            ),
            StateFileError::Version { value } => write!(
                f,
                "version {value} is not supported; it must be {STATE_FILE_VERSION}"
            ),
            StateFileError::Depth { value } => {
                write!(f, "depth {value} is not supported; it must be {FS_DEPTH}")
            }
            StateFileError::Flags { value } => {
                write!(f, "flags 0x{value:04x} are not supported; they must be 0")
            }
            StateFileError::Start { value } => write!(
                f,
                "start {value} is out of range; it must be in 0..={}",
                FS_END - 1
            ),
            StateFileError::NodeCount {
                count,
                start,
                expected,
            } => write!(
                f,
                "node count {count} is wrong: a state starting at {start} has exactly \
                 {expected} nodes"
            ),
            StateFileError::Truncated { len, expected } => write!(
                f,
                "truncated: {len} bytes; its header announces {expected} bytes"
            ),
            StateFileError::Trailing { len, expected } => write!(
                f,
                "trailing bytes: {len} bytes; its header announces {expected} bytes"
            ),
            StateFileError::Checksum => f.write_str("checksum mismatch: the file is corrupt"),
        }
    }
}
