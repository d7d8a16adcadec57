//! Public fingerprints: short values that tell whether two nodes hold the same secret without
//! revealing it (for `keywheel status` and monitoring). Ticket keys need none: their 16-byte
//! names are already public.

use crate::blake2b::{self, Params};
use crate::{MainKey, TFO_KEY_LEN};

/// Length in bytes of a fingerprint.
pub const FINGERPRINT_LEN: usize = 8;
/// BLAKE2b personalization of a main key's fingerprint (padded with zeros to 16 bytes).
pub const MAIN_FINGERPRINT_PERSONAL: &[u8; 15] = b"keywheel.mainfp";
/// BLAKE2b personalization of a TFO key's fingerprint (padded with zeros to 16 bytes).
pub const TFO_FINGERPRINT_PERSONAL: &[u8; 14] = b"keywheel.tfofp";

impl MainKey {
    /// The main key's public fingerprint: `BLAKE2b(key = main, salt = 0¹⁶,
    /// personal = "keywheel.mainfp" ‖ 0, message = empty, digest length 8)`. Nodes with the
    /// same fingerprint have the same main key; the fingerprint reveals nothing about the key
    /// or about the keys derived from it.
    pub fn fingerprint(&self) -> [u8; FINGERPRINT_LEN] {
        let mut out = [0u8; FINGERPRINT_LEN];
        let params = Params {
            key: Some(self.bytes()),
            salt: &[0; 16],
            personal: &blake2b::pad16(MAIN_FINGERPRINT_PERSONAL),
        };
        blake2b::hash(&params, &[], &mut out);
        out
    }
}

/// The public fingerprint of one TCP Fast Open key (e.g. the primary key the kernel holds):
/// `BLAKE2b(key = none, personal = "keywheel.tfofp" ‖ 0², message = key, digest length 8)`.
/// Two nodes whose installed primary keys have the same fingerprint make cookies the other
/// accepts; 64 bits of a hash of a 128-bit key reveal nothing usable about it.
pub fn tfo_key_fingerprint(key: &[u8; TFO_KEY_LEN]) -> [u8; FINGERPRINT_LEN] {
    let mut out = [0u8; FINGERPRINT_LEN];
    let params = Params {
        key: None,
        salt: &[0; 16],
        personal: &blake2b::pad16(TFO_FINGERPRINT_PERSONAL),
    };
    blake2b::hash(&params, key, &mut out);
    out
}
