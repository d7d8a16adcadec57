//! The pre-`TicketKeys` API that the CLI still uses, as thin wrappers over the new one. It
//! goes away when the CLI switches to the new API (issue 10); nothing else may use it.
//!
//! The crate root exports these [`Schedule`], [`Slot`], [`TicketSchedule`] and [`TicketSlot`]
//! (public fields, as before) until then; the new types, whose fields are private, are
//! [`crate::schedule::Schedule`], [`crate::schedule::Slot`], [`crate::ticket::TicketSchedule`]
//! and [`crate::ticket::TicketSlot`].
#![allow(missing_docs)]

use crate::format::{Encoding, Files, Format, Window};
use crate::ticket::{LabelKey, Role};
use crate::{Error, MainKey, TfoKeys, schedule, ticket};

/// The old TFO schedule: [`schedule::Schedule`] whose `at` gives a [`Slot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schedule(schedule::Schedule);

/// The old TFO slot, fields public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot {
    pub now: u64,
    pub primary: u64,
    pub backup: u64,
    pub next_wake: u64,
}

impl Schedule {
    pub const fn new(interval: u64) -> Result<Self, Error> {
        match schedule::Schedule::new(interval) {
            Ok(s) => Ok(Schedule(s)),
            Err(e) => Err(e),
        }
    }

    pub const fn interval(&self) -> u64 {
        self.0.interval()
    }

    pub const fn at(&self, now: u64) -> Result<Slot, Error> {
        match self.0.at(now) {
            Ok(s) => Ok(Slot {
                now: s.now(),
                primary: s.primary(),
                backup: s.backup(),
                next_wake: s.next_wake(),
            }),
            Err(e) => Err(e),
        }
    }
}

impl Slot {
    pub const fn wake_time(&self) -> (u64, u32) {
        (
            self.next_wake + crate::WAKE_FUDGE_SECS,
            crate::WAKE_FUDGE_NANOS,
        )
    }
}

impl TfoKeys {
    #[doc(hidden)]
    pub fn for_slot(main: &MainKey, slot: &Slot) -> Self {
        TfoKeys::for_counters(main, slot.primary, slot.backup)
    }
}

/// The old ticket schedule: [`ticket::TicketSchedule`] whose `at` gives a [`TicketSlot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketSchedule(ticket::TicketSchedule);

/// The old ticket slot, fields public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketSlot {
    pub now: u64,
    pub current: u64,
    pub keep: u64,
    pub next_rotation: u64,
}

impl TicketSchedule {
    pub const fn new(interval: u64, keep: u64) -> Result<Self, Error> {
        match ticket::TicketSchedule::new(interval, keep) {
            Ok(s) => Ok(TicketSchedule(s)),
            Err(e) => Err(e),
        }
    }

    pub const fn interval(&self) -> u64 {
        self.0.interval()
    }

    pub const fn keep(&self) -> u64 {
        self.0.keep()
    }

    pub const fn max_ticket_age(&self) -> u64 {
        self.0.max_ticket_age()
    }

    pub const fn at(&self, now: u64) -> Result<TicketSlot, Error> {
        match self.0.at(now) {
            Ok(s) => Ok(TicketSlot {
                now: s.now(),
                current: s.current(),
                keep: s.keep(),
                next_rotation: s.next_rotation(),
            }),
            Err(e) => Err(e),
        }
    }
}

impl TicketSlot {
    pub const fn counter(&self, role: Role) -> Option<u64> {
        match role {
            Role::Current => Some(self.current),
            Role::Next => self.current.checked_add(1),
            Role::Previous(n) if n >= 1 && n <= self.keep => self.current.checked_sub(n),
            Role::Previous(_) => None,
        }
    }

    pub const fn role(&self, counter: u64) -> Option<Role> {
        if counter == self.current {
            Some(Role::Current)
        } else if counter > self.current && counter - self.current == 1 {
            Some(Role::Next)
        } else if counter < self.current && self.current - counter <= self.keep {
            Some(Role::Previous(self.current - counter))
        } else {
            None
        }
    }

    /// Oldest first; a hand-built slot with `keep > current` gives the counters that exist.
    pub fn window(&self) -> impl Iterator<Item = (u64, Role)> + '_ {
        (1..=self.keep)
            .rev()
            .map(Role::Previous)
            .chain([Role::Current, Role::Next])
            .filter_map(|role| Some((self.counter(role)?, role)))
    }
}

impl Format {
    #[doc(hidden)]
    pub const fn one_file_per_key(self) -> bool {
        matches!(self.files(), Files::OnePerKey)
    }

    #[doc(hidden)]
    pub const fn base64_lines(self) -> bool {
        matches!(self.encoding(), Encoding::Base64Lines)
    }

    #[doc(hidden)]
    pub const fn current_only(self) -> bool {
        matches!(self.window(), Window::CurrentOnly)
    }

    #[doc(hidden)]
    pub const fn accepts_extra_keys(self) -> bool {
        self.accepts_decrypt_only()
    }

    #[doc(hidden)]
    pub fn role(self, slot: &TicketSlot, i: usize) -> Option<Role> {
        self.roles(slot.keep).nth(i)
    }

    #[doc(hidden)]
    pub const fn rendered_len(self, slot: &TicketSlot) -> usize {
        self.key_count(slot.keep) * self.record_len()
    }

    #[doc(hidden)]
    pub fn render(
        self,
        label: &LabelKey,
        slot: &TicketSlot,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_keep(slot.keep)?;
        let total = self.rendered_len(slot);
        let Some(out) = out.get_mut(..total) else {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                needed: total,
            });
        };
        let counters = self.roles(slot.keep).filter_map(|r| slot.counter(r));
        let mut pos = 0;
        for counter in counters {
            let key = label.ticket_key(self.strength(), counter);
            pos += self.render_key(&key, out.get_mut(pos..).unwrap_or_default())?;
        }
        Ok(pos)
    }
}
