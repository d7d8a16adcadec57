//! [`TicketKeys`]: the ticket keys of one label, strength and schedule — what a server's
//! ticket-key callback and a key-file writer need, and what every binding exposes.

use core::fmt;

use crate::format::Format;
use crate::ticket::{LabelKey, Lookup, Role, Strength, TicketKey, TicketSchedule, TicketSlot};
use crate::{
    Error, FS_ROOT_ID_LEN, GoSeed, MAX_LABEL_LEN, MAX_OUTPUT_LEN, MainKey, State, StateError,
    TICKET_NAME_LEN,
};

/// Where the key of each interval counter comes from. Every per-counter key goes through
/// [`Source::key`] and [`Source::name`].
// The state is ~1.4 KB inline: the core allocates nothing, so it is not boxed.
#[allow(clippy::large_enum_variant)]
enum Source {
    /// Every counter's key from one label key of the main key (SPEC §4).
    Main(LabelKey),
    /// Each counter's key from its own label key, derived from the leaf of its interval in a
    /// copy of a forward-secure state (SPEC §6) that this handle owns and punctures.
    Forward {
        /// The copy, advanced to the oldest key of the window it was built or advanced for.
        state: State,
        /// The ticket interval (the leaf of counter `n` is `leaf(n * interval)`).
        interval: u64,
        label_len: usize,
        label: [u8; MAX_LABEL_LEN],
    },
}

impl Source {
    fn key(&self, strength: Strength, counter: u64) -> Result<TicketKey, Error> {
        match self {
            Source::Main(label) => Ok(label.ticket_key(strength, counter)),
            Source::Forward {
                state, interval, ..
            } => Ok(state
                .fs_label_key(self.label_bytes(), *interval, counter)?
                .ticket_key(strength, counter)),
        }
    }

    fn name(&self, strength: Strength, counter: u64) -> Result<[u8; TICKET_NAME_LEN], Error> {
        match self {
            Source::Main(label) => Ok(label.ticket_name(strength, counter)),
            Source::Forward {
                state, interval, ..
            } => Ok(state
                .fs_label_key(self.label_bytes(), *interval, counter)?
                .ticket_name(strength, counter)),
        }
    }

    fn go_seed(&self, counter: u64) -> Result<GoSeed, Error> {
        match self {
            Source::Main(label) => Ok(label.go_seed(counter)),
            Source::Forward {
                state, interval, ..
            } => Ok(state
                .fs_label_key(self.label_bytes(), *interval, counter)?
                .go_seed(counter)),
        }
    }

    /// Checks (cheaply) that the key of `counter` can be derived.
    fn check(&self, counter: u64) -> Result<(), Error> {
        match self {
            Source::Main(_) => Ok(()),
            Source::Forward {
                state, interval, ..
            } => state.key_start(*interval, counter).map(|_| ()),
        }
    }

    fn label(&self) -> &str {
        match self {
            Source::Main(label) => label.label(),
            Source::Forward { .. } => core::str::from_utf8(self.label_bytes()).unwrap_or_default(),
        }
    }

    /// Forward-secure mode: the label's UTF-8 (the keys need no `&str`); main-key mode: empty.
    fn label_bytes(&self) -> &[u8] {
        match self {
            Source::Main(_) => &[],
            Source::Forward {
                label, label_len, ..
            } => label.get(..*label_len).unwrap_or_default(),
        }
    }
}

/// The ticket keys of one label (service or cluster name) in one strength, rotated by one
/// [`TicketSchedule`].
///
/// Made from a main key ([`TicketKeys::new`]) it holds the label's key, never the main key: each
/// call costs a few BLAKE2b compressions. Made from a forward-secure state
/// ([`TicketKeys::from_state`]) it holds its own copy of the state, advanced to the oldest key
/// of the window at the time given (so it derives no older key) and moved on by
/// [`TicketKeys::advance`]; each key costs its leaf (at most 40 compressions) and a few more,
/// and keys it cannot reach are [`Error::KeyPunctured`]. Allocates nothing. Wiped on drop;
/// `Debug` shows no key bytes.
pub struct TicketKeys {
    source: Source,
    strength: Strength,
    schedule: TicketSchedule,
}

impl TicketKeys {
    /// The ticket keys of `label` under `main`.
    ///
    /// # Errors
    /// [`Error::LabelLength`] when `label` is empty or longer than [`crate::MAX_LABEL_LEN`].
    pub fn new(
        main: &MainKey,
        label: &str,
        strength: Strength,
        schedule: TicketSchedule,
    ) -> Result<Self, Error> {
        Ok(TicketKeys {
            source: Source::Main(LabelKey::new(main, label)?),
            strength,
            schedule,
        })
    }

    /// The ticket keys of `label` in forward-secure mode (SPEC §6): the key of counter `n` is
    /// `state.label_key(label, interval, n).ticket_key(strength, n)`, names and every server
    /// format as in main-key mode. Takes its own copy of `state`, advanced to the start of the
    /// oldest key accepted at `now` when `state` starts before it: the caller keeps (and may
    /// advance or drop) its state. About 40 BLAKE2b compressions per key of the window at
    /// `now`, which are all checked to be derivable.
    ///
    /// # Errors
    /// [`StateError::Input`] with [`Error::LabelLength`], [`Error::Time`] (`now`),
    /// [`Error::KeyPunctured`] when `state` starts after the oldest key accepted at `now`
    /// ("…: it was punctured"), or [`Error::KeyTime`].
    pub fn from_state(
        state: &State,
        label: &str,
        strength: Strength,
        schedule: TicketSchedule,
        now: u64,
    ) -> Result<Self, StateError> {
        LabelKey::check_label(label.as_bytes())?;
        let mut text = [0u8; MAX_LABEL_LEN];
        text[..label.len()].copy_from_slice(label.as_bytes());
        let mut keys = TicketKeys {
            source: Source::Forward {
                state: state.copy(),
                interval: schedule.interval(),
                label_len: label.len(),
                label: text,
            },
            strength,
            schedule,
        };
        keys.advance(now)?;
        Ok(keys)
    }

    /// Forward-secure mode: punctures this handle's copy of the state up to the start of the
    /// oldest key accepted at `now` (never backwards: an earlier `now` whose keys it still derives changes nothing), after
    /// checking that every key accepted at `now` can be derived. Main-key mode: checks `now`.
    ///
    /// # Errors
    /// [`StateError::Input`] with [`Error::Time`], [`Error::KeyPunctured`] (a key of the window
    /// at `now` starts before the copy's start) or [`Error::KeyTime`]; nothing changes then.
    pub fn advance(&mut self, now: u64) -> Result<(), StateError> {
        let slot = self.slot(now)?;
        for (counter, _) in slot.window() {
            self.source.check(counter)?;
        }
        if let Source::Forward {
            state, interval, ..
        } = &mut self.source
        {
            let oldest = slot
                .window()
                .map(|(c, _)| c)
                .min()
                .unwrap_or(slot.current());
            // checked above: the oldest key's start is in s0..FS_END.
            let start = oldest.saturating_mul(*interval);
            if start > state.s0() {
                state.advance(start)?;
            }
        }
        Ok(())
    }

    /// Forward-secure mode: the start of this handle's copy of the state (the first second
    /// whose keys it derives) and the state's root id; `None` in main-key mode.
    pub fn state_start(&self) -> Option<(u64, [u8; FS_ROOT_ID_LEN])> {
        match &self.source {
            Source::Main(_) => None,
            Source::Forward { state, .. } => Some((state.s0(), state.root_id())),
        }
    }

    /// The label.
    pub fn label(&self) -> &str {
        self.source.label()
    }

    /// The strength of the keys.
    pub fn strength(&self) -> Strength {
        self.strength
    }

    /// The rotation schedule.
    pub fn schedule(&self) -> TicketSchedule {
        self.schedule
    }

    /// The slot (current counter, window, next rotation) at unix time `now`.
    ///
    /// # Errors
    /// [`Error::Time`] when `now` is out of range.
    pub fn slot(&self, now: u64) -> Result<TicketSlot, Error> {
        self.schedule.at(now)
    }

    /// The key that encrypts new tickets at `now`.
    ///
    /// # Errors
    /// [`Error::Time`] when `now` is out of range; forward-secure mode: [`Error::KeyPunctured`]
    /// or [`Error::KeyTime`].
    pub fn current(&self, now: u64) -> Result<TicketKey, Error> {
        self.by_counter(self.slot(now)?.current())
    }

    /// The key of interval `counter`.
    ///
    /// # Errors
    /// Forward-secure mode only: [`Error::KeyPunctured`] when the interval starts before this
    /// handle's state, [`Error::KeyTime`] when it starts past the tree.
    pub fn by_counter(&self, counter: u64) -> Result<TicketKey, Error> {
        self.source.key(self.strength, counter)
    }

    /// The (public) name of the key of interval `counter`.
    ///
    /// # Errors
    /// As [`TicketKeys::by_counter`].
    pub fn name_by_counter(&self, counter: u64) -> Result<[u8; TICKET_NAME_LEN], Error> {
        self.source.name(self.strength, counter)
    }

    /// The Go/Caddy session-ticket seed of interval `counter` (SPEC.md §4.5; forward-secure
    /// mode: from the label key of §6.3). The seed does not depend on the strength.
    ///
    /// # Errors
    /// As [`TicketKeys::by_counter`].
    pub fn go_seed(&self, counter: u64) -> Result<GoSeed, Error> {
        self.source.go_seed(counter)
    }

    /// Looks a ticket's key `name` up among the keys accepted at `now`.
    ///
    /// # Errors
    /// [`Error::Time`] when `now` is out of range; forward-secure mode: [`Error::KeyPunctured`]
    /// when a key accepted at `now` starts before this handle's state.
    pub fn lookup(&self, name: &[u8], now: u64) -> Result<Lookup, Error> {
        let slot = self.slot(now)?;
        for (counter, _) in slot.window() {
            self.source.check(counter)?;
        }
        if name.len() != TICKET_NAME_LEN {
            return Ok(Lookup::NotFound);
        }
        for (counter, role) in slot.window() {
            if self.name_by_counter(counter)?[..] == *name {
                let key = self.by_counter(counter)?;
                return Ok(match role {
                    Role::Current => Lookup::Current(key),
                    other => Lookup::Accepted(key, other),
                });
            }
        }
        Ok(Lookup::NotFound)
    }

    /// Checks that `format` suits these keys: its strength, and the schedule's `keep`.
    ///
    /// # Errors
    /// [`Error::FormatStrength`] or [`Error::FormatKeep`].
    pub fn check_format(&self, format: Format) -> Result<(), Error> {
        if format.strength() != self.strength {
            return Err(Error::FormatStrength {
                format: format.name(),
            });
        }
        format.check_keep(self.schedule.keep())
    }

    /// The keys `format` holds at `now`, in file order, with their roles.
    ///
    /// # Errors
    /// [`Error::FormatStrength`], [`Error::FormatKeep`] or [`Error::Time`].
    pub fn keys(
        &self,
        format: Format,
        now: u64,
    ) -> Result<impl Iterator<Item = (Role, TicketKey)> + '_, Error> {
        self.rollover_keys(format, now, &[])
    }

    /// The keys of [`TicketKeys::render_rollover`], in file order, with their roles: the keys
    /// of [`TicketKeys::keys`], then, for formats that take decrypt-only keys, the same window
    /// of each of `decrypt_only` (in this handle's strength).
    ///
    /// # Errors
    /// [`Error::FormatStrength`], [`Error::FormatKeep`] or [`Error::Time`]; forward-secure
    /// mode: [`Error::KeyPunctured`] or [`Error::KeyTime`] when a key (of any of the handles)
    /// cannot be derived.
    pub fn rollover_keys<'a>(
        &'a self,
        format: Format,
        now: u64,
        decrypt_only: &'a [&'a TicketKeys],
    ) -> Result<impl Iterator<Item = (Role, TicketKey)> + 'a, Error> {
        self.check_format(format)?;
        let slot = self.slot(now)?;
        let extra = if format.accepts_decrypt_only() {
            decrypt_only
        } else {
            &[]
        };
        let sources = || core::iter::once(&self.source).chain(extra.iter().map(|k| &k.source));
        for source in sources() {
            for role in format.roles(slot.keep()) {
                if let Some(counter) = slot.counter(role) {
                    source.check(counter)?;
                }
            }
        }
        let strength = self.strength;
        Ok(sources().flat_map(move |source| {
            format.roles(slot.keep()).filter_map(move |role| {
                let counter = slot.counter(role)?;
                // Every key was checked to be derivable above.
                Some((role, source.key(strength, counter).ok()?))
            })
        }))
    }

    /// Length of [`TicketKeys::render`]'s output for `format`.
    ///
    /// # Errors
    /// [`Error::FormatStrength`] or [`Error::FormatKeep`].
    pub fn rendered_len(&self, format: Format) -> Result<usize, Error> {
        self.check_format(format)?;
        Ok(format.key_count(self.schedule.keep()) * format.record_len())
    }

    /// Renders every key of `format` at `now`, in file order, into `out`; returns the length
    /// written ([`TicketKeys::rendered_len`]). For single-file formats this is the file; for
    /// one-file-per-key formats (nginx), file `i` is record `i`
    /// ([`Format::record_len`] bytes each).
    ///
    /// # Errors
    /// [`Error::FormatStrength`], [`Error::FormatKeep`], [`Error::Time`] or
    /// [`Error::BufferTooSmall`]; nothing is written then.
    pub fn render(&self, format: Format, now: u64, out: &mut [u8]) -> Result<usize, Error> {
        self.render_rollover(format, now, &[], out)
    }

    /// Length of [`TicketKeys::render_rollover`]'s output with `decrypt_only` other main keys.
    ///
    /// # Errors
    /// [`Error::FormatStrength`] or [`Error::FormatKeep`]; [`Error::DecryptOnlyCount`] when
    /// the length would exceed [`MAX_OUTPUT_LEN`] (no buffer holds it).
    pub fn rollover_len(&self, format: Format, decrypt_only: usize) -> Result<usize, Error> {
        let one = self.rendered_len(format)?;
        if !format.accepts_decrypt_only() {
            return Ok(one);
        }
        decrypt_only
            .checked_add(1)
            .and_then(|sources| sources.checked_mul(one))
            .filter(|len| *len <= MAX_OUTPUT_LEN)
            .ok_or(Error::DecryptOnlyCount {
                count: decrypt_only,
            })
    }

    /// Main-key rollover (SPEC §5.2): the keys of [`TicketKeys::render`], then, for formats
    /// that hold any number of keys ([`Format::accepts_decrypt_only`]), the same window of
    /// each of `decrypt_only` (the keys of the same label under another main key: the previous
    /// one first, then the next) as decrypt-only keys. Other formats get the main keys alone.
    /// The keys of `decrypt_only` are taken in this handle's strength and window.
    ///
    /// # Errors
    /// As [`TicketKeys::render`]; nothing is written then.
    pub fn render_rollover(
        &self,
        format: Format,
        now: u64,
        decrypt_only: &[&TicketKeys],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let total = self.rollover_len(format, decrypt_only.len())?;
        let keys = self.rollover_keys(format, now, decrypt_only)?;
        let Some(out) = out.get_mut(..total) else {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                needed: total,
            });
        };
        for ((_, key), record) in keys.zip(out.chunks_mut(format.record_len())) {
            format.render_key(&key, record)?;
        }
        Ok(total)
    }
}

impl fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKeys")
            .field("label", &self.label())
            .field("strength", &self.strength)
            .field("schedule", &self.schedule)
            .field(
                "forward_secure_start",
                &self.state_start().map(|(s0, _)| s0),
            )
            .finish_non_exhaustive()
    }
}
