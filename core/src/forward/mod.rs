//! Forward-secure mode: a GGM tree over the unix seconds `0 .. 2^40`, whose leaves key the
//! ticket and TFO keys of each interval, and a [`State`] that holds only the nodes covering the
//! seconds from its start on — so that nothing it holds derives a key of an earlier interval.
//!
//! The construction (FORWARD_SECRECY.md, SPEC.md section "Forward-secure mode"):
//!
//! - root `R = BLAKE2b(key = seed, salt = LE64(40) ‖ 0⁸, personal = "keywheel.fsroot")`;
//! - children of node `(h + 1, p)` with value `v`: `(h, 2p)` and `(h, 2p + 1)` are
//!   `BLAKE2b(key = v, salt = LE64(h) ‖ 0⁸, personal = "keywheel.fs.L" / "keywheel.fs.R")`;
//! - root id `BLAKE2b(key = R, personal = "keywheel.fsid", 8 bytes)`;
//! - a state at `s0` holds the canonical cover of `[s0, 2^40)`.

mod file;
mod state;
mod tree;

pub(crate) use file::HEADER_LEN;
pub use file::{STATE_FILE_MAGIC, STATE_FILE_MAX_LEN, STATE_FILE_VERSION, state_file_len};
pub use state::{Leaf, State, cover_len};
pub use tree::{
    FS_DEPTH, FS_END, FS_LABEL_PERSONAL, FS_NODE_LEN, FS_ROOT_ID_LEN, FS_SEED_LEN, FS_TFO_PERSONAL,
};

#[cfg(feature = "count-compressions")]
pub use tree::compressions;

/// The civil (proleptic Gregorian, UTC) date of unix time `t`: (year, month 1..=12,
/// day 1..=31, seconds into the day). Howard Hinnant's `civil_from_days`, for days ≥ 0.
pub(crate) const fn civil(t: u64) -> (u64, u8, u8, u64) {
    let z = t / 86_400 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    // day <= 31 and month <= 12.
    #[allow(clippy::cast_possible_truncation)]
    (year, month as u8, day as u8, t % 86_400)
}

#[cfg(test)]
mod tests;
