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

mod error;
mod file;
mod state;
mod tree;

pub use error::{StateError, StateFileError};
pub use file::{STATE_FILE_MAGIC, STATE_FILE_MAX_LEN, STATE_FILE_VERSION, state_file_len};
pub use state::{Leaf, State, cover_len};
pub use tree::{
    FS_DEPTH, FS_END, FS_LABEL_PERSONAL, FS_NODE_LEN, FS_ROOT_ID_LEN, FS_SEED_LEN, FS_TFO_PERSONAL,
};

#[cfg(feature = "count-compressions")]
pub use tree::compressions;

/// How many bytes of stack [`scrub_stack`] overwrites.
pub const STACK_SCRUB_LEN: usize = 64 * 1024;

/// Overwrites [`STACK_SCRUB_LEN`] bytes of the stack below the caller with zeros, so that node
/// values, leaves and keys that the functions of this mode computed or moved there (BLAKE2b
/// states, temporaries, by-value moves of a [`State`]) do not stay in memory after they
/// returned. Values in zeroize-on-drop types are wiped where they end up; this catches the
/// copies on the way. Bindings call it from a shallow frame after each forward-secure call.
#[inline(never)]
pub fn scrub_stack() {
    let mut area = [0u8; STACK_SCRUB_LEN];
    zeroize::Zeroize::zeroize(&mut area[..]);
    core::hint::black_box(&area);
}

#[cfg(test)]
mod tests;
