//! The tree: root, children, root id, and the two hashes keyed by a leaf.

use crate::blake2b::{self, Params};

/// Depth of the tree: its leaves are the unix seconds `0 .. 2^40`.
pub const FS_DEPTH: u32 = 40;
/// One past the last second of the tree: `2^40` (about the year 36812).
pub const FS_END: u64 = 1 << FS_DEPTH;
/// Length in bytes of a forward-secure seed.
pub const FS_SEED_LEN: usize = 32;
/// Length in bytes of a tree node (and of a leaf).
pub const FS_NODE_LEN: usize = 32;
/// Length in bytes of a root id.
pub const FS_ROOT_ID_LEN: usize = 8;
/// BLAKE2b personalization of a forward-secure ticket label key (16 bytes, no padding).
pub const FS_LABEL_PERSONAL: &[u8; 16] = b"keywheel.fslabel";
/// BLAKE2b personalization of the intermediate key of a forward-secure TFO key.
pub const FS_TFO_PERSONAL: &[u8; 14] = b"keywheel.fstfo";

const ROOT_PERSONAL: &[u8] = b"keywheel.fsroot";
const LEFT_PERSONAL: &[u8] = b"keywheel.fs.L";
const RIGHT_PERSONAL: &[u8] = b"keywheel.fs.R";
const ID_PERSONAL: &[u8] = b"keywheel.fsid";

/// A node value.
pub(crate) type Node = [u8; FS_NODE_LEN];

/// `LE64(n) ‖ 0⁸`.
fn salt(n: u64) -> [u8; 16] {
    let mut salt = [0u8; 16];
    salt[..8].copy_from_slice(&n.to_le_bytes());
    salt
}

/// `BLAKE2b(key, salt = LE64(salt_n) ‖ 0⁸, personal, message)` into `out`, counted.
pub(crate) fn keyed(key: &Node, salt_n: u64, personal: &[u8], message: &[u8], out: &mut [u8]) {
    // The key block, then the message's blocks.
    count(1 + message.len().div_ceil(128));
    let params = Params {
        key: Some(key),
        salt: &salt(salt_n),
        personal: &blake2b::pad16(personal),
    };
    blake2b::hash(&params, message, out);
}

/// The root of the tree of `seed`.
pub(crate) fn root(seed: &[u8; FS_SEED_LEN], out: &mut Node) {
    keyed(seed, u64::from(FS_DEPTH), ROOT_PERSONAL, &[], out);
}

/// The left (`right == false`) or right child, at height `h`, of the node `parent` at `h + 1`.
#[inline]
pub(crate) fn child(parent: &Node, h: u32, right: bool, out: &mut Node) {
    let personal = if right { RIGHT_PERSONAL } else { LEFT_PERSONAL };
    keyed(parent, u64::from(h), personal, &[], out);
}

/// The public id of a root.
pub(crate) fn root_id(root: &Node) -> [u8; FS_ROOT_ID_LEN] {
    let mut id = [0u8; FS_ROOT_ID_LEN];
    keyed(root, 0, ID_PERSONAL, &[], &mut id);
    id
}

/// An unkeyed BLAKE2b of `message` (the state file's checksum), counted.
pub(crate) fn unkeyed(personal: &[u8], message: &[u8], out: &mut [u8]) {
    count(message.len().div_ceil(128).max(1));
    let params = Params {
        key: None,
        salt: &[0; 16],
        personal: &blake2b::pad16(personal),
    };
    blake2b::hash(&params, message, out);
}

#[cfg(test)]
extern crate std;

#[cfg(test)]
std::thread_local! {
    static COUNT: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

#[cfg(all(feature = "count-compressions", not(test)))]
static COUNT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Adds `n` BLAKE2b compressions to the count.
#[inline(always)]
#[allow(unused_variables)]
fn count(n: usize) {
    #[cfg(test)]
    COUNT.with(|c| c.set(c.get() + n as u64));
    #[cfg(all(feature = "count-compressions", not(test)))]
    {
        use core::sync::atomic::Ordering::Relaxed;
        // A plain load and store (no locked add): the count is read by one thread.
        COUNT.store(COUNT.load(Relaxed) + n as u64, Relaxed);
    }
}

/// The number of BLAKE2b compressions the forward-secure code has run (in tests: on this
/// thread). Only with the feature `count-compressions` (for benchmarks).
#[cfg(any(test, feature = "count-compressions"))]
pub fn compressions() -> u64 {
    #[cfg(test)]
    return COUNT.with(core::cell::Cell::get);
    #[cfg(all(feature = "count-compressions", not(test)))]
    return COUNT.load(core::sync::atomic::Ordering::Relaxed);
}
