//! HAProxy: `tls-ticket-keys FILE` on a `bind` line, base64 lines (80 or 48-byte keys: name ‖
//! aes ‖ hmac), the middle of the last three encrypting; the file is replaced atomically and
//! the keys are pushed through the admin socket (no reload).
//!
//! Rotating HAProxy's session-ticket keys through its runtime API (the admin stats socket), with
//! no reload: `show tls-keys` to find and read the ring of a `tls-ticket-keys` file, then
//! `set ssl tls-key` pushes until the ring holds exactly [previous, current, next], verified by
//! reading it back. The algorithm is section 4 of tests/servers/haproxy-notes.md.
//!
//! One push is one native rotation of HAProxy's three-key ring: `[p, c, n]` becomes
//! `[c, n, new]`. From any state, the smallest `s` in 0..=3 with `held[s..] == target[..3 - s]`
//! gives the pushes needed: `target[3 - s..]` (three pushes overwrite every slot).

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::servers::{Out, Rendered, Server};
use crate::sys::os::strerror;

/// The longest a socket exchange may take while installing keys.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a socket exchange may take for `keywheel status`.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest answer read from the socket.
const MAX_ANSWER: usize = 64 * 1024;
/// How many times the whole find/read/push/verify sequence is tried.
const ATTEMPTS: usize = 3;
/// HAProxy's answer to a successful `set ssl tls-key`.
const UPDATED: &[u8] = b"TLS ticket key updated!";

/// HAProxy (both key sizes).
pub(crate) struct Haproxy;

impl Server for Haproxy {
    fn formats(&self) -> &'static [&'static str] {
        &["haproxy", "haproxy48"]
    }

    /// Step 2–5 of the HAProxy algorithm (the file is written already).
    fn push(&self, out: &Out<'_>, socket: &Path, keys: &Rendered) -> Result<String, String> {
        let lines: Vec<&[u8]> = keys
            .bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let [previous, current, next] = lines[..] else {
            return Err(format!(
                "internal error: {} base64 lines instead of 3",
                lines.len()
            ));
        };
        let synced = Socket {
            socket,
            file: out.path,
            format: out.format.name(),
            timeout: PUSH_TIMEOUT,
        }
        .sync([previous, current, next])?;
        let what = match synced.pushes {
            0 => "already held them".to_owned(),
            1 => "pushed 1 key".to_owned(),
            n => format!("pushed {n} keys"),
        };
        let counter = |i: usize| keys.keys.get(i).map_or(0, |k| k.counter);
        Ok(format!(
            "HAProxy at {}: ring {} of {} holds counters {}, {}, {} (previous, current, next); \
             {what}{}",
            socket.display(),
            synced.ring,
            out.path.display(),
            counter(0),
            counter(1),
            counter(2),
            if synced.attempts > 1 {
                format!(" ({} attempts)", synced.attempts)
            } else {
                String::new()
            }
        ))
    }

    fn held(&self, out: &Out<'_>, socket: &Path) -> Option<Result<Zeroizing<Vec<u8>>, String>> {
        let socket = Socket {
            socket,
            file: out.path,
            format: out.format.name(),
            timeout: STATUS_TIMEOUT,
        };
        Some(socket.held())
    }

    fn record_word(&self) -> &'static str {
        "line"
    }

    /// A base64 line, without its newline.
    fn show_record(&self, record: &[u8]) -> Zeroizing<String> {
        let line = record.strip_suffix(b"\n").unwrap_or(record);
        Zeroizing::new(String::from_utf8_lossy(line).into_owned())
    }
}

/// What a successful synchronisation did.
#[derive(Debug, PartialEq, Eq)]
struct Synced {
    /// The ring's id, as used in commands ("#0").
    ring: String,
    /// Keys pushed in the last attempt (0 when the ring already held the target).
    pushes: usize,
    /// Attempts needed (1 unless HAProxy changed under us, e.g. reloaded).
    attempts: usize,
}

/// One HAProxy admin socket and the `tls-ticket-keys` file whose ring is to be set.
struct Socket<'a> {
    /// The stats socket (`stats socket PATH level admin`).
    socket: &'a Path,
    /// The keys file, as given with `--out` (and as written on the `bind` line).
    file: &'a Path,
    /// The format's name, for messages ("haproxy" or "haproxy48").
    format: &'a str,
    /// Give up after this long.
    timeout: Duration,
}

impl Socket<'_> {
    fn prefix(&self) -> String {
        format!("HAProxy at {}", self.socket.display())
    }

    /// Sends one command line and reads the answer until HAProxy closes the connection. The
    /// answer (which may hold keys) is wiped on drop.
    fn ask(&self, line: &[u8], deadline: Instant) -> Result<Zeroizing<Vec<u8>>, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "{}: no complete answer within {} s",
                self.prefix(),
                self.timeout.as_secs()
            ));
        }
        let io = |e: std::io::Error| {
            let what = if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                "timed out".to_owned()
            } else {
                strerror(&e)
            };
            format!("{}: {what}", self.prefix())
        };
        let mut stream = UnixStream::connect(self.socket)
            .map_err(|e| format!("cannot connect to {}: {}", self.prefix(), strerror(&e)))?;
        stream.set_read_timeout(Some(left)).map_err(io)?;
        stream.set_write_timeout(Some(left)).map_err(io)?;
        stream.write_all(line).map_err(io)?;
        let mut buf = Zeroizing::new(vec![0u8; MAX_ANSWER]);
        let mut len = 0;
        loop {
            let Some(room) = buf.get_mut(len..).filter(|r| !r.is_empty()) else {
                return Err(format!(
                    "{}: answer longer than {MAX_ANSWER} bytes",
                    self.prefix()
                ));
            };
            match stream.read(room) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{}: no complete answer within {} s",
                    self.prefix(),
                    self.timeout.as_secs()
                ));
            }
        }
        buf.truncate(len);
        Ok(buf)
    }

    /// Step 2: the ring id of our file in `show tls-keys`.
    fn find_ring(&self, deadline: Instant) -> Result<String, String> {
        let answer = self.ask(b"show tls-keys\n", deadline)?;
        let text = String::from_utf8_lossy(&answer);
        let Some(rings) = parse_rings(&text) else {
            return Err(format!(
                "{}: unexpected answer to `show tls-keys`: {}",
                self.prefix(),
                first_line(&answer)
            ));
        };
        let given = self.file.as_os_str().as_bytes();
        let found = rings
            .iter()
            .find(|(_, f)| f.as_bytes() == given)
            .or_else(|| {
                let real = std::fs::canonicalize(self.file).ok()?;
                rings
                    .iter()
                    .find(|(_, f)| std::fs::canonicalize(f).ok().as_ref() == Some(&real))
            });
        match found {
            Some((id, _)) => Ok(format!("#{id}")),
            None => {
                let have: Vec<&str> = rings.iter().map(|(_, f)| *f).collect();
                Err(format!(
                    "{} has no tls-ticket-keys ring for {} (it has: {}); the bind line must say \
                     \"tls-ticket-keys {}\"",
                    self.prefix(),
                    self.file.display(),
                    if have.is_empty() {
                        "none".to_owned()
                    } else {
                        have.join(", ")
                    },
                    self.file.display()
                ))
            }
        }
    }

    /// Step 3: the three keys of ring `id` as base64 (previous, current, next).
    fn read_ring(&self, id: &str, deadline: Instant) -> Result<Zeroizing<Vec<u8>>, String> {
        let mut line = Zeroizing::new(Vec::with_capacity(32));
        line.extend_from_slice(b"show tls-keys ");
        line.extend_from_slice(id.as_bytes());
        line.push(b'\n');
        self.ask(&line, deadline)
    }

    /// Parses the answer of [`Socket::read_ring`]: lines `<n>.<k> <base64>`, k = 0, 1, 2.
    fn parse_ring<'b>(&self, id: &str, answer: &'b [u8]) -> Result<[&'b [u8]; 3], String> {
        let number = id.trim_start_matches('#').as_bytes();
        let mut held: [Option<&[u8]>; 3] = [None; 3];
        let mut count = 0;
        for line in answer.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            count += 1;
            let slot = line
                .strip_prefix(number)
                .and_then(|rest| rest.strip_prefix(b"."))
                .and_then(|rest| match rest {
                    [k @ b'0'..=b'2', b' ', key @ ..] if !key.is_empty() => {
                        Some((usize::from(k - b'0'), key))
                    }
                    _ => None,
                });
            match slot {
                Some((k, key)) if held[k].is_none() => held[k] = Some(key),
                _ => {
                    // The answer may hold keys: never print it.
                    return Err(format!(
                        "{}: unexpected answer to `show tls-keys {id}` (line {count} is not \
                         \"{}.<0|1|2> <base64 key>\")",
                        self.prefix(),
                        id.trim_start_matches('#')
                    ));
                }
            }
        }
        match held {
            [Some(a), Some(b), Some(c)] if count == 3 => Ok([a, b, c]),
            _ => Err(format!(
                "{}: `show tls-keys {id}` listed {count} keys, expected 3 (previous, current, \
                 next)",
                self.prefix()
            )),
        }
    }

    /// Step 4: one `set ssl tls-key` push.
    fn push(&self, id: &str, key: &[u8], deadline: Instant) -> Result<(), String> {
        let mut line = Zeroizing::new(Vec::with_capacity(32 + id.len() + key.len()));
        line.extend_from_slice(b"set ssl tls-key ");
        line.extend_from_slice(id.as_bytes());
        line.push(b' ');
        line.extend_from_slice(key);
        line.push(b'\n');
        let answer = self.ask(&line, deadline)?;
        if answer.trim_ascii() == UPDATED {
            Ok(())
        } else {
            Err(format!(
                "{} refused `set ssl tls-key {id} <key>` for {}: {}",
                self.prefix(),
                self.file.display(),
                first_line(&answer)
            ))
        }
    }

    /// The three keys HAProxy holds for our file, as base64 lines (previous, current, next),
    /// each ending in '\n' like the lines of the file; wiped on drop.
    fn held(&self) -> Result<Zeroizing<Vec<u8>>, String> {
        let deadline = Instant::now() + self.timeout;
        let id = self.find_ring(deadline)?;
        let answer = self.read_ring(&id, deadline)?;
        let held = self.parse_ring(&id, &answer)?;
        let mut out = Zeroizing::new(Vec::with_capacity(3 * 110));
        for key in held {
            out.extend_from_slice(key);
            out.push(b'\n');
        }
        Ok(out)
    }

    /// Brings the ring of our file to `target` (base64 of the keys of counters c-1, c, c+1,
    /// without newlines), verifying the result.
    fn sync(&self, target: [&[u8]; 3]) -> Result<Synced, String> {
        let deadline = Instant::now() + self.timeout;
        for attempt in 1..=ATTEMPTS {
            let id = self.find_ring(deadline)?;
            let answer = self.read_ring(&id, deadline)?;
            let held = self.parse_ring(&id, &answer)?;
            if let Some(bad) = held.iter().find(|k| k.len() != target[0].len()) {
                return Err(self.size_error(bad, target[0]));
            }
            let s = (0..=3).find(|&s| held[s..] == target[..3 - s]).unwrap_or(3);
            drop(answer);
            for key in &target[3 - s..] {
                self.push(&id, key, deadline)?;
            }
            let answer = self.read_ring(&id, deadline)?;
            let held = self.parse_ring(&id, &answer)?;
            if held == target {
                return Ok(Synced {
                    ring: id,
                    pushes: s,
                    attempts: attempt,
                });
            }
        }
        Err(format!(
            "{} does not hold the expected keys for {} after {ATTEMPTS} attempts",
            self.prefix(),
            self.file.display()
        ))
    }

    fn size_error(&self, held_b64: &[u8], ours_b64: &[u8]) -> String {
        // Decoded length of padded base64: 3 bytes per 4 characters, less the padding.
        let bytes = |b64: &[u8]| {
            let pad = b64.iter().rev().take_while(|&&b| b == b'=').count().min(2);
            (b64.len() / 4 * 3).saturating_sub(pad)
        };
        let (held, ours) = (bytes(held_b64), bytes(ours_b64));
        let advice = match (held, ours) {
            (48, 80) => " (use --format haproxy48)",
            (80, 48) => " (use --format haproxy)",
            _ => "",
        };
        format!(
            "{} holds {held}-byte keys for {} but --format {} writes {ours}-byte keys{advice}",
            self.prefix(),
            self.file.display(),
            self.format
        )
    }
}

/// The first line of an answer, for error messages (answers to `set ssl tls-key` and
/// `show tls-keys` without an id never hold keys).
/// The rings of a `show tls-keys` answer: lines `<id> (<file>)`, comments and blank lines
/// skipped; `None` when a line is anything else.
fn parse_rings(text: &str) -> Option<Vec<(&str, &str)>> {
    let mut rings = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, rest) = line.split_once(" (")?;
        let file = rest.strip_suffix(')')?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rings.push((id, file));
    }
    Some(rings)
}

fn first_line(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let line = text.trim().lines().next().unwrap_or("(empty answer)");
    line.chars().take(200).collect()
}

/// One fuzz input (the in-tree fuzzer's and AFL's `haproxy_answers` target): the bytes as an
/// answer to `show tls-keys` and to `show tls-keys #1`. Must never panic.
#[cfg(any(test, feature = "fuzz"))]
pub(crate) fn fuzz_target(bytes: &[u8]) {
    let socket = Socket {
        socket: Path::new("/run/haproxy.sock"),
        file: Path::new("/run/keywheel/haproxy.keys"),
        format: "haproxy",
        timeout: Duration::from_secs(1),
    };
    let _ = parse_rings(&String::from_utf8_lossy(bytes));
    let _ = socket.parse_ring("#1", bytes);
    let _ = first_line(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HAProxy's answers to `show tls-keys` and `show tls-keys #<id>` never make the parsers
    /// panic, whatever HAProxy (or something else on the socket) sends.
    #[test]
    fn fuzz_socket_answers() {
        let dict: &[&[u8]] = &[
            b"1.0 ",
            b"1.1 ",
            b"1.2 ",
            b"# id (file)\n",
            b" (",
            b")\n",
            b"\r\n",
        ];
        crate::sys::fuzz::fuzz("haproxy_answers", &[], dict, fuzz_target);
    }
}
