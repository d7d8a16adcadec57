//! TLS session-ticket encryption keys (STEKs): derivation per label and interval counter, the
//! rotation window, lookup by key name, and the byte layouts servers read.

use core::fmt;

use zeroize::ZeroizeOnDrop;

use crate::blake2b::{self, Params};
use crate::schedule::Schedule;
use crate::{Error, GO_SEED_CONTEXT, GoSeed, MAIN_KEY_LEN, MainKey, derive_key};

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
    /// Every strength, in the order bindings list them.
    pub const ALL: [Strength; 2] = [Strength::Aes256, Strength::Aes128];

    /// The strength's name, as the CLI and the bindings spell it: `"aes256"` or `"aes128"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Strength::Aes256 => "aes256",
            Strength::Aes128 => "aes128",
        }
    }

    /// The strength called `name` (see [`Strength::as_str`]).
    pub fn from_name(name: &str) -> Option<Strength> {
        Strength::ALL.into_iter().find(|s| s.as_str() == name)
    }

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

/// How the three parts of a key are laid out in a server's key record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// name ‖ HMAC key ‖ AES key: nginx 80-byte files, OpenSSL's
    /// `SSL_CTX_set_tlsext_ticket_keys`, Apache httpd, Traffic Server.
    NameHmacAes,
    /// name ‖ AES key ‖ HMAC key: nginx 48-byte files, HAProxy.
    NameAesHmac,
}

impl Layout {
    /// Every layout.
    pub const ALL: [Layout; 2] = [Layout::NameHmacAes, Layout::NameAesHmac];

    /// The layout's name: `"name_hmac_aes"` or `"name_aes_hmac"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Layout::NameHmacAes => "name_hmac_aes",
            Layout::NameAesHmac => "name_aes_hmac",
        }
    }

    /// The layout called `name` (see [`Layout::as_str`]).
    pub fn from_name(name: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.as_str() == name)
    }
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

impl Role {
    /// The kind of role: `"current"`, `"next"` or `"previous"` (the age is [`Role::age`]).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Current => "current",
            Role::Next => "next",
            Role::Previous(_) => "previous",
        }
    }

    /// The age of a previous key (1 ..= keep), `None` for current and next.
    pub const fn age(self) -> Option<u64> {
        match self {
            Role::Previous(n) => Some(n),
            Role::Current | Role::Next => None,
        }
    }
}

/// `current`, `next`, `previous 1`, …
impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Previous(n) => write!(f, "previous {n}"),
            other => f.write_str(other.as_str()),
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
    pub(crate) fn check_label(label: &[u8]) -> Result<(), Error> {
        let len = label.len();
        if !(1..=MAX_LABEL_LEN).contains(&len) {
            return Err(Error::LabelLength { len });
        }
        Ok(())
    }

    /// A label key whose 32 bytes `derive` writes in place (the forward-secure label key);
    /// `label` is the UTF-8 of a `&str`.
    pub(crate) fn derived(
        label: &[u8],
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
        key.label[..len].copy_from_slice(label);
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
            name: self.ticket_name(strength, counter),
            material: [0; 64],
        };
        let klen = 2 * strength.key_len();
        // The length is 32 or 64, within DERIVE_MIN_LEN..=DERIVE_MAX_LEN: this cannot fail.
        let keyed = derive_key(
            &MainKey::from_array(&self.key),
            strength.key_context(),
            counter,
            &mut key.material[..klen],
        );
        debug_assert!(keyed.is_ok());
        key
    }

    /// The Go/Caddy session-ticket seed of interval `counter` (SPEC.md §4.5):
    /// `derive_key(LK, "kwts-g32", counter, 32)`.
    pub fn go_seed(&self, counter: u64) -> GoSeed {
        GoSeed::derived(counter, |out| {
            // GO_SEED_LEN is within DERIVE_MIN_LEN..=DERIVE_MAX_LEN: this cannot fail.
            let derived = derive_key(
                &MainKey::from_array(&self.key),
                &GO_SEED_CONTEXT,
                counter,
                out,
            );
            debug_assert!(derived.is_ok());
        })
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
    /// AES key ‖ HMAC key (2 × key_len bytes used).
    material: [u8; 64],
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
        let (first, second) = match layout {
            Layout::NameHmacAes => (self.hmac_key(), self.aes_key()),
            Layout::NameAesHmac => (self.aes_key(), self.hmac_key()),
        };
        let (name, keys) = record.split_at_mut(TICKET_NAME_LEN);
        let (a, b) = keys.split_at_mut(first.len());
        name.copy_from_slice(&self.name);
        a.copy_from_slice(first);
        b.copy_from_slice(second);
        Ok(len)
    }
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TicketKey {{ counter: {}, name: ", self.counter)?;
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
    schedule: Schedule,
    keep: u64,
}

/// What the ticket schedule says at one unix time. Only [`TicketSchedule::at`] makes one, so
/// `current > keep` always holds and the window never reaches below counter 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketSlot {
    now: u64,
    current: u64,
    keep: u64,
    next_rotation: u64,
}

impl TicketSchedule {
    /// Validates `interval` (even, in [`crate::MIN_INTERVAL`]`..=`[`crate::MAX_INTERVAL`]) and
    /// `keep` (the number of previous keys accepted): a ticket can be accepted for up to
    /// `(keep + 1) × interval` seconds, which must not exceed [`MAX_TICKET_AGE`] (7 days).
    ///
    /// # Errors
    /// [`Error::Interval`] or [`Error::Keep`].
    pub const fn new(interval: u64, keep: u64) -> Result<Self, Error> {
        let schedule = match Schedule::new(interval) {
            Ok(s) => s,
            Err(e) => return Err(e),
        };
        if keep >= MAX_TICKET_AGE / interval {
            return Err(Error::Keep { keep, interval });
        }
        Ok(TicketSchedule { schedule, keep })
    }

    /// The interval in seconds.
    pub const fn interval(&self) -> u64 {
        self.schedule.interval()
    }

    /// The number of previous keys accepted.
    pub const fn keep(&self) -> u64 {
        self.keep
    }

    /// The longest a ticket can be accepted for, in seconds: `(keep + 1) × interval`.
    pub const fn max_ticket_age(&self) -> u64 {
        (self.keep + 1) * self.interval()
    }

    /// The slot at unix time `now`.
    ///
    /// # Errors
    /// [`Error::Time`] when `now` is not in [`crate::MIN_TIME`]`..=`[`crate::MAX_TIME`].
    pub const fn at(&self, now: u64) -> Result<TicketSlot, Error> {
        let current = match self.schedule.counter(now) {
            Ok(c) => c,
            Err(e) => return Err(e),
        };
        // (keep + 1) * interval <= 604800 < MIN_TIME, so current > keep: no counter wraps.
        Ok(TicketSlot {
            now,
            current,
            keep: self.keep,
            next_rotation: (current + 1) * self.interval(),
        })
    }
}

impl TicketSlot {
    /// The unix time this slot was computed for.
    pub const fn now(&self) -> u64 {
        self.now
    }

    /// The counter of the encrypting key.
    pub const fn current(&self) -> u64 {
        self.current
    }

    /// How many previous keys are accepted.
    pub const fn keep(&self) -> u64 {
        self.keep
    }

    /// The unix time at which the next interval (and so the next rotation) starts.
    pub const fn next_rotation(&self) -> u64 {
        self.next_rotation
    }

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
        let previous = (1..=self.keep).rev().map(Role::Previous);
        previous
            .chain([Role::Current, Role::Next])
            .filter_map(|role| Some((self.counter(role)?, role)))
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

impl Lookup {
    /// `"current"`, `"accepted"` or `"not_found"`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Lookup::Current(_) => "current",
            Lookup::Accepted(..) => "accepted",
            Lookup::NotFound => "not_found",
        }
    }
}
