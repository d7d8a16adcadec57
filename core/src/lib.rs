#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;

mod blake2b;
mod error;
mod fingerprint;
mod format;
mod forward;
mod go_seed;
mod kdf;
#[cfg(feature = "std")]
mod key_file;
mod main_key;
pub mod schedule;
mod tfo;
pub mod ticket;
mod ticket_keys;
mod utc;

pub use error::Error;
pub use fingerprint::{
    FINGERPRINT_LEN, MAIN_FINGERPRINT_PERSONAL, TFO_FINGERPRINT_PERSONAL, tfo_key_fingerprint,
};
pub use format::{Encoding, FORMATS, Files, Format, Window};
// Forward-secure mode (SPEC.md section 6).
#[cfg(feature = "count-compressions")]
pub use forward::compressions;
pub use forward::{
    FS_DEPTH, FS_END, FS_LABEL_PERSONAL, FS_NODE_LEN, FS_ROOT_ID_LEN, FS_SEED_LEN, FS_TFO_PERSONAL,
    Leaf, STACK_SCRUB_LEN, STATE_FILE_MAGIC, STATE_FILE_MAX_LEN, STATE_FILE_VERSION, State,
    StateError, StateFileError, cover_len, scrub_stack, state_file_len,
};
pub use go_seed::{GO_SEED_CONTEXT, GO_SEED_LEN, GoSeed, GoSeeds};
pub use kdf::derive_key;
#[cfg(feature = "std")]
pub use key_file::{KeyFileError, KeyFileMode, StateFileLoadError, strerror};
pub use main_key::MainKey;
pub use tfo::{ProcfsText, TFO_CONTEXT, TFO_KEY_LEN, TFO_PROCFS_TEXT_LEN, TfoKeys, tfo_keys};
pub use ticket::{
    LABEL_PERSONAL, LabelKey, Layout, Lookup, MAX_LABEL_LEN, MAX_TICKET_AGE, Role, Strength,
    TICKET_NAME_LEN, TicketKey,
};
pub use ticket_keys::TicketKeys;
pub use utc::Utc;

pub use schedule::{Schedule, Slot};
pub use ticket::{TicketSchedule, TicketSlot};

/// Length in bytes of the main key.
pub const MAIN_KEY_LEN: usize = 32;
/// Longest output a rendering may have: `isize::MAX` bytes, the most any buffer (a Rust slice,
/// a C object) can hold; [`TicketKeys::rollover_len`] refuses longer.
pub const MAX_OUTPUT_LEN: usize = usize::MAX >> 1;
/// Length in bytes of a KDF context.
pub const CONTEXT_LEN: usize = 8;
/// Shortest derived key, in bytes.
pub const DERIVE_MIN_LEN: usize = 16;
/// Longest derived key, in bytes.
pub const DERIVE_MAX_LEN: usize = 64;
/// Shortest rotation interval, in seconds.
pub const MIN_INTERVAL: u64 = 10;
/// Longest rotation interval, in seconds (7 days).
pub const MAX_INTERVAL: u64 = 604_800;
/// Default TFO rotation interval, in seconds (1 day), as tofurkey.
pub const DEFAULT_INTERVAL: u64 = 86_400;
/// Earliest unix time accepted (about 1970-01-12).
pub const MIN_TIME: u64 = 1_000_000;
/// Latest unix time accepted (about 5138-11-16).
pub const MAX_TIME: u64 = 100_000_000_000;
/// Whole seconds a daemon waits after a half-interval boundary before it wakes.
pub const WAKE_FUDGE_SECS: u64 = 2;
/// Extra nanoseconds a daemon waits after a half-interval boundary (2.02 s in all).
pub const WAKE_FUDGE_NANOS: u32 = 20_000_000;
