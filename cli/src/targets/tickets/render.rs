//! What a ticket-key target writes at each round: the keys of the label from the round's secret
//! (main key or forward-secure state), rendered in the output format.

use keywheel::{MainKey, State, Strength, TicketKeys, TicketSlot};

use super::StekTarget;
use crate::daemon::keys::{KeyRound, Secret};
use crate::daemon::target::ErrorKind;
use crate::servers::{self, OwnKeys, Rendered, StekFormat, go, json};
use crate::sys::text::hex;

impl StekTarget {
    /// Renders the keys of `slot` in the output format: the main key's window, then (during a
    /// rollover, for formats that hold any number of keys) the same window of each
    /// decrypt-only main key.
    pub(crate) fn render(
        &self,
        slot: &TicketSlot,
        keys: &mut KeyRound<'_>,
    ) -> Result<Rendered, (ErrorKind, String)> {
        let due = self
            .server
            .file_counter(slot.now(), self.schedule.interval())
            .unwrap_or(slot.current());
        self.render_due(slot, due, keys)
    }

    /// The ticket keys of the label in `strength` from this round's secret: the main key, or
    /// (forward-secure mode) a copy of the state punctured to the window at `now`, whose
    /// keys a key the state cannot reach is a State error.
    fn ticket_keys(
        &self,
        secret: &Secret<'_>,
        strength: Strength,
        now: u64,
    ) -> Result<TicketKeys, (ErrorKind, String)> {
        match secret {
            Secret::Main(main) => self.main_ticket_keys(main, strength),
            Secret::State(state) => self.state_ticket_keys(state, strength, now),
        }
    }

    fn main_ticket_keys(
        &self,
        main: &MainKey,
        strength: Strength,
    ) -> Result<TicketKeys, (ErrorKind, String)> {
        TicketKeys::new(main, &self.label, strength, self.schedule)
            .map_err(|e| (ErrorKind::Write, e.to_string()))
    }

    fn state_ticket_keys(
        &self,
        state: &State,
        strength: Strength,
        now: u64,
    ) -> Result<TicketKeys, (ErrorKind, String)> {
        TicketKeys::from_state(state, &self.label, strength, self.schedule, now).map_err(|e| {
            (
                ErrorKind::State,
                format!(
                    "the forward-secure state (root id {}) cannot derive the ticket keys: \
                     {e}; the clock is behind the state (or the state was advanced too \
                     far): fix the clock, or start from an older copy of the state",
                    hex(&state.root_id())
                ),
            )
        })
    }

    /// What [`Server::step`] decides at `now` (`None` for servers that take keys at the
    /// boundary, or when the secret cannot be read: the write then reports it).
    pub(super) fn own_step(&self, now: u64, keys: &mut KeyRound<'_>) -> Option<servers::Step> {
        if !self.server.renders_itself() {
            return None;
        }
        let secret = keys.secret().ok()?;
        let own = self.ticket_keys(&secret, Strength::Aes256, now).ok()?;
        let name = |n: u64| own.name_by_counter(n).ok();
        self.server
            .step(&self.dest(), now, self.schedule.interval(), &name)
    }

    /// [`StekTarget::render`] for the files that hold key `due` (servers that render
    /// themselves; the core formats render the window of `slot`).
    pub(super) fn render_due(
        &self,
        slot: &TicketSlot,
        due: u64,
        keys: &mut KeyRound<'_>,
    ) -> Result<Rendered, (ErrorKind, String)> {
        let now = slot.now();
        let extra_states = keys.extra_states();
        let secret = keys.secret().map_err(|e| (ErrorKind::MainKey, e))?;
        let make = |strength| self.ticket_keys(&secret, strength, now);
        let format = match self.format {
            StekFormat::Server(format) => format,
            StekFormat::Own(_) => {
                let own = make(Strength::Aes256)?;
                return self
                    .server
                    .render_own(&OwnKeys {
                        keys: &own,
                        counter: due,
                        now,
                    })
                    .map_err(|e| (ErrorKind::Write, e));
            }
            StekFormat::Seeds(f) => {
                // Seeds do not depend on the strength.
                let seeds = make(Strength::Aes256)?;
                // Forward-secure mode: `seeds` is punctured to this window, so the previous
                // window's oldest seed (Caddy's check for its own rotation) comes from a copy
                // made for the previous interval, while the state still reaches it (the
                // daemon advances its state only after installing).
                let previous = match secret {
                    Secret::State(_) => now
                        .checked_sub(self.schedule.interval())
                        .and_then(|t| self.ticket_keys(&secret, Strength::Aes256, t).ok()),
                    Secret::Main(_) => None,
                };
                return go::render(f, &seeds, previous.as_ref(), slot)
                    .map_err(|e| (ErrorKind::Write, e));
            }
            StekFormat::Json => {
                let json_keys = |strength| make(strength).map_err(|(_, e)| e);
                return json::render(
                    &self.label,
                    self.schedule,
                    slot,
                    &json_keys,
                    self.print_keys,
                )
                .map_err(|e| (ErrorKind::Write, e));
            }
        };
        let main_keys = make(format.strength())?;
        let main_key_mode = matches!(secret, Secret::Main(_));
        let mut extra = Vec::new();
        if self.use_extra && main_key_mode {
            for (which, other) in keys.extra().map_err(|e| (ErrorKind::MainKey, e))? {
                extra.push((*which, self.main_ticket_keys(other, format.strength())?));
            }
        } else if self.use_extra {
            for (which, state) in extra_states {
                extra.push((
                    which,
                    self.state_ticket_keys(state, format.strength(), now)?,
                ));
            }
        }
        servers::render(format, &main_keys, &extra, now).map_err(|e| (ErrorKind::Write, e))
    }
}
