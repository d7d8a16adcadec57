//! The long-term main secret shared by every node of a cluster.

use core::fmt;

use zeroize::ZeroizeOnDrop;

use crate::{Error, MAIN_KEY_LEN};

/// The cluster's long-term main secret: exactly [`MAIN_KEY_LEN`] bytes.
///
/// It is wiped when dropped, cannot be cloned or copied, and its `Debug` output is
/// `MainKey(..)`: no key byte is ever printed.
#[derive(ZeroizeOnDrop)]
pub struct MainKey([u8; MAIN_KEY_LEN]);

impl MainKey {
    /// Builds a main key from the first [`MAIN_KEY_LEN`] bytes of `material`, as tofurkey does
    /// with its key file: longer material is accepted and the rest ignored.
    ///
    /// # Errors
    /// [`Error::MainKeyTooShort`] when `material` has fewer than [`MAIN_KEY_LEN`] bytes,
    /// [`Error::MainKeyZero`] when its first [`MAIN_KEY_LEN`] bytes are all zero (a file of
    /// zeros is never a secret: it is refused rather than used).
    pub fn from_bytes(material: &[u8]) -> Result<Self, Error> {
        match material.get(..MAIN_KEY_LEN) {
            // Every byte is looked at (no early exit on the first non-zero one).
            Some(head) if head.iter().fold(0u8, |acc, b| acc | b) == 0 => Err(Error::MainKeyZero),
            Some(head) => {
                let mut key = [0u8; MAIN_KEY_LEN];
                key.copy_from_slice(head);
                Ok(MainKey(key))
            }
            None => Err(Error::MainKeyTooShort {
                len: material.len(),
            }),
        }
    }

    /// A main key from an array (used to key the second stage of a derivation).
    pub(crate) fn from_array(bytes: &[u8; MAIN_KEY_LEN]) -> Self {
        MainKey(*bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; MAIN_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for MainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MainKey(..)")
    }
}
