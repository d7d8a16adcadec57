//! One round of a [`StekTarget`]: render the keys of a slot, install them through the target's
//! server (or describe them in a dry run), push them, log them.

use keywheel::{TicketSlot, Window};

use super::StekTarget;
use crate::daemon::keys::{Extra, KeyRound};
use crate::daemon::target::ErrorKind;
use crate::servers::{self, Installed, Rendered, StekFormat, json};
use crate::sys::log::concat;
use crate::sys::text::hex;

impl StekTarget {
    /// Derives, writes (or describes) and pushes the keys of `slot` (signals are blocked by the
    /// daemon, so that every copy is wiped before a terminating signal is delivered). Returns
    /// the number of errors reported.
    pub(super) fn write_round(
        &mut self,
        keys: &mut KeyRound<'_>,
        slot: &TicketSlot,
        due: u64,
        first: bool,
        retry: &str,
    ) -> u32 {
        // A failed first write ends a single-target daemon: no retry then.
        let (keeping, write_retry) = if (first && self.fatal_first) || self.once {
            ("", "")
        } else if first {
            ("", retry)
        } else {
            ("; keeping the installed keys", retry)
        };
        let rendered = match self.render_due(slot, due, keys) {
            Ok(r) => r,
            Err((kind, msg)) => {
                self.log.error(&format!("{msg}{keeping}{write_retry}"));
                self.stats.count(kind);
                return 1;
            }
        };
        let written = if self.dry_run {
            self.print_plan(slot, &rendered);
            Ok(None)
        } else {
            self.write(due, &rendered).map(Some)
        };
        let window = match self.format {
            StekFormat::Server(f) if f.window() == Window::CurrentOnly => {
                format!("{} only", slot.current())
            }
            StekFormat::Own(_) if rendered.keys.len() == 1 => format!("{due} only"),
            _ => format!("{}..={}", slot.current() - slot.keep(), slot.current() + 1),
        };
        let extra = if rendered.keys.iter().any(|k| k.extra.is_some()) {
            let mut which: Vec<&str> = Vec::new();
            for name in rendered
                .keys
                .iter()
                .filter_map(|k| k.extra.map(Extra::name))
            {
                if !which.contains(&name) {
                    which.push(name);
                }
            }
            format!(
                " and the same window of the {} main key (decrypt only)",
                which.join(" and ")
            )
        } else {
            String::new()
        };
        let head = format!(
            "ticket keys for unix time {}: current counter {} (accepted {window}{extra})",
            slot.now(),
            slot.current()
        );
        let mut repair = None;
        match written {
            Ok(None) => self.log.info(&format!("{head}; dry run: nothing written")),
            Ok(Some(installed)) => {
                repair = installed.repair.clone();
                self.log.info(&format!("{head}; wrote {}", installed.what));
                for path in &installed.removed {
                    self.log.verbose(&format!("removed {}", path.display()));
                }
                for msg in &installed.cleanup_errors {
                    self.log.error(msg);
                }
            }
            Err(msg) => {
                let msg = self.words(msg);
                self.log
                    .error(&format!("{head}: {msg}{keeping}{write_retry}"));
                self.stats.count(ErrorKind::Write);
                return 1;
            }
        }
        if !self.dry_run {
            self.log_keys(&rendered);
        }
        if let Some(why) = &repair {
            match &self.reload {
                Some(_) => self.log.info(&format!(
                    "{why}: rewrote it; running the reload command so that the server re-reads it"
                )),
                None => self.log.error(&format!(
                    "{why}: rewrote it, but no reload command is configured (--reload, e.g. \
                     \"caddy reload --force\"): the running server keeps other keys until it \
                     re-reads the file"
                )),
            }
        }
        if self.state.written != Some(due) || repair.is_some() {
            self.state.written = Some(due);
            self.state.reload_pending =
                self.reload.is_some() && (self.server.reloads_on_rotation() || repair.is_some());
            self.state.haproxy_pending = self.haproxy_socket.is_some();
            self.stats.rotations += 1;
            self.stats.has_keys = true;
        }
        match (&self.haproxy_socket, self.dry_run) {
            (Some(socket), false) => match self.server.push(&self.dest(), socket, &rendered) {
                Ok(line) => {
                    self.log.info(&line);
                    self.state.haproxy_pending = false;
                    0
                }
                Err(msg) => {
                    let file = self.out.display();
                    self.log.error(&format!(
                        "{msg} ({file} is written: HAProxy loads it when it starts or \
                         reloads){retry}"
                    ));
                    self.stats.count(ErrorKind::Haproxy);
                    1
                }
            },
            _ => {
                self.state.haproxy_pending = false;
                0
            }
        }
    }

    /// The output location must exist (nginx: its parent), be of the right kind, and (unless
    /// --allow-persistent) be on tmpfs or ramfs.
    pub(crate) fn check_out(&self) -> Result<(), String> {
        servers::check_out(&self.dest(), self.allow_persistent).map_err(|msg| self.words(msg))
    }

    /// Checks the output location and installs the rendered keys (the JSON on stdout needs no
    /// location).
    pub(super) fn write(&self, due: u64, rendered: &Rendered) -> Result<Installed, String> {
        let dest = self.dest();
        if !json::is_stdout(&dest) {
            servers::check_out(&dest, self.allow_persistent)?;
        }
        self.server.install(&dest, due, rendered)
    }

    /// Logs the keys' counters, roles and names (verbose), and the keys (--print-keys).
    pub(super) fn log_keys(&self, rendered: &Rendered) {
        // Seed formats (go-json, caddy) have no records, but each key is a seed of `ours`.
        let seeds = matches!(self.format, StekFormat::Seeds(_));
        if !(self.log.is_verbose() || self.print_keys) || (rendered.record_len == 0 && !seeds) {
            return;
        }
        for (i, key) in rendered.keys.iter().enumerate() {
            let line = format!(
                "key {i} ({}): counter {}, name {}",
                key.role_text(),
                key.counter,
                hex(&key.name)
            );
            if self.print_keys {
                let record = match rendered.ours.get(i) {
                    Some(seed) if seeds => &seed[..],
                    _ => rendered.record(i),
                };
                let shown = self.server.show_record(record);
                self.log.info(&concat(&[&line, ", key ", &shown]));
            } else {
                self.log.info(&line);
            }
        }
    }
}
