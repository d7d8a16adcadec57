//! [`TicketKeys`]: the ticket keys of one label, strength and schedule — what a server's
//! ticket-key callback and a key-file writer need, and what every binding exposes.

use core::fmt;

use crate::format::Format;
use crate::ticket::{LabelKey, Lookup, Role, Strength, TicketKey, TicketSchedule, TicketSlot};
use crate::{Error, MainKey, TICKET_NAME_LEN};

/// Where the key of each interval counter comes from. Every per-counter key goes through
/// [`Source::key`] and [`Source::name`], so another source (e.g. a forward-secure state that
/// gives a different label key per counter) is one more variant here.
enum Source {
    /// Every counter's key from one label key of the main key (SPEC §4).
    Main(LabelKey),
}

impl Source {
    fn key(&self, strength: Strength, counter: u64) -> TicketKey {
        match self {
            Source::Main(label) => label.ticket_key(strength, counter),
        }
    }

    fn name(&self, strength: Strength, counter: u64) -> [u8; TICKET_NAME_LEN] {
        match self {
            Source::Main(label) => label.ticket_name(strength, counter),
        }
    }

    fn label(&self) -> &str {
        match self {
            Source::Main(label) => label.label(),
        }
    }
}

/// The ticket keys of one label (service or cluster name) in one strength, rotated by one
/// [`TicketSchedule`]. Holds the label's key, never the main key: each call costs a few BLAKE2b
/// compressions and allocates nothing. Wiped on drop; `Debug` shows no key bytes.
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
    /// [`Error::Time`] when `now` is out of range.
    pub fn current(&self, now: u64) -> Result<TicketKey, Error> {
        Ok(self.by_counter(self.slot(now)?.current()))
    }

    /// The key of interval `counter`.
    pub fn by_counter(&self, counter: u64) -> TicketKey {
        self.source.key(self.strength, counter)
    }

    /// The (public) name of the key of interval `counter`.
    pub fn name_by_counter(&self, counter: u64) -> [u8; TICKET_NAME_LEN] {
        self.source.name(self.strength, counter)
    }

    /// Looks a ticket's key `name` up among the keys accepted at `now`.
    ///
    /// # Errors
    /// [`Error::Time`] when `now` is out of range.
    pub fn lookup(&self, name: &[u8], now: u64) -> Result<Lookup, Error> {
        let slot = self.slot(now)?;
        if name.len() != TICKET_NAME_LEN {
            return Ok(Lookup::NotFound);
        }
        for (counter, role) in slot.window() {
            if self.name_by_counter(counter)[..] == *name {
                let key = self.by_counter(counter);
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
    /// [`Error::FormatStrength`], [`Error::FormatKeep`] or [`Error::Time`].
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
        let sources = core::iter::once(&self.source).chain(extra.iter().map(|k| &k.source));
        let strength = self.strength;
        Ok(sources.flat_map(move |source| {
            format.roles(slot.keep()).filter_map(move |role| {
                let counter = slot.counter(role)?;
                Some((role, source.key(strength, counter)))
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
    /// [`Error::FormatStrength`] or [`Error::FormatKeep`].
    pub fn rollover_len(&self, format: Format, decrypt_only: usize) -> Result<usize, Error> {
        let sources = if format.accepts_decrypt_only() {
            1 + decrypt_only
        } else {
            1
        };
        Ok(self.rendered_len(format)? * sources)
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
            .finish_non_exhaustive()
    }
}
