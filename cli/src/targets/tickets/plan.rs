//! The dry run of a [`StekTarget`]: what would be written where and when, on stdout (counters,
//! roles, key names; the key bytes only with --print-keys).

use std::fmt::Write as _;

use keywheel::{Encoding, Layout, Strength, TicketSlot, WAKE_FUDGE_NANOS, WAKE_FUDGE_SECS};
use zeroize::Zeroizing;

use crate::servers::{KeyInfo, Rendered, StekFormat};
use crate::sys::log::write_unbuffered;
use crate::sys::text::hex;
use crate::sys::utc::{utc, utc_millis};
use crate::targets::tickets::StekTarget;

impl StekTarget {
    /// The dry-run report on stdout: what would be written where and when.
    pub(super) fn print_plan(&self, slot: &TicketSlot, rendered: &Rendered) {
        let interval = self.schedule.interval();
        let covers = |counter: u64| {
            let start = counter * interval;
            let end = start + interval;
            format!(
                "encrypts during unix time {start}..{end} ({}..{})",
                utc(start),
                utc(end)
            )
        };
        let mut out = Zeroizing::new(String::with_capacity(8192 + 512 * rendered.keys.len()));
        let o = &mut *out;
        let _ = writeln!(o, "dry run: nothing written");
        let _ = writeln!(
            o,
            "  time           {} ({}); interval {interval} s, keep {}, label {:?}",
            slot.now(),
            utc(slot.now()),
            slot.keep(),
            self.label
        );
        let describe = match self.format {
            StekFormat::Server(f) => {
                let layout = match f.layout() {
                    Layout::NameHmacAes => "name|hmac|aes",
                    Layout::NameAesHmac => "name|aes|hmac",
                };
                let cipher = match f.strength() {
                    Strength::Aes256 => "AES-256-CBC",
                    Strength::Aes128 => "AES-128-CBC",
                };
                let raw = f.strength().record_len();
                let coding = if f.encoding() == Encoding::Base64Lines {
                    "base64 lines"
                } else {
                    "raw"
                };
                format!(
                    "{}: {raw}-byte keys {layout} ({cipher} + HMAC-SHA256), {coding}",
                    f.name()
                )
            }
            StekFormat::Seeds(f) => format!(
                "{}: 32-byte seeds for Go's SetSessionTicketKeys (Go hashes each: name = \
                 SHA-512(seed)[0:16], AES-128 + HMAC-SHA256)",
                f.name()
            ),
            StekFormat::Json => "json: counters, roles and key names".to_owned(),
            StekFormat::Own(_) => self.server.describe_own().to_owned(),
        };
        let _ = writeln!(o, "  format         {describe}");
        let key_line = |o: &mut String, prefix: &str, key: &KeyInfo| {
            let _ = writeln!(
                o,
                "{prefix}{:<11} counter {}, name {}, {}",
                key.role_text(),
                key.counter,
                hex(&key.name),
                covers(key.counter)
            );
        };
        let key = |o: &mut String, prefix: &str, i: usize| {
            if let Some(info) = rendered.keys.get(i) {
                key_line(o, prefix, info);
                self.plan_key(o, rendered, i);
            }
        };
        self.server
            .plan(&self.dest(), slot.current(), rendered, o, &key);
        if let Some(socket) = &self.haproxy_socket {
            let _ = writeln!(
                o,
                "  then push      the keys to HAProxy at {} (set ssl tls-key, no reload) so \
                 that it holds exactly these 3",
                socket.display()
            );
        }
        if let Some(cmd) = &self.reload {
            let _ = writeln!(o, "  then run       /bin/sh -c {cmd:?}");
        }
        if self.once {
            let _ = writeln!(o, "  then exit      (--once)");
        } else {
            let _ = writeln!(
                o,
                "  next rotation  unix time {}.{:03} ({}), {WAKE_FUDGE_SECS}.{:02} s after the \
                 interval boundary {}; then current counter {}",
                slot.next_rotation() + WAKE_FUDGE_SECS,
                WAKE_FUDGE_NANOS / 1_000_000,
                utc_millis(
                    slot.next_rotation() + WAKE_FUDGE_SECS,
                    WAKE_FUDGE_NANOS / 1_000_000
                ),
                WAKE_FUDGE_NANOS / 10_000_000,
                slot.next_rotation(),
                slot.current() + 1
            );
        }
        if !self.print_keys {
            let _ = writeln!(
                o,
                "  keys           not shown (add --print-keys to show them)"
            );
        }
        write_unbuffered(std::io::stdout(), out.as_bytes());
    }

    /// With --print-keys, the record of key `i` in the dry-run report.
    fn plan_key(&self, o: &mut String, rendered: &Rendered, i: usize) {
        if self.print_keys && rendered.record_len > 0 {
            let shown = self.server.show_record(rendered.record(i));
            o.push_str("                   key ");
            o.push_str(&shown);
            o.push('\n');
        }
    }
}
