//! `--format json`: the window of keys described for tooling (counters, roles, the key names of
//! both strengths; the key bytes only with --print-keys), written to a file or to stdout, and
//! read back by `keywheel status`. Made and read with serde_json; the layout is serde_json's
//! pretty form with each key's name object on one line.

use std::fmt::Write as _;
use std::io;

use keywheel::{Role, Strength, TicketKeys, TicketSchedule, TicketSlot};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::ser::{CharEscape, Formatter, PrettyFormatter};
use zeroize::Zeroizing;

use crate::servers::{Installed, KeyInfo, Out, Rendered, Server, plan_one_file, write_one_file};
use crate::sys::log::write_unbuffered;
use crate::sys::text::{hex, hex_secret};

/// The JSON description.
pub(crate) struct Json;

impl Server for Json {
    fn formats(&self) -> &'static [&'static str] {
        &["json"]
    }

    fn install(&self, out: &Out<'_>, _counter: u64, keys: &Rendered) -> Result<Installed, String> {
        if is_stdout(out) {
            write_unbuffered(io::stdout(), &keys.bytes);
            return Ok(Installed {
                what: "the JSON to stdout".to_owned(),
                removed: Vec::new(),
                cleanup_errors: Vec::new(),
                repair: None,
            });
        }
        write_one_file(out, keys)
    }

    fn record_word(&self) -> &'static str {
        "key"
    }

    fn plan(
        &self,
        out: &Out<'_>,
        _counter: u64,
        keys: &Rendered,
        o: &mut String,
        key: &dyn Fn(&mut String, &str, usize),
    ) {
        if is_stdout(out) {
            let _ = writeln!(o, "  would print    the JSON on stdout");
            return;
        }
        plan_one_file(out, keys, self.record_word(), o, key);
    }
}

/// `--out -`: standard output.
pub(crate) fn is_stdout(out: &Out<'_>) -> bool {
    out.path.as_os_str() == "-"
}

/// The whole description.
#[derive(Serialize)]
struct Description<'a> {
    label: &'a str,
    interval: u64,
    keep: u64,
    time: u64,
    current: u64,
    next_rotation: u64,
    max_ticket_age: u64,
    keys: Vec<Key>,
}

/// One key of the window.
#[derive(Serialize)]
struct Key {
    counter: u64,
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    age: Option<u64>,
    current_from: u64,
    current_until: u64,
    aes256: KeyOf,
    aes128: KeyOf,
}

/// A key of one strength: its public name, and its bytes with --print-keys.
#[derive(Serialize)]
struct KeyOf {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    aes_key: Option<SecretHex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hmac_key: Option<SecretHex>,
}

/// Hex of key bytes, wiped on drop.
struct SecretHex(Zeroizing<String>);

impl Serialize for SecretHex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// What `keywheel status` reads back from an installed description.
#[derive(Deserialize)]
struct Head {
    current: u64,
}

/// The counter of the encrypting key in a description written by [`render`]; `None` when the
/// content is not such a description.
pub(crate) fn installed_counter(content: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Head>(content)
        .ok()
        .map(|h| h.current)
}

/// serde_json's pretty layout, but objects nested deeper than a key (the per-strength
/// objects) on one line, and every control character as `\u00XX`.
struct Layout {
    pretty: PrettyFormatter<'static>,
    depth: usize,
}

/// Objects at this depth and deeper are written on one line.
const INLINE_DEPTH: usize = 4;

impl Layout {
    fn inline(&self) -> bool {
        self.depth >= INLINE_DEPTH
    }
}

impl Formatter for Layout {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.pretty.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        self.pretty.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(w)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        if self.inline() {
            w.write_all(b"{")
        } else {
            self.pretty.begin_object(w)
        }
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        let inline = self.inline();
        self.depth -= 1;
        if inline {
            w.write_all(b"}")
        } else {
            self.pretty.end_object(w)
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if self.inline() {
            w.write_all(if first { b"" } else { b", " })
        } else {
            self.pretty.begin_object_key(w, first)
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(w)
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        match escape {
            CharEscape::Backspace => w.write_all(b"\\u0008"),
            CharEscape::FormFeed => w.write_all(b"\\u000c"),
            other => self.pretty.write_char_escape(w, other),
        }
    }
}

/// The description of `slot` for `label_name` with the keys `keys_of(strength)` makes; the key
/// bytes only with `print_keys`. Written into one buffer, wiped on drop.
pub(crate) fn render(
    label_name: &str,
    schedule: TicketSchedule,
    slot: &TicketSlot,
    keys_of: &dyn Fn(Strength) -> Result<TicketKeys, String>,
    print_keys: bool,
) -> Result<Rendered, String> {
    let interval = schedule.interval();
    let (aes256, aes128) = (keys_of(Strength::Aes256)?, keys_of(Strength::Aes128)?);
    let of = |keys: &TicketKeys, counter: u64| -> Result<KeyOf, String> {
        let key = keys.by_counter(counter).map_err(|e| e.to_string())?;
        Ok(KeyOf {
            name: hex(key.name()),
            aes_key: print_keys.then(|| SecretHex(hex_secret(key.aes_key()))),
            hmac_key: print_keys.then(|| SecretHex(hex_secret(key.hmac_key()))),
        })
    };
    let description = Description {
        label: label_name,
        interval,
        keep: slot.keep(),
        time: slot.now(),
        current: slot.current(),
        next_rotation: slot.next_rotation(),
        max_ticket_age: schedule.max_ticket_age(),
        keys: slot
            .window()
            .map(|(counter, role)| -> Result<Key, String> {
                Ok(Key {
                    counter,
                    role: match role {
                        Role::Current => "current",
                        Role::Next => "next",
                        Role::Previous(_) => "previous",
                    },
                    age: match role {
                        Role::Previous(age) => Some(age),
                        _ => None,
                    },
                    current_from: counter * interval,
                    current_until: (counter + 1) * interval,
                    aes256: of(&aes256, counter)?,
                    aes128: of(&aes128, counter)?,
                })
            })
            .collect::<Result<_, String>>()?,
    };
    // Room for every key with its bytes, so the buffer never moves (leaving a copy).
    let mut bytes = Zeroizing::new(Vec::with_capacity(4096 + 1024 * description.keys.len()));
    let layout = Layout {
        pretty: PrettyFormatter::new(),
        depth: 0,
    };
    let mut serializer = serde_json::Serializer::with_formatter(&mut *bytes, layout);
    description
        .serialize(&mut serializer)
        .map_err(|e| format!("cannot encode JSON: {e}"))?;
    bytes.push(b'\n');
    let keys = slot
        .window()
        .map(|(counter, role)| {
            Ok(KeyInfo {
                counter,
                role,
                extra: None,
                name: aes256.name_by_counter(counter).map_err(|e| e.to_string())?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Rendered {
        bytes,
        keys,
        record_len: 0,
        time: None,
        ours: Zeroizing::new(Vec::new()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn encode(value: &impl Serialize) -> String {
        let mut out = Vec::new();
        let layout = Layout {
            pretty: PrettyFormatter::new(),
            depth: 0,
        };
        value
            .serialize(&mut serde_json::Serializer::with_formatter(
                &mut out, layout,
            ))
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_with_u_escapes_for_controls() {
        assert_eq!(
            encode(&"a\"b\\c\nd\u{1}\u{8}\u{c}é"),
            r#""a\"b\\c\nd\u0001\u0008\u000cé""#
        );
    }

    #[test]
    fn deep_objects_are_on_one_line() {
        let value = serde_json::json!({"a": [{"b": {"c": 1, "d": "x"}}]});
        assert_eq!(
            encode(&value),
            "{\n  \"a\": [\n    {\n      \"b\": {\"c\": 1, \"d\": \"x\"}\n    }\n  ]\n}"
        );
    }

    #[test]
    fn the_counter_is_read_back() {
        assert_eq!(
            installed_counter(b"{\"label\": \"x\", \"current\": 12}"),
            Some(12)
        );
        assert_eq!(installed_counter(b"{\"current\": \"12\"}"), None);
        assert_eq!(installed_counter(b"not json"), None);
    }
}
