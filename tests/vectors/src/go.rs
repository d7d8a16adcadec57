//! The `go_seeds` section of the vectors (SPEC.md §4.5): the 32-byte session-ticket seeds of Go's
//! `crypto/tls` and Caddy, a window of them in Go's order, and Go's name of each seed.

use keywheel::GoSeeds;
use sha2::{Digest, Sha512};

use super::{KeyInput, MainKeyRule, REFERENCE_TIME, Role, Serialize, TicketSchedule, hex};

pub(crate) const GO_SEEDS_COMMENT: &str = "Session-ticket seeds for Go's crypto/tls \
(Config.SetSessionTicketKeys) and Caddy (SPEC.md 4.5) of (main_key, label) in the ticket schedule \
(interval, keep) at 'time': seed(counter) = derive_key(label_key, 'kwts-g32', counter, 32), with \
label_key as in 'ticket_key'. 'seeds' is the window in Go's order: current (it encrypts), next, \
previous 1, ..., previous keep; 'output' is their concatenation (keywheel's 'go' format, what \
the 'caddy' format stores as Keys). go_name = SHA-512(seed)[0:16], the key name Go up to 1.20 \
puts in clear at the start of every ticket (Go's AES-128 key is SHA-512(seed)[16:32], its \
HMAC-SHA256 key [32:48]): not computed by keywheel's core, given so that tools can match \
tickets.";

/// One seed of a window.
#[derive(Debug, Serialize)]
pub struct GoSeedEntry {
    /// Interval counter, decimal.
    pub counter: String,
    /// `current`, `next` or `previous`.
    pub role: &'static str,
    /// For a previous seed: how many intervals ago.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u64>,
    /// The seed, hex (32 bytes).
    pub seed: String,
    /// SHA-512(seed)[0:16], hex.
    pub go_name: String,
}

/// One window of seeds.
#[derive(Debug, Serialize)]
pub struct GoSeedsCase {
    /// Main key material, hex.
    pub main_key: String,
    /// The rule that produced `main_key`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_key_rule: Option<MainKeyRule>,
    /// The label.
    pub label: String,
    /// The label's UTF-8 bytes, hex.
    pub label_hex: String,
    /// Rotation interval, seconds.
    pub interval: u64,
    /// Previous seeds kept.
    pub keep: u64,
    /// Unix time, seconds.
    pub time: u64,
    /// Counter of the current seed, decimal.
    pub current: String,
    /// Start of the next interval.
    pub next_rotation: u64,
    /// The window in Go's order.
    pub seeds: Vec<GoSeedEntry>,
    /// The seeds concatenated, hex.
    pub output: String,
}

/// Go's name of a seed's ticket key: SHA-512(seed)[0:16].
pub(crate) fn go_name(seed: &[u8]) -> String {
    hex(&Sha512::digest(seed)[..16])
}

fn go_case(key: &KeyInput, label: &str, interval: u64, keep: u64, time: u64) -> GoSeedsCase {
    let seeds = GoSeeds::new(&key.main_key(), label).expect("label of 1..=64 bytes");
    let slot = TicketSchedule::new(interval, keep)
        .expect("valid interval and keep")
        .at(time)
        .expect("valid time");
    let roles = [Role::Current, Role::Next]
        .into_iter()
        .chain((1..=keep).map(Role::Previous));
    let mut entries = Vec::new();
    let mut output = String::new();
    for role in roles {
        let counter = slot.counter(role).expect("a role of the window");
        let seed = seeds.seed(counter);
        output.push_str(&hex(seed.bytes()));
        entries.push(GoSeedEntry {
            counter: counter.to_string(),
            role: role.as_str(),
            age: role.age(),
            seed: hex(seed.bytes()),
            go_name: go_name(seed.bytes()),
        });
    }
    GoSeedsCase {
        main_key: hex(&key.material),
        main_key_rule: key.rule,
        label: label.to_owned(),
        label_hex: hex(label.as_bytes()),
        interval,
        keep,
        time,
        current: slot.current().to_string(),
        next_rotation: slot.next_rotation(),
        seeds: entries,
        output,
    }
}

/// The cases: SPEC.md §4.5's example, Caddy's defaults, keep 0, a week-long window, UTF-8
/// labels and the ends of the time range.
pub(crate) fn go_seed_cases() -> Vec<GoSeedsCase> {
    let spec = KeyInput::rule(32, 1, 0);
    let other = KeyInput::rule(32, 7, 3);
    let long = KeyInput::rule(64, 13, 200);
    vec![
        go_case(&spec, "web", 86_400, 1, REFERENCE_TIME),
        go_case(&spec, "web", 86_400, 2, REFERENCE_TIME),
        go_case(&spec, "other", 86_400, 1, REFERENCE_TIME),
        go_case(&other, "example.com", 43_200, 3, REFERENCE_TIME),
        go_case(&other, "example.com", 3_600, 0, REFERENCE_TIME + 1_800),
        go_case(&other, "example.com", 10, 5, REFERENCE_TIME + 9),
        go_case(&long, "café-münchen", 3_600, 1, keywheel::MIN_TIME),
        go_case(&long, "🔑 keywheel", 302_400, 0, keywheel::MAX_TIME),
    ]
}
