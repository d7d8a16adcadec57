//! The state: the canonical cover of `[s0, 2^40)`, its advance, and the leaves and keys it
//! derives.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::tree::{self, FS_DEPTH, FS_END, FS_NODE_LEN, FS_ROOT_ID_LEN, FS_SEED_LEN, Node};
use super::{FS_LABEL_PERSONAL, FS_TFO_PERSONAL, StateError};
use crate::schedule::Schedule;
use crate::{
    Error, LabelKey, MAX_INTERVAL, MIN_INTERVAL, MainKey, Strength, TFO_CONTEXT, TFO_KEY_LEN,
    TfoKeys, TicketKey, derive_key,
};

/// Most nodes a state holds (the cover of `s0 = 1`).
const MAX_NODES: usize = FS_DEPTH as usize;

/// The number of nodes of the canonical cover of `[s0, 2^40)`: 1 for `s0 = 0`, else
/// `41 − tz(s0) − popcount(s0)` (the node `(tz(s0), s0 >> tz(s0))` and one per zero bit of `s0`
/// above its lowest one bit, below bit 40). `s0` must be below [`FS_END`]; larger values give
/// the count of `s0 mod 2^40`.
pub const fn cover_len(s0: u64) -> usize {
    let s0 = s0 & (FS_END - 1);
    if s0 == 0 {
        1
    } else {
        (41 - s0.trailing_zeros() - s0.count_ones()) as usize
    }
}

/// A forward-secure state: the tree nodes that cover the unix seconds from its start `s0` to
/// the end of the tree, and nothing that derives an earlier second.
///
/// At most 40 nodes in fixed-size arrays (no allocation). Wiped on drop, cannot be cloned or
/// copied (a copy would be a second place to wipe), and its `Debug` shows the start, the node
/// count and the public root id only.
///
/// ```compile_fail
/// fn copy(state: &keywheel::State) -> keywheel::State {
///     state.clone() // a State has no Clone
/// }
/// ```
#[derive(ZeroizeOnDrop)]
pub struct State {
    /// The cover as a stack: `nodes[len - 1]` is the first node (the lowest seconds),
    /// `nodes[0]` the last. Entries from `len` on are zero.
    nodes: [Node; MAX_NODES],
    /// The height of each node of `nodes`.
    #[zeroize(skip)]
    heights: [u8; MAX_NODES],
    #[zeroize(skip)]
    len: usize,
    #[zeroize(skip)]
    s0: u64,
    #[zeroize(skip)]
    root_id: [u8; FS_ROOT_ID_LEN],
}

/// One leaf of the tree: the 32-byte key of one second. Wiped on drop; `Debug` shows no byte.
#[derive(ZeroizeOnDrop)]
pub struct Leaf(Node);

impl Leaf {
    /// The leaf's bytes.
    pub fn bytes(&self) -> &[u8; FS_NODE_LEN] {
        &self.0
    }
}

impl fmt::Debug for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Leaf(..)")
    }
}

/// Checks that `interval` is even and in `MIN_INTERVAL..=MAX_INTERVAL`.
const fn check_interval(interval: u64) -> Result<(), Error> {
    if interval < MIN_INTERVAL || interval > MAX_INTERVAL || interval % 2 != 0 {
        return Err(Error::Interval { value: interval });
    }
    Ok(())
}

impl State {
    /// The state at `s0` of the tree of `seed` (exactly [`FS_SEED_LEN`] bytes): the root, then
    /// advanced to `s0`. At most 81 BLAKE2b compressions.
    ///
    /// # Errors
    /// [`StateError::SeedLength`] when `seed` is not 32 bytes; [`StateError::TreeTime`] when `s0` is not
    /// below [`FS_END`].
    pub fn new(seed: &[u8], s0: u64) -> Result<Self, StateError> {
        let Ok(seed) = <&[u8; FS_SEED_LEN]>::try_from(seed) else {
            return Err(StateError::SeedLength { len: seed.len() });
        };
        if s0 >= FS_END {
            return Err(StateError::TreeTime { value: s0 });
        }
        let mut state = State::empty(0, [0; FS_ROOT_ID_LEN]);
        tree::root(seed, &mut state.nodes[0]);
        state.heights[0] = 40;
        state.len = 1;
        state.root_id = tree::root_id(&state.nodes[0]);
        state.advance(s0)?;
        Ok(state)
    }

    /// A state with no node (filled by the caller).
    pub(crate) const fn empty(s0: u64, root_id: [u8; FS_ROOT_ID_LEN]) -> Self {
        State {
            nodes: [[0; FS_NODE_LEN]; MAX_NODES],
            heights: [0; MAX_NODES],
            len: 0,
            s0,
            root_id,
        }
    }

    /// The start: the first second whose leaf this state derives.
    pub const fn s0(&self) -> u64 {
        self.s0
    }

    /// The public id of the tree's root: equal on every node of one seed.
    pub const fn root_id(&self) -> [u8; FS_ROOT_ID_LEN] {
        self.root_id
    }

    /// The number of nodes held ([`cover_len`]`(s0)`, 1..=40).
    pub const fn node_count(&self) -> usize {
        self.len
    }

    /// The nodes held, as `(height, position)` in cover order (lowest seconds first): node
    /// `(h, p)` covers the seconds `p·2^h .. (p+1)·2^h`. Public information, no secret.
    pub fn cover(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        (0..self.len).rev().map(|i| self.position(i))
    }

    /// `(height, position)` of stack entry `i`: the top one (`len - 1`) is `(j, s0 >> j)`, the
    /// others `(h, (s0 >> h) + 1)`.
    fn position(&self, i: usize) -> (u32, u64) {
        let h = u32::from(self.heights[i]);
        let first = i + 1 == self.len;
        (h, (self.s0 >> h) + u64::from(!first))
    }

    /// Whether every slot past the cover is zero (the nodes an advance replaced were wiped).
    #[cfg(test)]
    pub(crate) fn unused_slots_are_zero(&self) -> bool {
        self.nodes[self.len..]
            .iter()
            .all(|n| n.iter().all(|&b| b == 0))
    }

    /// The node values in cover order (for the state file).
    pub(crate) fn values(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes[..self.len].iter().rev()
    }

    /// Pushes a node read from a state file (in cover order: the caller pushes them last
    /// first) with height `h`.
    pub(crate) fn push(&mut self, h: u32, value: &[u8]) {
        if let Some(slot) = self.nodes.get_mut(self.len) {
            slot.copy_from_slice(value);
            #[allow(clippy::cast_possible_truncation)] // h <= 40
            {
                self.heights[self.len] = h as u8;
            }
            self.len += 1;
        }
    }

    /// Moves the start forward to `s1`: afterwards the state is exactly the canonical cover of
    /// `[s1, 2^40)` (as [`State::new`] at `s1` would make it), and every node it replaced is
    /// wiped. At most 79 BLAKE2b compressions. `s1 == s0` changes nothing.
    ///
    /// # Errors
    /// [`StateError::Backwards`] when `s1 < s0`, [`StateError::TreeTime`] when `s1` is not below
    /// [`FS_END`]; the state is then unchanged.
    pub fn advance(&mut self, s1: u64) -> Result<(), StateError> {
        if s1 >= FS_END {
            return Err(StateError::TreeTime { value: s1 });
        }
        if s1 < self.s0 {
            return Err(StateError::Backwards {
                start: self.s0,
                to: s1,
            });
        }
        if s1 == self.s0 {
            return Ok(());
        }
        // Drop the nodes entirely before s1 (the cover is ordered: they are on top).
        let mut top = self.len;
        let (mut h, mut bufs) = loop {
            let Some(i) = top.checked_sub(1) else {
                // Unreachable: the cover holds every second from s0 to 2^40 - 1.
                return Err(StateError::TreeTime { value: s1 });
            };
            let (h, p) = self.position(i);
            if s1 >> h == p {
                // Take the node holding s1 out of the stack.
                let mut bufs = Zeroizing::new([[0u8; FS_NODE_LEN]; 2]);
                bufs[0] = self.nodes[i];
                for node in &mut self.nodes[i..self.len] {
                    node.zeroize();
                }
                self.len = i;
                break (h, bufs);
            }
            top = i;
        };
        // Walk down to (tz(s1), s1 >> tz(s1)), pushing the right siblings met on the way.
        let mut cur = 0;
        while h > 0 && s1 & ((1u64 << h) - 1) != 0 {
            h -= 1;
            let (a, b) = bufs.split_at_mut(1);
            let (from, to) = if cur == 0 {
                (&a[0], &mut b[0])
            } else {
                (&b[0], &mut a[0])
            };
            if (s1 >> h) & 1 == 0 {
                // s1 is in the left child: keep the right one.
                tree::child(from, h, true, &mut self.nodes[self.len]);
                #[allow(clippy::cast_possible_truncation)] // h < 40
                {
                    self.heights[self.len] = h as u8;
                }
                self.len += 1;
                tree::child(from, h, false, to);
            } else {
                tree::child(from, h, true, to);
            }
            cur = 1 - cur;
        }
        self.nodes[self.len] = bufs[cur];
        #[allow(clippy::cast_possible_truncation)] // h <= 40
        {
            self.heights[self.len] = h as u8;
        }
        self.len += 1;
        self.s0 = s1;
        Ok(())
    }

    /// The leaf of second `s` (at most 40 BLAKE2b compressions: the height of the node that
    /// holds `s`).
    ///
    /// # Errors
    /// [`StateError::TreeTime`] when `s` is not below [`FS_END`], [`StateError::Punctured`] when it is
    /// before the start.
    pub fn leaf(&self, s: u64) -> Result<Leaf, StateError> {
        if s >= FS_END {
            return Err(StateError::TreeTime { value: s });
        }
        if s < self.s0 {
            return Err(StateError::Punctured {
                start: self.s0,
                time: s,
            });
        }
        Ok(self.leaf_from(s))
    }

    /// The leaf of second `s`, which must be in `s0 .. FS_END`.
    fn leaf_from(&self, s: u64) -> Leaf {
        let mut bufs = Zeroizing::new([[0u8; FS_NODE_LEN]; 2]);
        let mut h = 0;
        for i in (0..self.len).rev() {
            let (hi, p) = self.position(i);
            if s >> hi == p {
                bufs[0] = self.nodes[i];
                h = hi;
                break;
            }
        }
        let mut cur = 0;
        while h > 0 {
            h -= 1;
            let (a, b) = bufs.split_at_mut(1);
            let (from, to) = if cur == 0 {
                (&a[0], &mut b[0])
            } else {
                (&b[0], &mut a[0])
            };
            tree::child(from, h, (s >> h) & 1 == 1, to);
            cur = 1 - cur;
        }
        Leaf(bufs[cur])
    }

    /// The start of the interval `counter` of `interval` seconds, checked: the interval is
    /// valid and the state derives its leaf.
    pub(crate) fn key_start(&self, interval: u64, counter: u64) -> Result<u64, Error> {
        check_interval(interval)?;
        let start = match counter.checked_mul(interval) {
            Some(s) if s < FS_END => s,
            _ => return Err(Error::KeyTime { counter, interval }),
        };
        if start < self.s0 {
            return Err(Error::KeyPunctured {
                start: self.s0,
                counter,
                interval,
            });
        }
        Ok(start)
    }

    /// The leaf of the interval `counter` of `interval` seconds: `leaf(counter * interval)`.
    fn interval_leaf(&self, interval: u64, counter: u64) -> Result<Leaf, Error> {
        let start = self.key_start(interval, counter)?;
        Ok(self.leaf_from(start))
    }

    /// The forward-secure label key (see [`State::label_key`]) with the errors of the inputs.
    pub(crate) fn fs_label_key(
        &self,
        label: &[u8],
        interval: u64,
        counter: u64,
    ) -> Result<LabelKey, Error> {
        LabelKey::check_label(label)?;
        let leaf = self.interval_leaf(interval, counter)?;
        LabelKey::derived(label, |out| {
            tree::keyed(leaf.bytes(), interval, FS_LABEL_PERSONAL, label, out);
        })
    }

    /// A second copy of this state, for an owner that punctures it on its own schedule
    /// ([`crate::TicketKeys`]). Wiped on drop like any state.
    pub(crate) fn copy(&self) -> State {
        State {
            nodes: self.nodes,
            heights: self.heights,
            len: self.len,
            s0: self.s0,
            root_id: self.root_id,
        }
    }

    /// The forward-secure label key of `label` for the key of interval `counter` (of
    /// `interval` seconds): `BLAKE2b(key = leaf(counter · interval), salt = LE64(interval) ‖ 0⁸,
    /// personal = "keywheel.fslabel", message = label)`.
    ///
    /// It is the key of that one counter only: its [`LabelKey::ticket_key`]`(strength,
    /// counter)` is the forward-secure ticket key of `counter` (names and keys as in main-key
    /// mode, so every server format reads them unchanged); its keys of other counters are not
    /// keys of this mode.
    ///
    /// # Errors
    /// [`StateError::Input`] with [`Error::LabelLength`] or [`Error::Interval`] (even,
    /// 10..=604800), [`Error::KeyTime`] when the interval starts past the tree,
    /// [`Error::KeyPunctured`] when it starts before `s0`.
    pub fn label_key(
        &self,
        label: &str,
        interval: u64,
        counter: u64,
    ) -> Result<LabelKey, StateError> {
        Ok(self.fs_label_key(label.as_bytes(), interval, counter)?)
    }

    /// The forward-secure ticket key of `label` for interval `counter`:
    /// `label_key(label, interval, counter)?.ticket_key(strength, counter)`.
    ///
    /// # Errors
    /// As [`State::label_key`].
    pub fn ticket_key(
        &self,
        label: &str,
        interval: u64,
        strength: Strength,
        counter: u64,
    ) -> Result<TicketKey, StateError> {
        Ok(self
            .label_key(label, interval, counter)?
            .ticket_key(strength, counter))
    }

    /// The forward-secure TCP Fast Open key of interval `counter` (of `interval` seconds) into
    /// `out`: `derive_key(BLAKE2b(key = leaf(counter · interval), salt = LE64(interval) ‖ 0⁸,
    /// personal = "keywheel.fstfo"), "tofurkey", counter, 16)`. Not tofurkey's key.
    ///
    /// # Errors
    /// [`StateError::Input`] with [`Error::Interval`], [`Error::KeyTime`],
    /// [`Error::KeyPunctured`]; `out` is then untouched.
    pub fn tfo_key(
        &self,
        interval: u64,
        counter: u64,
        out: &mut [u8; TFO_KEY_LEN],
    ) -> Result<(), StateError> {
        let leaf = self.interval_leaf(interval, counter)?;
        let mut key = Zeroizing::new([0u8; FS_NODE_LEN]);
        tree::keyed(leaf.bytes(), interval, FS_TFO_PERSONAL, &[], &mut key[..]);
        Ok(derive_key(
            &MainKey::from_array(&key),
            &TFO_CONTEXT,
            counter,
            out,
        )?)
    }

    /// The forward-secure TFO keys to install at unix time `now` (the primary and backup
    /// counters of `schedule.at(now)`).
    ///
    /// # Errors
    /// [`StateError::Input`] with [`Error::Time`] when `now` is out of range; as
    /// [`State::tfo_key`] for either counter.
    pub fn tfo_keys(&self, schedule: &Schedule, now: u64) -> Result<TfoKeys, StateError> {
        let slot = schedule.at(now)?;
        let mut primary = Zeroizing::new([0u8; TFO_KEY_LEN]);
        let mut backup = Zeroizing::new([0u8; TFO_KEY_LEN]);
        self.tfo_key(schedule.interval(), slot.primary(), &mut primary)?;
        self.tfo_key(schedule.interval(), slot.backup(), &mut backup)?;
        Ok(TfoKeys::from_keys(&primary, &backup))
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("State { s0: ")?;
        fmt::Display::fmt(&self.s0, f)?;
        f.write_str(", nodes: ")?;
        fmt::Display::fmt(&self.len, f)?;
        f.write_str(", root_id: ")?;
        for b in self.root_id {
            write!(f, "{b:02x}")?;
        }
        f.write_str(", .. }")
    }
}
