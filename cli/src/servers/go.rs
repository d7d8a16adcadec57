//! Go's `crypto/tls` (`Config.SetSessionTicketKeys`) and Caddy take 32-byte seeds (SPEC.md
//! §4.5) rather than name/AES/HMAC records: `--format go` writes the window's seeds
//! concatenated (current, next, previous 1..=keep), `--format go-json` the same as JSON with
//! base64 seeds for tooling, and `--format caddy` (servers/caddy.rs) Caddy's `stek.bin`. This
//! file renders all three and reads them back for `keywheel status`. The go formats are one
//! file replaced atomically (the default server); Caddy's server is servers/caddy.rs.
//!
//! A seed's public name is Go's: the first 16 bytes of SHA-512(seed), which Go up to 1.20 puts
//! in clear at the start of every ticket.

use keywheel::{GO_SEED_LEN, GoSeeds, Role, TICKET_NAME_LEN, TicketKeys, TicketSlot};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::servers::{KeyInfo, Rendered, caddy};
use crate::sys::text::{base64_decode, base64_secret, hex};

/// The seed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeedFormat {
    /// Raw seeds, concatenated.
    Go,
    /// JSON with base64 seeds.
    GoJson,
    /// Caddy's `stek/stek.bin` under a storage root.
    Caddy,
}

impl SeedFormat {
    /// Every seed format.
    pub(crate) const ALL: [SeedFormat; 3] = [SeedFormat::Go, SeedFormat::GoJson, SeedFormat::Caddy];

    /// The name `--format` takes.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            SeedFormat::Go => "go",
            SeedFormat::GoJson => "go-json",
            SeedFormat::Caddy => "caddy",
        }
    }
}

/// One seed, wiped on drop.
pub(crate) type Seed = Zeroizing<[u8; GO_SEED_LEN]>;

/// Go's public name of a seed's ticket key: SHA-512(seed)[0:16].
pub(crate) fn ticket_name(seed: &[u8]) -> [u8; TICKET_NAME_LEN] {
    let mut digest = Sha512::digest(seed);
    let mut name = [0u8; TICKET_NAME_LEN];
    name.copy_from_slice(&digest[..TICKET_NAME_LEN]);
    // Bytes 16..48 are the ticket key's AES and HMAC keys.
    zeroize::Zeroize::zeroize(&mut digest[..]);
    name
}

/// The seeds of `slot`'s window, in Go's order (core's [`GoSeeds::role`]: current — the one
/// that encrypts —, next, previous 1..=keep), with their roles and counters.
fn window(keys: &TicketKeys, slot: &TicketSlot) -> Result<Vec<(Role, u64, Seed)>, String> {
    (0..)
        .map_while(|i| GoSeeds::role(slot, i))
        .filter_map(|role| slot.counter(role).map(|counter| (role, counter)))
        .map(|(role, counter)| {
            let seed = keys.go_seed(counter).map_err(|e| e.to_string())?;
            Ok((role, counter, Zeroizing::new(*seed.bytes())))
        })
        .collect()
}

/// The JSON form (SPEC.md §4.5).
#[derive(Serialize, Deserialize)]
struct SeedsJson {
    interval: u64,
    keep: u64,
    current: u64,
    next_rotation: u64,
    seeds: Vec<String>,
}

/// Renders `slot`'s seeds of the label of `keys` (main key or forward-secure state) in
/// `format`. `previous` (forward-secure mode: the keys of the previous interval, when the
/// state still reaches them) gives the previous window's oldest seed that `keys`, punctured to
/// this window, no longer derives.
pub(crate) fn render(
    format: SeedFormat,
    keys: &TicketKeys,
    previous: Option<&TicketKeys>,
    slot: &TicketSlot,
) -> Result<Rendered, String> {
    let schedule = keys.schedule();
    let keep = schedule.keep();
    let interval = schedule.interval();
    let window = window(keys, slot)?;
    let current = slot.counter(Role::Current).unwrap_or_default();
    let infos = window
        .iter()
        .map(|(role, counter, seed)| KeyInfo {
            counter: *counter,
            role: *role,
            extra: None,
            name: ticket_name(&seed[..]),
        })
        .collect();
    let (bytes, record_len) = match format {
        SeedFormat::Go => {
            let mut bytes = Zeroizing::new(Vec::with_capacity(window.len() * GO_SEED_LEN));
            for (_, _, seed) in &window {
                bytes.extend_from_slice(&seed[..]);
            }
            (bytes, GO_SEED_LEN)
        }
        SeedFormat::GoJson => {
            let b64: Vec<Zeroizing<String>> = window
                .iter()
                .map(|(_, _, s)| base64_secret(&s[..]))
                .collect();
            let doc = Zeroizing::new(SeedsJson {
                interval,
                keep,
                current,
                next_rotation: (current + 1) * interval,
                seeds: b64.iter().map(|s| s.as_str().to_owned()).collect(),
            });
            // Room for the whole text up front, so that the buffer never moves (no copies of
            // the seeds are left behind in freed memory).
            let mut bytes = Zeroizing::new(Vec::with_capacity(256 + 48 * window.len()));
            serde_json::to_writer(&mut *bytes, &*doc).map_err(|e| e.to_string())?;
            bytes.push(b'\n');
            (bytes, 0)
        }
        SeedFormat::Caddy => {
            let grace = caddy::default_grace(interval);
            let (last, next) = caddy::rotation_times(current, interval, grace);
            let list: Zeroizing<Vec<[u8; GO_SEED_LEN]>> =
                Zeroizing::new(window.iter().map(|(_, _, s)| **s).collect());
            let bytes = caddy::encode(&list, last, next).map_err(|e| e.to_string())?;
            (bytes, 0)
        }
    };
    // Every seed keywheel may have installed lately: this window and the previous one's
    // oldest (Caddy's repair tells keywheel's files from Caddy's own keys with them). A
    // forward-secure state punctured to this window no longer has that one: `previous` does
    // while the state reaches it.
    let mut ours: Zeroizing<Vec<[u8; GO_SEED_LEN]>> =
        Zeroizing::new(window.iter().map(|(_, _, s)| **s).collect());
    if let Some(older) = current.checked_sub(keep + 1) {
        let seed = keys
            .go_seed(older)
            .or_else(|e| previous.map_or(Err(e), |p| p.go_seed(older)));
        if let Ok(seed) = seed {
            ours.push(*seed.bytes());
        }
    }
    Ok(Rendered {
        bytes,
        keys: infos,
        record_len,
        time: None,
        ours,
    })
}

impl zeroize::Zeroize for SeedsJson {
    fn zeroize(&mut self) {
        for s in &mut self.seeds {
            s.zeroize();
        }
    }
}

/// The key names (hex of Go's names) of an installed file of `format`, in file order;
/// "(not a seed)" for a trailing piece shorter than a seed, nothing for an unreadable file.
pub(crate) fn installed_names(format: SeedFormat, content: &[u8]) -> Vec<String> {
    let names = |seeds: &mut dyn Iterator<Item = &[u8]>| -> Vec<String> {
        seeds
            .map(|s| {
                if s.len() == GO_SEED_LEN {
                    hex(&ticket_name(s))
                } else {
                    "(not a seed)".to_owned()
                }
            })
            .collect()
    };
    match format {
        SeedFormat::Go => names(&mut content.chunks(GO_SEED_LEN)),
        SeedFormat::GoJson => match serde_json::from_slice::<SeedsJson>(content) {
            Ok(doc) => {
                let doc = Zeroizing::new(doc);
                let raw: Vec<Zeroizing<Vec<u8>>> = doc
                    .seeds
                    .iter()
                    .map(|s| base64_decode(s.as_bytes()).unwrap_or_default())
                    .collect();
                names(&mut raw.iter().map(|r| &r[..]))
            }
            Err(_) => Vec::new(),
        },
        SeedFormat::Caddy => match caddy::decode(content) {
            Ok(stek) => names(&mut stek.keys.iter().map(|k| &k[..])),
            Err(_) => Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ticket_name_is_sha512_prefix() {
        // Python: hashlib.sha512(bytes(range(32))).hexdigest()[:32]
        let seed: Vec<u8> = (0..32).collect();
        assert_eq!(hex(&ticket_name(&seed)), "3d94eea49c580aef816935762be04955");
    }

    #[test]
    fn go_json_is_spec_form() {
        // SPEC.md §4.5: main key bytes 0..=31, label "web", interval 86400, keep 1, time
        // 1700000000; seeds from Python hashlib (tests/servers/reference.py).
        let main: Vec<u8> = (0..32).collect();
        let main = keywheel::MainKey::from_bytes(&main).unwrap();
        let schedule = keywheel::TicketSchedule::new(86_400, 1).unwrap();
        let keys = TicketKeys::new(&main, "web", keywheel::Strength::Aes256, schedule).unwrap();
        let slot = schedule.at(1_700_000_000).unwrap();
        let r = render(SeedFormat::GoJson, &keys, None, &slot).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&r.bytes).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "interval": 86400, "keep": 1, "current": 19675, "next_rotation": 1_700_006_400u64,
                "seeds": [
                    "+E+ZJHW8t9cpY9ttobTglqJuZ8x8RzH4HNaq4hrUiDk=",
                    "5AkI2Qv29Vukq98J0IOH9RZGFm37lRWEnEXXYGK2wrw=",
                    "3zVnBf6UrHBu5DfdXaKrII9yrNGyF6fUnAUKMLZNLEY=",
                ]
            })
        );
        assert_eq!(r.bytes.last(), Some(&b'\n'));
        let raw = render(SeedFormat::Go, &keys, None, &slot).unwrap();
        assert_eq!(raw.bytes.len(), 96);
        assert_eq!(
            installed_names(SeedFormat::GoJson, &r.bytes),
            installed_names(SeedFormat::Go, &raw.bytes)
        );
        let names: Vec<String> = raw.keys.iter().map(|k| hex(&k.name)).collect();
        assert_eq!(installed_names(SeedFormat::Go, &raw.bytes), names);
        assert_eq!(
            installed_names(SeedFormat::Go, &raw.bytes[..40]),
            [names[0].clone(), "(not a seed)".to_owned()]
        );
    }
}
