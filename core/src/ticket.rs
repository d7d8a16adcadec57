//! TLS session-ticket encryption keys (STEKs): derivation per label and interval counter, the
//! rotation window, lookup by key name, and the byte layouts servers read.

use core::fmt;

use zeroize::ZeroizeOnDrop;

use crate::blake2b::{self, Params};
use crate::{
    Error, MAIN_KEY_LEN, MAX_INTERVAL, MAX_TIME, MIN_INTERVAL, MIN_TIME, MainKey, derive_key,
};

/// Length in bytes of a ticket key name.
pub const TICKET_NAME_LEN: usize = 16;
/// Longest label, in bytes of UTF-8.
pub const MAX_LABEL_LEN: usize = 64;
/// Longest age, in seconds, a ticket may be accepted for (RFC 8446 §4.6.1: 7 days).
pub const MAX_TICKET_AGE: u64 = 604_800;
/// BLAKE2b personalization of the label key (padded with zeros to 16 bytes).
pub const LABEL_PERSONAL: &[u8; 14] = b"keywheel.label";

/// The two strengths servers use for ticket keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strength {
    /// AES-256-CBC with a 32-byte HMAC-SHA256 key (80-byte key files).
    Aes256,
    /// AES-128-CBC with a 16-byte HMAC-SHA256 key (48-byte key files).
    Aes128,
}

impl Strength {
    /// Length of the AES key and of the HMAC key, in bytes (32 or 16).
    pub const fn key_len(self) -> usize {
        match self {
            Strength::Aes256 => 32,
            Strength::Aes128 => 16,
        }
    }

    /// Length of one key record: name + AES key + HMAC key (80 or 48).
    pub const fn record_len(self) -> usize {
        TICKET_NAME_LEN + 2 * self.key_len()
    }

    /// KDF context of the key name.
    pub const fn name_context(self) -> &'static [u8; 8] {
        match self {
            Strength::Aes256 => b"kwtn-256",
            Strength::Aes128 => b"kwtn-128",
        }
    }

    /// KDF context of the AES and HMAC keys.
    pub const fn key_context(self) -> &'static [u8; 8] {
        match self {
            Strength::Aes256 => b"kwtk-256",
            Strength::Aes128 => b"kwtk-128",
        }
    }
}

/// The main key specialised to one label (a service or cluster name): the key every ticket key
/// of that label is derived from. Wiped on drop; `Debug` shows the label only.
#[derive(ZeroizeOnDrop)]
pub struct LabelKey {
    key: [u8; MAIN_KEY_LEN],
    #[zeroize(skip)]
    label_len: usize,
    #[zeroize(skip)]
    label: [u8; MAX_LABEL_LEN],
}

impl LabelKey {
    /// `BLAKE2b(key = main, salt = 0¹⁶, personal = "keywheel.label" ‖ 0², message = label,
    /// digest length 32)`.
    ///
    /// # Errors
    /// [`Error::LabelLength`] when `label` is empty or longer than [`MAX_LABEL_LEN`] bytes.
    pub fn new(main: &MainKey, label: &str) -> Result<Self, Error> {
        let len = label.len();
        if !(1..=MAX_LABEL_LEN).contains(&len) {
            return Err(Error::LabelLength { len });
        }
        let mut key = LabelKey {
            key: [0; MAIN_KEY_LEN],
            label_len: len,
            label: [0; MAX_LABEL_LEN],
        };
        let params = Params {
            key: Some(main.bytes()),
            salt: &[0; 16],
            personal: &blake2b::pad16(LABEL_PERSONAL),
        };
        blake2b::hash(&params, label.as_bytes(), &mut key.key);
        key.label[..len].copy_from_slice(label.as_bytes());
        Ok(key)
    }

    /// Checks a label's length (1..=[`MAX_LABEL_LEN`] bytes).
    pub(crate) fn check_label(label: &str) -> Result<(), Error> {
        let len = label.len();
        if !(1..=MAX_LABEL_LEN).contains(&len) {
            return Err(Error::LabelLength { len });
        }
        Ok(())
    }

    /// A label key whose 32 bytes `derive` writes in place (the forward-secure label key).
    pub(crate) fn derived(
        label: &str,
        derive: impl FnOnce(&mut [u8; MAIN_KEY_LEN]),
    ) -> Result<Self, Error> {
        Self::check_label(label)?;
        let len = label.len();
        let mut key = LabelKey {
            key: [0; MAIN_KEY_LEN],
            label_len: len,
            label: [0; MAX_LABEL_LEN],
        };
        derive(&mut key.key);
        key.label[..len].copy_from_slice(label.as_bytes());
        Ok(key)
    }

    /// The label this key was made for.
    pub fn label(&self) -> &str {
        core::str::from_utf8(&self.label[..self.label_len]).unwrap_or_default()
    }

    /// The ticket key of interval `counter` in `strength`.
    pub fn ticket_key(&self, strength: Strength, counter: u64) -> TicketKey {
        let mut key = TicketKey {
            strength,
            counter,
            name: [0; TICKET_NAME_LEN],
            material: [0; 64],
        };
        let as_main = MainKey::from_array(&self.key);
        let klen = 2 * strength.key_len();
        // Both lengths are within 16..=64, so neither call can fail.
        let named = derive_key(&as_main, strength.name_context(), counter, &mut key.name);
        let keyed = derive_key(
            &as_main,
            strength.key_context(),
            counter,
            &mut key.material[..klen],
        );
        debug_assert!(named.is_ok() && keyed.is_ok());
        key
    }

    /// The key name only (cheaper than [`LabelKey::ticket_key`] when matching names).
    pub fn ticket_name(&self, strength: Strength, counter: u64) -> [u8; TICKET_NAME_LEN] {
        let mut name = [0; TICKET_NAME_LEN];
        let named = derive_key(
            &MainKey::from_array(&self.key),
            strength.name_context(),
            counter,
            &mut name,
        );
        debug_assert!(named.is_ok());
        name
    }
}

impl fmt::Debug for LabelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LabelKey({:?}, ..)", self.label())
    }
}

/// One session-ticket key: a 16-byte name sent in clear in every ticket, an AES key and an
/// HMAC-SHA256 key. Wiped on drop; `Debug` shows the counter and the (public) name only.
#[derive(ZeroizeOnDrop)]
pub struct TicketKey {
    #[zeroize(skip)]
    strength: Strength,
    #[zeroize(skip)]
    counter: u64,
    #[zeroize(skip)]
    name: [u8; TICKET_NAME_LEN],
    material: [u8; 64],
}

/// How the three parts of a key are laid out in a server's key record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// name ‖ HMAC key ‖ AES key: nginx 80-byte files, OpenSSL's
    /// `SSL_CTX_set_tlsext_ticket_keys`, Apache httpd, Traffic Server.
    NameHmacAes,
    /// name ‖ AES key ‖ HMAC key: nginx 48-byte files, HAProxy.
    NameAesHmac,
}

impl TicketKey {
    /// The strength of this key.
    pub fn strength(&self) -> Strength {
        self.strength
    }

    /// The interval counter this key belongs to.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The key name (public: it is sent in clear inside every ticket).
    pub fn name(&self) -> &[u8; TICKET_NAME_LEN] {
        &self.name
    }

    /// The AES key: 32 bytes for [`Strength::Aes256`], 16 for [`Strength::Aes128`].
    pub fn aes_key(&self) -> &[u8] {
        &self.material[..self.strength.key_len()]
    }

    /// The HMAC-SHA256 key: 32 bytes for [`Strength::Aes256`], 16 for [`Strength::Aes128`].
    pub fn hmac_key(&self) -> &[u8] {
        let n = self.strength.key_len();
        &self.material[n..2 * n]
    }

    /// Writes the key record in `layout` into the start of `out` and returns its length
    /// ([`Strength::record_len`]).
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `out` is shorter than the record; `out` is then untouched.
    pub fn write_record(&self, layout: Layout, out: &mut [u8]) -> Result<usize, Error> {
        let len = self.strength.record_len();
        let Some(record) = out.get_mut(..len) else {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                needed: len,
            });
        };
        // The keys are `material` = AES key ‖ HMAC key, 2n bytes; the HMAC key comes first in
        // NameHmacAes: the keys read from n on, around (2n is a power of two).
        let n = self.strength.key_len();
        let start = match layout {
            Layout::NameAesHmac => 0,
            Layout::NameHmacAes => n,
        };
        for (i, o) in record.iter_mut().enumerate() {
            let b = match i.checked_sub(TICKET_NAME_LEN) {
                None => self.name.get(i),
                Some(j) => self.material.get((start + j) & (2 * n - 1)),
            };
            *o = b.copied().unwrap_or(0);
        }
        Ok(len)
    }
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TicketKey { counter: ")?;
        fmt::Display::fmt(&self.counter, f)?;
        f.write_str(", name: ")?;
        for b in self.name {
            write!(f, "{b:02x}")?;
        }
        f.write_str(", .. }")
    }
}

/// The ticket rotation schedule: interval counter `c = floor(now / interval)`; tickets are
/// encrypted with key `c`; keys `c + 1` (next) and `c - 1 ..= c - keep` (previous) are accepted
/// for decryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketSchedule {
    interval: u64,
    keep: u64,
}

/// The role of a key in the window of one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Encrypts new tickets, and decrypts.
    Current,
    /// The next interval's key: decrypts tickets of a node whose clock runs ahead.
    Next,
    /// The key of `n` intervals ago (1 ..= keep): decrypts older tickets.
    Previous(u64),
}

/// What the ticket schedule says at one unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketSlot {
    /// The unix time this slot was computed for.
    pub now: u64,
    /// The counter of the encrypting key.
    pub current: u64,
    /// How many previous keys are accepted.
    pub keep: u64,
    /// The unix time at which the next interval (and so the next rotation) starts.
    pub next_rotation: u64,
}

impl TicketSchedule {
    /// Validates `interval` (even, in [`MIN_INTERVAL`]`..=`[`MAX_INTERVAL`]) and `keep` (the
    /// number of previous keys accepted): a ticket can be accepted for up to
    /// `(keep + 1) × interval` seconds, which must not exceed [`MAX_TICKET_AGE`] (7 days).
    ///
    /// # Errors
    /// [`Error::Interval`] or [`Error::Keep`].
    pub const fn new(interval: u64, keep: u64) -> Result<Self, Error> {
        if interval < MIN_INTERVAL || interval > MAX_INTERVAL || interval % 2 != 0 {
            return Err(Error::Interval { value: interval });
        }
        if keep >= MAX_TICKET_AGE / interval {
            return Err(Error::Keep { keep, interval });
        }
        Ok(TicketSchedule { interval, keep })
    }

    /// The interval in seconds.
    pub const fn interval(&self) -> u64 {
        self.interval
    }

    /// The number of previous keys accepted.
    pub const fn keep(&self) -> u64 {
        self.keep
    }

    /// The longest a ticket can be accepted for, in seconds: `(keep + 1) × interval`.
    pub const fn max_ticket_age(&self) -> u64 {
        (self.keep + 1) * self.interval
    }

    /// The slot at unix time `now`.
    ///
    /// # Errors
    /// [`Error::Time`] when `now` is not in [`MIN_TIME`]`..=`[`MAX_TIME`].
    pub const fn at(&self, now: u64) -> Result<TicketSlot, Error> {
        if now < MIN_TIME || now > MAX_TIME {
            return Err(Error::Time { value: now });
        }
        // (keep + 1) * interval <= 604800 < MIN_TIME, so current > keep: no counter wraps.
        // `new` checked that the interval is at least MIN_INTERVAL: `checked_div` only spares
        // the compiled code a division-by-zero panic path.
        let Some(current) = now.checked_div(self.interval) else {
            return Err(Error::Interval {
                value: self.interval,
            });
        };
        Ok(TicketSlot {
            now,
            current,
            keep: self.keep,
            next_rotation: (current + 1) * self.interval,
        })
    }
}

impl TicketSlot {
    /// The counter of the key with `role`, or `None` for a previous key beyond `keep`.
    pub const fn counter(&self, role: Role) -> Option<u64> {
        match role {
            Role::Current => Some(self.current),
            Role::Next => Some(self.current + 1),
            Role::Previous(n) if n >= 1 && n <= self.keep => Some(self.current - n),
            Role::Previous(_) => None,
        }
    }

    /// The role of `counter` in this slot, or `None` when it is outside the window.
    pub const fn role(&self, counter: u64) -> Option<Role> {
        if counter == self.current {
            Some(Role::Current)
        } else if counter == self.current + 1 {
            Some(Role::Next)
        } else if counter < self.current && self.current - counter <= self.keep {
            Some(Role::Previous(self.current - counter))
        } else {
            None
        }
    }

    /// Every accepted key's counter with its role, oldest first:
    /// `current - keep, …, current - 1, current, current + 1`.
    pub fn window(&self) -> impl Iterator<Item = (u64, Role)> + '_ {
        let oldest = self.current - self.keep;
        (0..self.keep + 2).map(move |i| {
            let role = if i < self.keep {
                Role::Previous(self.keep - i)
            } else if i == self.keep {
                Role::Current
            } else {
                Role::Next
            };
            (oldest + i, role)
        })
    }
}

/// The result of looking a ticket's key name up in a slot's window.
#[derive(Debug)]
pub enum Lookup {
    /// The name is the current (encrypting) key's: decrypt, keep the ticket.
    Current(TicketKey),
    /// The name is another accepted key's (next or previous): decrypt and issue a new ticket.
    Accepted(TicketKey, Role),
    /// No accepted key has this name: do not decrypt; make a full handshake.
    NotFound,
}

impl LabelKey {
    /// Looks `name` up among the keys accepted in `slot` (in `strength`).
    pub fn lookup(&self, strength: Strength, slot: &TicketSlot, name: &[u8]) -> Lookup {
        if name.len() != TICKET_NAME_LEN {
            return Lookup::NotFound;
        }
        for (counter, role) in slot.window() {
            if self.ticket_name(strength, counter)[..] == *name {
                let key = self.ticket_key(strength, counter);
                return match role {
                    Role::Current => Lookup::Current(key),
                    other => Lookup::Accepted(key, other),
                };
            }
        }
        Lookup::NotFound
    }
}
