//! The state file, version 1: `"KWFS"` ‖ version 1 ‖ depth 40 ‖ LE16 flags 0 ‖ root id (8) ‖
//! LE64 s0 ‖ u8 n ‖ n node values (32 bytes each, cover order) ‖ checksum (16) =
//! `BLAKE2b(unkeyed, personal = "keywheel.fsck", 16 bytes)` of everything before it.

use super::error::{StateError, StateFileError};
use super::state::{State, cover_len};
use super::tree::{self, FS_DEPTH, FS_END, FS_NODE_LEN, FS_ROOT_ID_LEN};
use crate::Error;

/// The first four bytes of a state file.
pub const STATE_FILE_MAGIC: &[u8; 4] = b"KWFS";
/// The version this crate writes and reads.
pub const STATE_FILE_VERSION: u8 = 1;
/// The length of a state file of 40 nodes, the longest.
pub const STATE_FILE_MAX_LEN: usize = state_file_len(FS_DEPTH as usize);

/// Bytes before the first node: magic, version, depth, flags, root id, s0, n.
pub(crate) const HEADER_LEN: usize = 4 + 1 + 1 + 2 + FS_ROOT_ID_LEN + 8 + 1;
const CHECKSUM_LEN: usize = 16;
const CHECKSUM_PERSONAL: &[u8] = b"keywheel.fsck";

/// The length of a state file of `n` nodes: `41 + 32·n`.
pub const fn state_file_len(n: usize) -> usize {
    HEADER_LEN + FS_NODE_LEN * n + CHECKSUM_LEN
}

fn bad(problem: StateFileError) -> StateError {
    StateError::StateFile(problem)
}

impl State {
    /// The length of this state's file ([`state_file_len`] of its node count).
    pub const fn file_len(&self) -> usize {
        state_file_len(self.node_count())
    }

    /// Writes the state file (version 1) into the start of `out` and returns its length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `out` is shorter than [`State::file_len`]; `out` is then
    /// untouched.
    pub fn to_bytes(&self, out: &mut [u8]) -> Result<usize, Error> {
        let len = self.file_len();
        let Some(file) = out.get_mut(..len) else {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                needed: len,
            });
        };
        let (body, checksum) = file.split_at_mut(len - CHECKSUM_LEN);
        let (header, nodes) = body.split_at_mut(HEADER_LEN);
        header[..4].copy_from_slice(STATE_FILE_MAGIC);
        header[4] = STATE_FILE_VERSION;
        #[allow(clippy::cast_possible_truncation)] // 40
        {
            header[5] = FS_DEPTH as u8;
        }
        header[6..8].copy_from_slice(&0u16.to_le_bytes());
        header[8..16].copy_from_slice(&self.root_id());
        header[16..24].copy_from_slice(&self.s0().to_le_bytes());
        #[allow(clippy::cast_possible_truncation)] // at most 40
        {
            header[24] = self.node_count() as u8;
        }
        for (chunk, value) in nodes.chunks_exact_mut(FS_NODE_LEN).zip(self.values()) {
            chunk.copy_from_slice(value);
        }
        tree::unkeyed(CHECKSUM_PERSONAL, body, checksum);
        Ok(len)
    }

    /// Reads a state file (version 1), strictly: the whole of `bytes` must be one file.
    ///
    /// # Errors
    /// [`StateError::StateFile`] naming the first problem found, in file order: the header is
    /// truncated, a wrong magic, version, depth or flags, a start not below 2^40, a node count
    /// other than the cover size of the start, the file shorter or longer than its header
    /// announces, a checksum mismatch.
    pub fn from_bytes(bytes: &[u8]) -> Result<State, StateError> {
        let len = bytes.len();
        // The magic first, even on a short file: a file that is not a state file says so.
        let mut found = [0u8; 4];
        for (f, b) in found.iter_mut().zip(bytes) {
            *f = *b;
        }
        if found[..len.min(4)] != STATE_FILE_MAGIC[..len.min(4)] {
            return Err(bad(StateFileError::Magic { found }));
        }
        let Some(header) = bytes.get(..HEADER_LEN) else {
            return Err(bad(StateFileError::TruncatedHeader { len }));
        };
        if header[4] != STATE_FILE_VERSION {
            return Err(bad(StateFileError::Version { value: header[4] }));
        }
        if u32::from(header[5]) != FS_DEPTH {
            return Err(bad(StateFileError::Depth { value: header[5] }));
        }
        let flags = u16::from_le_bytes([header[6], header[7]]);
        if flags != 0 {
            return Err(bad(StateFileError::Flags { value: flags }));
        }
        let mut root_id = [0u8; FS_ROOT_ID_LEN];
        root_id.copy_from_slice(&header[8..16]);
        let mut s0 = [0u8; 8];
        s0.copy_from_slice(&header[16..24]);
        let s0 = u64::from_le_bytes(s0);
        if s0 >= FS_END {
            return Err(bad(StateFileError::Start { value: s0 }));
        }
        let count = header[24];
        let expected_count = cover_len(s0);
        if usize::from(count) != expected_count {
            return Err(bad(StateFileError::NodeCount {
                count,
                start: s0,
                expected: expected_count,
            }));
        }
        let expected = state_file_len(expected_count);
        if len < expected {
            return Err(bad(StateFileError::Truncated { len, expected }));
        }
        if len > expected {
            return Err(bad(StateFileError::Trailing { len, expected }));
        }
        let (body, checksum) = bytes.split_at(expected - CHECKSUM_LEN);
        let mut computed = [0u8; CHECKSUM_LEN];
        tree::unkeyed(CHECKSUM_PERSONAL, body, &mut computed);
        if computed[..] != *checksum {
            return Err(bad(StateFileError::Checksum));
        }
        let mut state = State::empty(s0, root_id);
        // Stack order is the reverse of cover order; heights follow from s0.
        let heights = cover_heights(s0);
        for i in (0..expected_count).rev() {
            let start = HEADER_LEN + FS_NODE_LEN * i;
            state.push(heights[i], &body[start..start + FS_NODE_LEN]);
        }
        Ok(state)
    }
}

/// The heights of the canonical cover of `[s0, 2^40)`, in cover order (entries past
/// [`cover_len`] are 0).
fn cover_heights(s0: u64) -> [u32; FS_DEPTH as usize] {
    let mut heights = [0u32; FS_DEPTH as usize];
    if s0 == 0 {
        heights[0] = FS_DEPTH;
        return heights;
    }
    let j = s0.trailing_zeros();
    heights[0] = j;
    let mut n = 1;
    for h in j + 1..FS_DEPTH {
        if (s0 >> h) & 1 == 0 {
            heights[n] = h;
            n += 1;
        }
    }
    heights
}
