//! The key files of real servers: which keys, in which order, in which layout and encoding.

use crate::{Error, LabelKey, Layout, Role, Strength, TicketKey, TicketSlot};

/// A server's ticket-key format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// nginx `ssl_session_ticket_key`, 80-byte files (name ‖ hmac32 ‖ aes32), one key per file;
    /// the first directive encrypts, all decrypt.
    Nginx,
    /// nginx, 48-byte files (name ‖ aes16 ‖ hmac16: another order than the 80-byte files).
    Nginx48,
    /// HAProxy `tls-ticket-keys`: base64 lines of 80 bytes (name ‖ aes32 ‖ hmac32); of the last
    /// three lines, the middle one encrypts: previous, current, next.
    Haproxy,
    /// HAProxy with 48-byte keys (name ‖ aes16 ‖ hmac16).
    Haproxy48,
    /// Apache httpd `SSLSessionTicketKeyFile`: one 48-byte key (name ‖ hmac16 ‖ aes16). Apache
    /// holds a single key, so tickets of the previous interval fail after a rotation.
    Apache,
    /// Apache Traffic Server `ticket_key.filename`: 48-byte records (name ‖ hmac16 ‖ aes16),
    /// the first encrypts, all decrypt.
    Ats,
    /// OpenSSL `SSL_CTX_set_tlsext_ticket_keys`: one 80-byte key (name ‖ hmac32 ‖ aes32).
    Openssl,
}

/// Every format, in the order of [`Format::NAMES`].
pub const FORMATS: [Format; 7] = [
    Format::Nginx,
    Format::Nginx48,
    Format::Haproxy,
    Format::Haproxy48,
    Format::Apache,
    Format::Ats,
    Format::Openssl,
];

/// [`Format::NAMES`] once in the program (a `const` array is copied where it is used).
static NAME_TABLE: [&str; 7] = Format::NAMES;

/// Length of one base64 line of an 80-byte key, without the newline.
const B64_80: usize = 108;

impl Format {
    /// The names of the formats, as the CLI and the bindings spell them.
    pub const NAMES: [&'static str; 7] = [
        "nginx",
        "nginx48",
        "haproxy",
        "haproxy48",
        "apache",
        "ats",
        "openssl",
    ];

    /// The format called `name` (one of [`Format::NAMES`]).
    pub fn from_name(name: &str) -> Option<Format> {
        let i = NAME_TABLE.iter().position(|n| *n == name)?;
        FORMATS.get(i).copied()
    }

    /// The name of the format.
    pub const fn name(self) -> &'static str {
        // NAMES is in the order of the variants.
        NAME_TABLE[self as usize]
    }

    /// The strength of the format's keys.
    pub const fn strength(self) -> Strength {
        match self {
            Format::Nginx | Format::Haproxy | Format::Openssl => Strength::Aes256,
            Format::Nginx48 | Format::Haproxy48 | Format::Apache | Format::Ats => Strength::Aes128,
        }
    }

    /// The layout of one key record.
    pub const fn layout(self) -> Layout {
        match self {
            Format::Nginx48 | Format::Haproxy | Format::Haproxy48 => Layout::NameAesHmac,
            Format::Nginx | Format::Apache | Format::Ats | Format::Openssl => Layout::NameHmacAes,
        }
    }

    /// `true` for nginx: one key per file. Every other format is one file.
    pub const fn one_file_per_key(self) -> bool {
        matches!(self, Format::Nginx | Format::Nginx48)
    }

    /// `true` when records are base64 lines (HAProxy) rather than raw bytes.
    pub const fn base64_lines(self) -> bool {
        matches!(self, Format::Haproxy | Format::Haproxy48)
    }

    /// `true` when the format holds only the current key (Apache, OpenSSL's
    /// `SSL_CTX_set_tlsext_ticket_keys`): no overlap across a rotation.
    pub const fn current_only(self) -> bool {
        matches!(self, Format::Apache | Format::Openssl)
    }

    /// `true` when the format holds any number of keys, every one of them decrypting (nginx,
    /// nginx48, Traffic Server): keys of another main key can then be appended after the
    /// window as decrypt-only keys, which a main-key rollover needs. HAProxy holds exactly three
    /// keys and Apache and OpenSSL one, so they cannot.
    pub const fn accepts_extra_keys(self) -> bool {
        matches!(self, Format::Nginx | Format::Nginx48 | Format::Ats)
    }

    /// Checks that `keep` suits the format: HAProxy uses exactly three keys (previous, current,
    /// next), so `keep` must be 1.
    ///
    /// # Errors
    /// [`Error::FormatKeep`].
    pub const fn check_keep(self, keep: u64) -> Result<(), Error> {
        if self.base64_lines() && keep != 1 {
            return Err(Error::FormatKeep {
                format: self.name(),
                keep,
            });
        }
        Ok(())
    }

    /// How many keys the format holds in `slot`.
    pub const fn key_count(self, slot: &TicketSlot) -> usize {
        if self.current_only() {
            1
        } else {
            // keep < 604800 / 10 (TicketSchedule::new), so it fits any usize of 32 bits or more.
            #[allow(clippy::cast_possible_truncation)]
            let keep = slot.keep as usize;
            keep + 2
        }
    }

    /// The role of the `i`-th key (0-based) in the format's order, or `None` past the end.
    ///
    /// nginx and Traffic Server: current, next, previous 1, previous 2, … (the first encrypts).
    /// HAProxy: previous k, …, previous 1, current, next (the penultimate encrypts).
    /// Apache and OpenSSL: current.
    pub const fn role(self, slot: &TicketSlot, i: usize) -> Option<Role> {
        let n = self.key_count(slot);
        if i >= n {
            return None;
        }
        Some(if self.base64_lines() {
            if i + 1 == n {
                Role::Next
            } else if i + 2 == n {
                Role::Current
            } else {
                Role::Previous((n - 2 - i) as u64)
            }
        } else {
            match i {
                0 => Role::Current,
                1 => Role::Next,
                _ => Role::Previous(i as u64 - 1),
            }
        })
    }

    /// Length of one rendered record: 80 or 48 raw bytes, or a base64 line with its newline.
    pub const fn record_len(self) -> usize {
        let raw = self.strength().record_len();
        if self.base64_lines() {
            if raw == 80 { B64_80 + 1 } else { 64 + 1 }
        } else {
            raw
        }
    }

    /// Renders one key as the format stores it (raw record, or base64 line ending in '\n') into
    /// the start of `out`; returns the length written.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] (nothing written), or [`Error::FormatStrength`] when the key's
    /// strength is not the format's.
    pub fn render_key(self, key: &TicketKey, out: &mut [u8]) -> Result<usize, Error> {
        if key.strength() != self.strength() {
            return Err(Error::FormatStrength {
                format: self.name(),
            });
        }
        let len = self.record_len();
        let Some(dst) = out.get_mut(..len) else {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                needed: len,
            });
        };
        if !self.base64_lines() {
            return key.write_record(self.layout(), dst);
        }
        let mut raw = zeroize::Zeroizing::new([0u8; 80]);
        let n = key.write_record(self.layout(), &mut raw[..])?;
        if let Some((newline, line)) = dst.split_last_mut() {
            base64_encode(raw.get(..n).unwrap_or_default(), line);
            *newline = b'\n';
        }
        Ok(len)
    }

    /// Length of the whole rendered content for `slot`: every key of the format, in order.
    /// For nginx that is the concatenation of its per-key files.
    pub const fn rendered_len(self, slot: &TicketSlot) -> usize {
        self.key_count(slot) * self.record_len()
    }

    /// Renders every key of the format for `slot`, in the format's order, into `out`; returns the
    /// length written ([`Format::rendered_len`]). For single-file formats this is the file; for
    /// nginx, file `i` is the `i`-th record.
    ///
    /// # Errors
    /// [`Error::FormatKeep`] or [`Error::BufferTooSmall`]; nothing is written then.
    pub fn render(
        self,
        label: &LabelKey,
        slot: &TicketSlot,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_keep(slot.keep)?;
        let total = self.rendered_len(slot);
        if out.len() < total {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                needed: total,
            });
        }
        let mut pos = 0;
        let mut i = 0;
        while let Some(role) = self.role(slot, i) {
            let counter = match slot.counter(role) {
                Some(c) => c,
                None => break,
            };
            let key = label.ticket_key(self.strength(), counter);
            pos += self.render_key(&key, out.get_mut(pos..).unwrap_or_default())?;
            i += 1;
        }
        Ok(pos)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4); `out` must be exactly `4 * ceil(len / 3)` bytes.
fn base64_encode(input: &[u8], out: &mut [u8]) {
    // Character i encodes 6 bits of the 3-byte group i / 4 (zero-padded), or is '=' past the
    // input's end.
    for (i, c) in out.iter_mut().enumerate() {
        let (group, j) = (i / 4 * 3, i % 4);
        let byte = |k: usize| u32::from(input.get(group + k).copied().unwrap_or(0));
        let v = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        *c = if group + j <= input.len() {
            B64[((v >> (18 - 6 * j)) & 63) as usize]
        } else {
            b'='
        };
    }
}

#[cfg(test)]
mod tests {
    use super::base64_encode;

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648 §10.
        for (input, expected) in [
            (&b""[..], &b""[..]),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
        ] {
            let mut out = [0u8; 8];
            let out = &mut out[..expected.len()];
            base64_encode(input, out);
            assert_eq!(out, expected);
        }
    }
}
