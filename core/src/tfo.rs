//! Linux TCP Fast Open keys, byte-compatible with tofurkey 1.3.4.

use core::fmt;

use zeroize::ZeroizeOnDrop;

use crate::schedule::{Schedule, Slot};
use crate::{Error, MainKey, derive_key};

/// Length in bytes of one TFO key.
pub const TFO_KEY_LEN: usize = 16;
/// The KDF context of TFO keys (tofurkey's).
pub const TFO_CONTEXT: [u8; 8] = *b"tofurkey";
/// Length of the procfs text `pppppppp-pppppppp-pppppppp-pppppppp,bbbbbbbb-…-bbbbbbbb`.
pub const TFO_PROCFS_TEXT_LEN: usize = 71;

/// The primary and backup TFO keys of one [`Slot`]. Wiped on drop; `Debug` shows no key bytes.
#[derive(ZeroizeOnDrop)]
pub struct TfoKeys {
    primary: [u8; TFO_KEY_LEN],
    backup: [u8; TFO_KEY_LEN],
}

impl TfoKeys {
    /// Derives the keys of `slot`: the subkeys `slot.primary()` and `slot.backup()` of `main`
    /// under [`TFO_CONTEXT`].
    pub fn new(main: &MainKey, slot: &Slot) -> Self {
        Self::for_counters(main, slot.primary(), slot.backup())
    }

    /// The subkeys `primary` and `backup` of `main` under [`TFO_CONTEXT`].
    pub(crate) fn for_counters(main: &MainKey, primary: u64, backup: u64) -> Self {
        let mut keys = TfoKeys {
            primary: [0; TFO_KEY_LEN],
            backup: [0; TFO_KEY_LEN],
        };
        for (out, counter) in [(&mut keys.primary, primary), (&mut keys.backup, backup)] {
            // TFO_KEY_LEN is within DERIVE_MIN_LEN..=DERIVE_MAX_LEN, so this cannot fail.
            let derived = derive_key(main, &TFO_CONTEXT, counter, out);
            debug_assert!(derived.is_ok());
        }
        keys
    }

    /// The keys given (the forward-secure TFO keys).
    pub(crate) fn from_keys(primary: &[u8; TFO_KEY_LEN], backup: &[u8; TFO_KEY_LEN]) -> Self {
        TfoKeys {
            primary: *primary,
            backup: *backup,
        }
    }

    /// The primary key: the kernel makes new cookies with it.
    pub fn primary(&self) -> &[u8; TFO_KEY_LEN] {
        &self.primary
    }

    /// The backup key: the kernel still accepts cookies made with it.
    pub fn backup(&self) -> &[u8; TFO_KEY_LEN] {
        &self.backup
    }

    /// The text the kernel takes in `/proc/sys/net/ipv4/tcp_fastopen_key`: "primary,backup",
    /// each key as four groups of eight lowercase hex digits joined by '-'.
    pub fn procfs_text(&self) -> ProcfsText {
        let mut text = ProcfsText([0; TFO_PROCFS_TEXT_LEN]);
        let mut out = text.0.iter_mut();
        let mut put = |c: u8| {
            if let Some(o) = out.next() {
                *o = c;
            }
        };
        for (k, key) in [&self.primary, &self.backup].into_iter().enumerate() {
            if k > 0 {
                put(b',');
            }
            for (g, group) in key.chunks(4).enumerate() {
                if g > 0 {
                    put(b'-');
                }
                for b in group {
                    put(HEX[usize::from(b >> 4)]);
                    put(HEX[usize::from(b & 0xf)]);
                }
            }
        }
        text
    }
}

impl fmt::Debug for TfoKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TfoKeys(..)")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The procfs text of a TFO key pair ([`TFO_PROCFS_TEXT_LEN`] ASCII bytes, no terminator).
/// Wiped on drop; `Debug` shows no key bytes.
#[derive(ZeroizeOnDrop)]
pub struct ProcfsText([u8; TFO_PROCFS_TEXT_LEN]);

impl ProcfsText {
    /// The text as bytes.
    pub fn as_bytes(&self) -> &[u8; TFO_PROCFS_TEXT_LEN] {
        &self.0
    }

    /// The text as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits, '-' and ',' are ever written.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for ProcfsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProcfsText(..)")
    }
}

/// The TFO keys to install at unix time `now`: shorthand for
/// `TfoKeys::new(main, &schedule.at(now)?)`.
///
/// # Errors
/// [`Error::Time`] when `now` is out of range.
pub fn tfo_keys(main: &MainKey, schedule: &Schedule, now: u64) -> Result<TfoKeys, Error> {
    Ok(TfoKeys::new(main, &schedule.at(now)?))
}
