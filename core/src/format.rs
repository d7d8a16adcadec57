//! The key files of real servers, as one table: which keys, in which order, in which layout
//! and encoding. A new server format is one entry of [`FORMATS`].

use zeroize::Zeroizing;

use crate::{Error, Layout, Role, Strength, TICKET_NAME_LEN, TicketKey};

/// How records are written into the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Raw key records, one after the other.
    Raw,
    /// One standard base64 line (RFC 4648 §4, padded) per record, each ending in '\n'.
    Base64Lines,
}

/// Whether the keys go into one file or one file each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Files {
    /// Every key in one file.
    One,
    /// One file per key (nginx: `ssl_session_ticket_key` repeated, the first encrypts).
    OnePerKey,
}

/// Which keys of a [`crate::TicketSlot`] window a format holds, and in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// The current key alone: no overlap across a rotation (Apache, OpenSSL).
    CurrentOnly,
    /// current, next, previous 1, …, previous keep: the first encrypts, all decrypt, and
    /// decrypt-only keys of other main keys may follow (SPEC §5.2).
    CurrentFirst,
    /// previous keep, …, previous 1, current, next with exactly this `keep`: the penultimate
    /// encrypts (HAProxy: exactly previous, current, next).
    OldestFirst {
        /// The only `keep` the format takes.
        keep: u64,
    },
}

/// One server's ticket-key format: an entry of [`FORMATS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Format {
    name: &'static str,
    strength: Strength,
    layout: Layout,
    encoding: Encoding,
    files: Files,
    window: Window,
}

/// Every format, as the CLI and the bindings list them.
pub static FORMATS: [Format; 7] = [
    // nginx `ssl_session_ticket_key`, 80-byte files.
    Format {
        name: "nginx",
        strength: Strength::Aes256,
        layout: Layout::NameHmacAes,
        encoding: Encoding::Raw,
        files: Files::OnePerKey,
        window: Window::CurrentFirst,
    },
    // nginx, 48-byte files: another order than the 80-byte files.
    Format {
        name: "nginx48",
        strength: Strength::Aes128,
        layout: Layout::NameAesHmac,
        encoding: Encoding::Raw,
        files: Files::OnePerKey,
        window: Window::CurrentFirst,
    },
    // HAProxy `tls-ticket-keys`: of the last three lines the middle one encrypts.
    Format {
        name: "haproxy",
        strength: Strength::Aes256,
        layout: Layout::NameAesHmac,
        encoding: Encoding::Base64Lines,
        files: Files::One,
        window: Window::OldestFirst { keep: 1 },
    },
    Format {
        name: "haproxy48",
        strength: Strength::Aes128,
        layout: Layout::NameAesHmac,
        encoding: Encoding::Base64Lines,
        files: Files::One,
        window: Window::OldestFirst { keep: 1 },
    },
    // Apache httpd `SSLSessionTicketKeyFile`: a single key, so tickets of the previous interval
    // fail after a rotation.
    Format {
        name: "apache",
        strength: Strength::Aes128,
        layout: Layout::NameHmacAes,
        encoding: Encoding::Raw,
        files: Files::One,
        window: Window::CurrentOnly,
    },
    // Apache Traffic Server `ticket_key.filename`: the first record encrypts, all decrypt.
    Format {
        name: "ats",
        strength: Strength::Aes128,
        layout: Layout::NameHmacAes,
        encoding: Encoding::Raw,
        files: Files::One,
        window: Window::CurrentFirst,
    },
    // OpenSSL `SSL_CTX_set_tlsext_ticket_keys`: one 80-byte key.
    Format {
        name: "openssl",
        strength: Strength::Aes256,
        layout: Layout::NameHmacAes,
        encoding: Encoding::Raw,
        files: Files::One,
        window: Window::CurrentOnly,
    },
];

impl Format {
    /// The format called `name` (one of [`FORMATS`]).
    pub fn from_name(name: &str) -> Option<Format> {
        FORMATS.iter().find(|f| f.name == name).copied()
    }

    /// The name of the format.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// The strength of the format's keys.
    pub const fn strength(self) -> Strength {
        self.strength
    }

    /// The layout of one key record.
    pub const fn layout(self) -> Layout {
        self.layout
    }

    /// How records are encoded.
    pub const fn encoding(self) -> Encoding {
        self.encoding
    }

    /// One file, or one file per key.
    pub const fn files(self) -> Files {
        self.files
    }

    /// Which keys the format holds, in which order.
    pub const fn window(self) -> Window {
        self.window
    }

    /// `true` when keys of other main keys may follow the window as decrypt-only keys (a
    /// main-key rollover, SPEC §5.2): formats that hold any number of keys, all decrypting.
    pub const fn accepts_decrypt_only(self) -> bool {
        matches!(self.window, Window::CurrentFirst)
    }

    /// Checks that `keep` suits the format (HAProxy takes exactly previous, current, next).
    ///
    /// # Errors
    /// [`Error::FormatKeep`].
    pub const fn check_keep(self, keep: u64) -> Result<(), Error> {
        match self.window {
            Window::OldestFirst { keep: only } if keep != only => Err(Error::FormatKeep {
                format: self.name,
                keep,
            }),
            _ => Ok(()),
        }
    }

    /// How many keys of one main key the format holds with `keep` previous keys.
    pub const fn key_count(self, keep: u64) -> usize {
        match self.window {
            Window::CurrentOnly => 1,
            // keep < 604800 / 10 (TicketSchedule::new), so it fits any usize of 32 bits or more.
            #[allow(clippy::cast_possible_truncation)]
            Window::CurrentFirst | Window::OldestFirst { .. } => keep as usize + 2,
        }
    }

    /// The roles of the keys, in file order, with `keep` previous keys.
    pub fn roles(self, keep: u64) -> impl Iterator<Item = Role> {
        (0..self.key_count(keep)).map(move |i| self.role_at(keep, i as u64))
    }

    /// The role of key `i` (< `key_count(keep)`) in file order.
    fn role_at(self, keep: u64, i: u64) -> Role {
        match self.window {
            Window::CurrentOnly => Role::Current,
            Window::CurrentFirst => match i {
                0 => Role::Current,
                1 => Role::Next,
                n => Role::Previous(n - 1),
            },
            Window::OldestFirst { .. } => {
                if i == keep {
                    Role::Current
                } else if i == keep + 1 {
                    Role::Next
                } else {
                    Role::Previous(keep - i)
                }
            }
        }
    }

    /// Length of one rendered record: 80 or 48 raw bytes, or a base64 line with its newline.
    pub const fn record_len(self) -> usize {
        self.encoding.encoded_len(self.strength.record_len())
    }

    /// Renders one key as the format stores it (raw record, or base64 line ending in '\n') into
    /// the start of `out`; returns the length written.
    ///
    /// # Errors
    /// [`Error::FormatStrength`] when the key's strength is not the format's, or
    /// [`Error::BufferTooSmall`]; nothing is written then.
    pub fn render_key(self, key: &TicketKey, out: &mut [u8]) -> Result<usize, Error> {
        if key.strength() != self.strength {
            return Err(Error::FormatStrength { format: self.name });
        }
        let len = self.record_len();
        let Some(dst) = out.get_mut(..len) else {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                needed: len,
            });
        };
        let mut raw = Zeroizing::new([0u8; 80]);
        let n = key.write_record(self.layout, &mut raw[..])?;
        self.encoding.encode(&raw[..n], dst);
        Ok(len)
    }

    /// The key names in `content`, an installed key file of this format (for nginx, one
    /// per-key file), in file order: `None` for a record that is not valid (a line that is not
    /// base64, or decodes to fewer than 16 bytes). A trailing partial raw record shorter than
    /// a name is skipped.
    pub fn names(self, content: &[u8]) -> impl Iterator<Item = Option<[u8; TICKET_NAME_LEN]>> {
        let (raw, lines) = match self.encoding {
            Encoding::Raw => (content, &[][..]),
            Encoding::Base64Lines => (&[][..], content),
        };
        let raw_names = raw
            .chunks(self.strength.record_len())
            .filter_map(|r| Some(Some(r.get(..TICKET_NAME_LEN)?.try_into().ok()?)));
        let line_names = lines
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(base64_name);
        raw_names.chain(line_names)
    }
}

impl Encoding {
    /// The encoding's name: `"raw"` or `"base64_lines"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Base64Lines => "base64_lines",
        }
    }

    /// Length of one encoded record of `raw_len` bytes.
    pub const fn encoded_len(self, raw_len: usize) -> usize {
        match self {
            Encoding::Raw => raw_len,
            Encoding::Base64Lines => raw_len.div_ceil(3) * 4 + 1,
        }
    }

    /// Encodes `raw` into `out`, which is exactly `encoded_len(raw.len())` bytes.
    fn encode(self, raw: &[u8], out: &mut [u8]) {
        match self {
            Encoding::Raw => out.copy_from_slice(raw),
            Encoding::Base64Lines => {
                if let Some((newline, line)) = out.split_last_mut() {
                    base64_encode(raw, line);
                    *newline = b'\n';
                }
            }
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4); `out` must be `4 * ceil(len / 3)` bytes.
fn base64_encode(input: &[u8], out: &mut [u8]) {
    for (group, o) in input.chunks(3).zip(out.chunks_mut(4)) {
        let b = |k: usize| u32::from(group.get(k).copied().unwrap_or(0));
        let v = (b(0) << 16) | (b(1) << 8) | b(2);
        let sextet = |shift: u32| B64[((v >> shift) & 63) as usize];
        let chars = [
            sextet(18),
            sextet(12),
            if group.len() > 1 { sextet(6) } else { b'=' },
            if group.len() > 2 { sextet(0) } else { b'=' },
        ];
        for (o, c) in o.iter_mut().zip(chars) {
            *o = c;
        }
    }
}

/// The first 16 bytes a standard base64 line decodes to; `None` when the line is not base64 or
/// decodes to fewer than 16 bytes.
fn base64_name(line: &[u8]) -> Option<[u8; TICKET_NAME_LEN]> {
    if line.len() % 4 != 0 {
        return None;
    }
    let mut name = [0u8; TICKET_NAME_LEN];
    let mut n = 0;
    for chunk in line.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut v = 0u32;
        for &c in &chunk[..4 - pad] {
            let digit = B64.iter().position(|&d| d == c)?;
            v = (v << 6) | u32::try_from(digit).ok()?;
        }
        v <<= 6 * pad;
        for &b in &v.to_be_bytes()[1..4 - pad] {
            if let Some(slot) = name.get_mut(n) {
                *slot = b;
            }
            n += 1;
        }
    }
    (n >= TICKET_NAME_LEN).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::{base64_encode, base64_name};

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

    #[test]
    fn names_of_base64_lines() {
        // "0123456789abcdefXY" in base64 (Python: base64.b64encode).
        assert_eq!(
            base64_name(b"MDEyMzQ1Njc4OWFiY2RlZlhZ"),
            Some(*b"0123456789abcdef")
        );
        // 15 bytes only, a bad character, a bad length.
        assert_eq!(base64_name(b"MDEyMzQ1Njc4OWFiY2Rl"), None);
        assert_eq!(base64_name(b"MDEyMzQ1Njc4OWFiY2RlZlh*"), None);
        assert_eq!(base64_name(b"MDEyMzQ1Njc4OWFiY2RlZlh"), None);
    }
}
