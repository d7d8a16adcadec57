//! The forward-secure sections of the shared vectors (FORWARD_SECRECY.md; SPEC.md section
//! "Forward-secure mode"): states and their files, leaves, ticket keys, TFO keys, advances,
//! errors and malformed state files. Inputs come from fixed rules: seeds from
//! [`MainKeyRule`]-style byte rules, times from a multiplicative sequence modulo 2^40 plus the
//! edges (0, powers of two, 2^40 − 1, the worked example).

use blake2::Blake2bMac;
use blake2::digest::consts::{U16, U32};
use blake2::digest::{FixedOutput, Update};
use keywheel::schedule::Schedule;
use keywheel::ticket::TicketSchedule;
use keywheel::{
    FORMATS, FS_END, FS_LABEL_PERSONAL, Format, Layout, Role, STATE_FILE_MAX_LEN, State,
    StateError, Strength, TfoKeys, TicketKeys,
};
use serde::Serialize;

use crate::ticket::KeyRole;
use crate::{MainKeyRule, Section, error_kind, hex, strength_name};

/// Every forward-secure section, flattened into the top level of the file.
#[derive(Debug, Serialize)]
pub struct ForwardSections {
    /// States: cover, root id and file bytes.
    pub fs_state: Section<FsStateCase>,
    /// Leaves from a state.
    pub fs_leaf: Section<FsLeafCase>,
    /// Ticket keys from a state.
    pub fs_ticket_key: Section<FsTicketKeyCase>,
    /// Ticket keys of a state through `TicketKeys`, rendered in each server format.
    pub fs_ticket_keys: Section<FsTicketKeysCase>,
    /// Go's and Caddy's session-ticket seeds of a state through `TicketKeys`.
    pub fs_go_seeds: Section<FsGoSeedsCase>,
    /// TFO keys from a state.
    pub fs_tfo: Section<FsTfoCase>,
    /// Advances: the resulting file, or the error.
    pub fs_advance: Section<FsAdvanceCase>,
    /// Bad inputs and their errors.
    pub fs_errors: Section<FsErrorCase>,
    /// Malformed state files and their errors.
    pub fs_state_file_errors: Section<FsFileErrorCase>,
}

const STATE_COMMENT: &str = "Forward-secure states. seed is 32 bytes (seed_rule {len, mul, add}: \
byte i = (i * mul + add) % 251). The tree: root = BLAKE2b(key = seed, salt = LE64(40) || 0^8, \
personal = 'keywheel.fsroot'); children of node (h+1, p) with value v: (h, 2p) = BLAKE2b(key = \
v, salt = LE64(h) || 0^8, personal = 'keywheel.fs.L'), (h, 2p+1) the same with 'keywheel.fs.R' \
(32-byte outputs, empty messages, personalizations zero-padded to 16 bytes); root_id = \
BLAKE2b(key = root, personal = 'keywheel.fsid', 8 bytes). The state at s0 is the canonical \
cover of [s0, 2^40): the root when s0 = 0, else (j, s0 >> j) with j the trailing zero bits of \
s0, then (h, (s0 >> h) + 1) for each h in j+1..39 where bit h of s0 is 0; 'cover' lists [h, p] \
in that order. 'file' is the state file v1: 'KWFS' || 01 || 28 || LE16 flags 0 || root id || \
LE64 s0 || u8 n || the n node values || BLAKE2b(unkeyed, personal = 'keywheel.fsck', 16 bytes) \
of all preceding bytes ('checksum').";

const LEAF_COMMENT: &str = "leaf(s) derived from the state at s0 (s >= s0): the value of node \
(0, s), found by walking down from the cover node holding s.";

const TICKET_COMMENT: &str = "Forward-secure ticket keys: leaf = leaf(counter * interval) of the \
state at s0; label_key = BLAKE2b(key = leaf, salt = LE64(interval) || 0^8, personal = \
'keywheel.fslabel', message = label, 32 bytes); then name = derive_key(label_key, kwtn-256 / \
kwtn-128, counter, 16) and aes || hmac = derive_key(label_key, kwtk-256 / kwtk-128, counter, \
64 / 32), exactly as the ticket_key section with label_key in place of the main-key label key. \
record_name_hmac_aes (nginx 80/48-byte files, OpenSSL, Apache, Traffic Server) and \
record_name_aes_hmac (HAProxy) are the key records servers read.";

const TICKET_KEYS_COMMENT: &str = "Forward-secure ticket keys through TicketKeys (every \
binding's ticket-keys object made from a state: C keywheel_ticket_keys_from_state, Python \
TicketKeys.from_state, JS TicketKeys.fromState) with (label, strength of the format, interval, \
keep) at unix time 'time', rendered in 'format' exactly as the formats section renders main-key \
keys: the keys of the window in the format's order ('keys'), each key being the fs_ticket_key \
key of its counter (leaf(counter * interval) of the state at s0), records in the format's layout \
(base64 lines for HAProxy). The object keeps its own copy of the state, advanced to \
'state_start' = max(s0, oldest counter of the window * interval). When s0 is after the start of \
the oldest key accepted at 'time' the object cannot be made: 'error' (kind KeyPunctured) instead \
of 'output'.";

const GO_SEEDS_COMMENT: &str = "Forward-secure session-ticket seeds for Go's crypto/tls and \
Caddy (SPEC.md 4.5 with the label key of 6.3) through TicketKeys made from a state (C \
keywheel_ticket_keys_from_state + keywheel_ticket_keys_go_seed, Python TicketKeys.from_state + \
go_seed, JS TicketKeys.fromState + goSeed) with (label, interval, keep) at unix time 'time' (the \
strength does not matter: aes256 here): seed(counter) = derive_key(label_key, 'kwts-g32', \
counter, 32) with label_key = BLAKE2b(key = leaf(counter * interval), salt = LE64(interval) || \
0^8, personal = 'keywheel.fslabel', message = label, 32 bytes) as in fs_ticket_key. 'seeds' is \
the window in Go's order (current, next, previous 1, ..., previous keep) with each seed's \
label_key and go_name = SHA-512(seed)[0:16]; 'output' their concatenation (the 'go' format, \
Caddy's Keys). The object's copy of the state starts at 'state_start' = max(s0, oldest counter \
of the window * interval); 'refused' lists counters whose seed the object refuses (the one \
before the window: punctured; one past the tree: KeyTime) with the error kind (core Error \
variant) and exact message. When s0 is after the start of the oldest key accepted at 'time' \
the object cannot be made: 'error' (kind KeyPunctured) instead of the rest.";

const TFO_COMMENT: &str = "Forward-secure TCP Fast Open keys (not tofurkey's): key(counter) = \
derive_key(BLAKE2b(key = leaf(counter * interval), salt = LE64(interval) || 0^8, personal = \
'keywheel.fstfo', 32 bytes), 'tofurkey', counter, 16). At unix time 'time', primary and backup \
are the counters of the tfo section's schedule, primary_key and backup_key their keys and \
procfs the kernel text, as in the tfo section.";

const ADVANCE_COMMENT: &str = "advance(state at s0, to): the file of the advanced state (which \
equals the file of the state made at 'to'), or the error: backwards (to < s0) and past the end \
(to >= 2^40) are refused and leave the state unchanged; to = s0 changes nothing.";

const ERRORS_COMMENT: &str = "Bad forward-secure inputs, with the error kind and exact \
message: kind is the name of the variant of the core's StateError, or, for the inputs shared \
with main-key mode (StateError::Input), of the core Error (Interval, LabelLength). operation 'state_new' (seed, s0), 'leaf' (state at s0, s), 'ticket_key' (state at s0, \
label, interval, strength, counter), 'tfo_key' (state at s0, interval, counter). Checks are made \
in the order: seed, s0; label, interval, counter * interval past the tree, before s0. Every number is below 2^53 except counters, written as decimal strings.";

const FILE_ERRORS_COMMENT: &str = "Malformed state files: every one must be refused with kind \
StateFile, the problem (a StateFileError variant) and the exact message. Readers check in file \
order: the magic (on the bytes present), a header shorter than 25 bytes, version, depth, flags, \
s0 < 2^40, n = the cover size of s0, the length (41 + 32 n: shorter is truncated, longer has \
trailing bytes), the checksum.";

/// One state.
#[derive(Debug, Serialize)]
pub struct FsStateCase {
    /// Seed, hex.
    pub seed: String,
    /// The rule that produced the seed.
    pub seed_rule: MainKeyRule,
    /// The state's start.
    pub s0: u64,
    /// Root id, hex.
    pub root_id: String,
    /// Number of nodes.
    pub node_count: usize,
    /// `[h, p]` of each node, in cover order.
    pub cover: Vec<[u64; 2]>,
    /// The state file, hex.
    pub file: String,
    /// Its checksum (the last 16 bytes), hex.
    pub checksum: String,
    /// Why the case is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// One leaf.
#[derive(Debug, Serialize)]
pub struct FsLeafCase {
    /// Seed, hex.
    pub seed: String,
    /// The rule that produced the seed.
    pub seed_rule: MainKeyRule,
    /// The state's start.
    pub s0: u64,
    /// The second.
    pub s: u64,
    /// The leaf, hex.
    pub leaf: String,
}

/// One ticket key.
#[derive(Debug, Serialize)]
pub struct FsTicketKeyCase {
    /// Seed, hex.
    pub seed: String,
    /// The rule that produced the seed.
    pub seed_rule: MainKeyRule,
    /// The state's start.
    pub s0: u64,
    /// The label.
    pub label: String,
    /// The interval, seconds.
    pub interval: u64,
    /// `aes256` or `aes128`.
    pub strength: &'static str,
    /// The counter, decimal.
    pub counter: String,
    /// The leaf of `counter * interval`, hex.
    pub leaf: String,
    /// The forward-secure label key, hex.
    pub label_key: String,
    /// Key name, hex.
    pub name: String,
    /// AES key, hex.
    pub aes: String,
    /// HMAC key, hex.
    pub hmac: String,
    /// name ‖ HMAC ‖ AES, hex.
    pub record_name_hmac_aes: String,
    /// name ‖ AES ‖ HMAC, hex.
    pub record_name_aes_hmac: String,
    /// Why the case is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// The keys of a state through `TicketKeys`, rendered in one format, or the error.
#[derive(Debug, Serialize)]
pub struct FsTicketKeysCase {
    /// The format's name.
    pub format: &'static str,
    /// `aes256` or `aes128`.
    pub strength: &'static str,
    /// `name_hmac_aes` or `name_aes_hmac`.
    pub layout: &'static str,
    /// Seed, hex.
    pub seed: String,
    /// The rule that produced the seed.
    pub seed_rule: MainKeyRule,
    /// The state's start.
    pub s0: u64,
    /// The label.
    pub label: String,
    /// Rotation interval, seconds.
    pub interval: u64,
    /// Number of previous keys accepted.
    pub keep: u64,
    /// Unix time, seconds.
    pub time: u64,
    /// Counter of the encrypting key, decimal.
    pub current: String,
    /// The keys, in output order.
    pub keys: Vec<KeyRole>,
    /// The start of the object's copy of the state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_start: Option<u64>,
    /// The rendered content, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The error when the object cannot be made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FsError>,
    /// Why the case is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// One forward-secure Go seed of a window.
#[derive(Debug, Serialize)]
pub struct FsGoSeedEntry {
    /// Interval counter, decimal.
    pub counter: String,
    /// `current`, `next` or `previous`.
    pub role: &'static str,
    /// For a previous seed: how many intervals ago.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u64>,
    /// The forward-secure label key of the counter, hex.
    pub label_key: String,
    /// The seed, hex (32 bytes).
    pub seed: String,
    /// SHA-512(seed)[0:16], hex.
    pub go_name: String,
}

/// A seed the object refuses, and why.
#[derive(Debug, Serialize)]
pub struct FsGoSeedRefusal {
    /// Interval counter, decimal.
    pub counter: String,
    /// The error.
    pub error: FsError,
}

/// The Go seeds of a state's window through `TicketKeys`, or the error.
#[derive(Debug, Serialize)]
pub struct FsGoSeedsCase {
    /// Seed of the state, hex.
    pub seed: String,
    /// The rule that produced the seed.
    pub seed_rule: MainKeyRule,
    /// The state's start.
    pub s0: u64,
    /// The label.
    pub label: String,
    /// The label's UTF-8 bytes, hex.
    pub label_hex: String,
    /// Rotation interval, seconds.
    pub interval: u64,
    /// Number of previous seeds accepted.
    pub keep: u64,
    /// Unix time, seconds.
    pub time: u64,
    /// Counter of the encrypting seed, decimal.
    pub current: String,
    /// Start of the next interval.
    pub next_rotation: u64,
    /// The start of the object's copy of the state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_start: Option<u64>,
    /// The window in Go's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<FsGoSeedEntry>,
    /// The seeds concatenated, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Counters whose seed is refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<FsGoSeedRefusal>,
    /// The error when the object cannot be made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FsError>,
    /// Why the case is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// TFO keys at one time.
#[derive(Debug, Serialize)]
pub struct FsTfoCase {
    /// Seed, hex.
    pub seed: String,
    /// The rule that produced the seed.
    pub seed_rule: MainKeyRule,
    /// The state's start.
    pub s0: u64,
    /// The interval, seconds.
    pub interval: u64,
    /// Unix time.
    pub time: u64,
    /// Primary counter, decimal.
    pub primary: String,
    /// Backup counter, decimal.
    pub backup: String,
    /// Primary key, hex.
    pub primary_key: String,
    /// Backup key, hex.
    pub backup_key: String,
    /// The procfs text.
    pub procfs: String,
}

/// The error of a refused operation.
#[derive(Debug, Serialize)]
pub struct FsError {
    /// The core error variant.
    pub kind: String,
    /// For `StateFile`: the `StateFileError` variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The exact message.
    pub message: String,
}

/// One advance.
#[derive(Debug, Serialize)]
pub struct FsAdvanceCase {
    /// Seed, hex.
    pub seed: String,
    /// The rule that produced the seed.
    pub seed_rule: MainKeyRule,
    /// The state's start.
    pub s0: u64,
    /// The time to advance to.
    pub to: u64,
    /// The advanced state's file, hex, when accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The error, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FsError>,
}

/// One bad input.
#[derive(Debug, Serialize)]
pub struct FsErrorCase {
    /// `state_new`, `leaf`, `ticket_key` or `tfo_key`.
    pub operation: &'static str,
    /// Seed, hex.
    pub seed: String,
    /// The state's start.
    pub s0: u64,
    /// `leaf`: the second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s: Option<u64>,
    /// `ticket_key`: the label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `ticket_key`, `tfo_key`: the interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// `ticket_key`: the strength.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strength: Option<&'static str>,
    /// `ticket_key`, `tfo_key`: the counter, decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// The error.
    pub error: FsError,
}

/// One malformed state file.
#[derive(Debug, Serialize)]
pub struct FsFileErrorCase {
    /// What was done to a good file.
    pub note: String,
    /// The file, hex.
    pub file: String,
    /// The error.
    pub error: FsError,
}

/// The seeds, by rule; the first is the worked example's (bytes 00..1f).
const SEEDS: [MainKeyRule; 4] = [
    MainKeyRule {
        len: 32,
        mul: 1,
        add: 0,
    },
    MainKeyRule {
        len: 32,
        mul: 7,
        add: 3,
    },
    MainKeyRule {
        len: 32,
        mul: 113,
        add: 250,
    },
    MainKeyRule {
        len: 32,
        mul: 29,
        add: 77,
    },
];

/// The worked example's start (FORWARD_SECRECY.md).
const EXAMPLE_S0: u64 = 1_749_978_000;

/// Pseudo-random times below 2^40: `k * 0x9e3779b97f4a7c15 mod 2^40` (the golden-ratio
/// multiplier) for k = 1..=n.
fn spread(n: u64) -> impl Iterator<Item = u64> {
    (1..=n).map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15) & (FS_END - 1))
}

/// Starts: the edges, then spread times.
fn starts() -> Vec<(u64, Option<&'static str>)> {
    let mut v: Vec<(u64, Option<&'static str>)> = vec![
        (0, Some("s0 = 0: the root alone")),
        (1, Some("s0 = 1: 40 nodes, the most")),
        (1 << 39, Some("a power of two: one node")),
        ((1 << 32) - 1, Some("2^32 - 1")),
        (1 << 20, Some("a power of two")),
        (
            FS_END - 1,
            Some("2^40 - 1: the last second, one node (the leaf)"),
        ),
        (EXAMPLE_S0, Some("FORWARD_SECRECY.md's worked example")),
        (1_750_000_000, None),
    ];
    v.extend(spread(6).map(|s| (s, None)));
    v
}

fn state(rule: &MainKeyRule, s0: u64) -> State {
    State::new(&rule.bytes(), s0).expect("a valid seed and start")
}

fn file_bytes(state: &State) -> Vec<u8> {
    let mut out = vec![0u8; STATE_FILE_MAX_LEN];
    let n = state
        .to_bytes(&mut out)
        .expect("a buffer of the longest file");
    out.truncate(n);
    out
}

/// The first identifier of a `Debug` text: a variant's name.
fn variant(debug: &str) -> String {
    let end = debug
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(debug.len());
    debug[..end].to_owned()
}

/// The name of the variant of a forward-secure error, as written in the `kind` field: the
/// `StateError` variant, or for an input error shared with main-key mode (`StateError::Input`)
/// the core `Error` variant (`Interval`, `LabelLength`, …).
pub fn state_error_kind(error: &StateError) -> String {
    match error {
        StateError::Input(e) => error_kind(e),
        other => variant(&format!("{other:?}")),
    }
}

/// `kind` and the `StateFile` problem of an error.
fn fs_error(error: &StateError) -> FsError {
    let problem = match error {
        StateError::StateFile(p) => Some(variant(&format!("{p:?}"))),
        _ => None,
    };
    FsError {
        kind: state_error_kind(error),
        problem,
        message: error.to_string(),
    }
}

fn state_cases() -> Vec<FsStateCase> {
    let mut cases = Vec::new();
    for (i, rule) in SEEDS.iter().enumerate() {
        for (k, (s0, note)) in starts().into_iter().enumerate() {
            // Every start with the example seed; a third of them with the others.
            if i > 0 && k % 3 != i % 3 {
                continue;
            }
            let st = state(rule, s0);
            let file = file_bytes(&st);
            cases.push(FsStateCase {
                seed: hex(&rule.bytes()),
                seed_rule: *rule,
                s0,
                root_id: hex(&st.root_id()),
                node_count: st.node_count(),
                cover: st.cover().map(|(h, p)| [u64::from(h), p]).collect(),
                checksum: hex(&file[file.len() - 16..]),
                file: hex(&file),
                note,
            });
        }
    }
    cases
}

fn leaf_cases() -> Vec<FsLeafCase> {
    let mut cases = Vec::new();
    for (i, rule) in SEEDS.iter().enumerate() {
        for (k, (s0, _)) in starts().into_iter().enumerate() {
            if i > 0 && k % 2 != i % 2 {
                continue;
            }
            let st = state(rule, s0);
            let far = s0 + (FS_END - 1 - s0) / 3;
            let mut seconds = vec![s0, s0 + 1, s0 + 3599, far, FS_END - 1];
            if s0 == EXAMPLE_S0 {
                seconds.push(1_749_999_600);
            }
            seconds.retain(|&s| s < FS_END);
            seconds.dedup();
            for s in seconds {
                cases.push(FsLeafCase {
                    seed: hex(&rule.bytes()),
                    seed_rule: *rule,
                    s0,
                    s,
                    leaf: hex(st.leaf(s).expect("s >= s0").bytes()),
                });
            }
        }
    }
    cases
}

/// `BLAKE2b(key = leaf, salt = LE64(interval) ‖ 0⁸, personal = "keywheel.fslabel",
/// message = label)`, computed here with the blake2 crate (the core crate keeps it private).
fn fs_label_key(leaf: &[u8; 32], interval: u64, label: &str) -> [u8; 32] {
    let mut mac = Blake2bMac::<U32>::new_with_salt_and_personal(
        Some(leaf),
        &interval.to_le_bytes(),
        FS_LABEL_PERSONAL,
    )
    .expect("a 32-byte key, an 8-byte salt and a 16-byte personalization");
    mac.update(label.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(&mac.finalize_fixed());
    out
}

fn ticket_cases() -> Vec<FsTicketKeyCase> {
    let mut cases = Vec::new();
    // (seed, s0, label, interval, counter, note)
    type Input = (usize, u64, &'static str, u64, u64, Option<&'static str>);
    let mut inputs: Vec<Input> = vec![
        (
            0,
            EXAMPLE_S0,
            "example.com",
            3600,
            486_111,
            Some("FORWARD_SECRECY.md's worked example (aes256 name cc62ca55…)"),
        ),
        (
            0,
            EXAMPLE_S0,
            "example.com",
            3600,
            486_105,
            Some("the first key whose interval starts at s0"),
        ),
        (1, 0, "svc", 10, 0, Some("counter 0 from the root")),
        (
            2,
            0,
            "a",
            604_800,
            1_817_975,
            Some("the last week of the tree"),
        ),
        (
            3,
            1_700_000_000,
            "ünïcødé.example",
            86_400,
            19_676,
            Some("a UTF-8 label"),
        ),
        (
            1,
            1_749_990_000,
            "cluster-a",
            43_200,
            40_510,
            Some("the interval holding s0 started before s0: the next one"),
        ),
    ];
    for (k, s) in spread(4).enumerate() {
        let interval = [10u64, 3600, 86_400, 604_800][k % 4];
        inputs.push((k % 4, s / 2, "spread.example", interval, s / interval, None));
    }
    for (seed, s0, label, interval, counter, note) in inputs {
        let rule = SEEDS[seed];
        let st = state(&rule, s0);
        let leaf = st.leaf(counter * interval).expect("an interval after s0");
        let label_key = fs_label_key(leaf.bytes(), interval, label);
        for strength in [Strength::Aes256, Strength::Aes128] {
            let key = st
                .ticket_key(label, interval, strength, counter)
                .expect("valid inputs");
            let mut a = [0u8; 80];
            let mut b = [0u8; 80];
            let na = key
                .write_record(Layout::NameHmacAes, &mut a)
                .expect("80 bytes");
            let nb = key
                .write_record(Layout::NameAesHmac, &mut b)
                .expect("80 bytes");
            cases.push(FsTicketKeyCase {
                seed: hex(&rule.bytes()),
                seed_rule: rule,
                s0,
                label: label.to_owned(),
                interval,
                strength: strength_name(strength),
                counter: counter.to_string(),
                leaf: hex(leaf.bytes()),
                label_key: hex(&label_key),
                name: hex(key.name()),
                aes: hex(key.aes_key()),
                hmac: hex(key.hmac_key()),
                record_name_hmac_aes: hex(&a[..na]),
                record_name_aes_hmac: hex(&b[..nb]),
                note,
            });
        }
    }
    cases
}

fn tfo_cases() -> Vec<FsTfoCase> {
    let mut cases = Vec::new();
    let mut inputs: Vec<(usize, u64, u64)> = vec![
        (0, 86_400, 1_750_000_000),
        (0, 86_400, 1_750_050_000),
        (1, 10, 1_000_005),
        (2, 604_800, 100_000_000_000),
        (3, 3600, 1_749_978_000),
    ];
    for (k, s) in spread(4).enumerate() {
        inputs.push((
            k % 4,
            [10u64, 3600, 86_400, 604_800][k % 4],
            s % 99_000_000_000 + 1_000_000,
        ));
    }
    for (seed, interval, time) in inputs {
        let rule = SEEDS[seed];
        let schedule = Schedule::new(interval).expect("a valid interval");
        let slot = schedule.at(time).expect("a valid time");
        // The oldest second the keys need: the start of the older of the two intervals.
        let s0 = slot.primary().min(slot.backup()) * interval;
        let st = state(&rule, s0);
        let keys: TfoKeys = st.tfo_keys(&schedule, time).expect("keys after s0");
        cases.push(FsTfoCase {
            seed: hex(&rule.bytes()),
            seed_rule: rule,
            s0,
            interval,
            time,
            primary: slot.primary().to_string(),
            backup: slot.backup().to_string(),
            primary_key: hex(keys.primary()),
            backup_key: hex(keys.backup()),
            procfs: keys.procfs_text().as_str().to_owned(),
        });
    }
    cases
}

fn advance_cases() -> Vec<FsAdvanceCase> {
    let mut inputs: Vec<(usize, u64, u64)> = vec![
        (0, 0, 1),
        (0, 0, EXAMPLE_S0),
        (0, EXAMPLE_S0, EXAMPLE_S0 + 3600),
        (0, EXAMPLE_S0, EXAMPLE_S0),
        (0, EXAMPLE_S0, EXAMPLE_S0 - 1),
        (1, 1, 1 << 39),
        (1, (1 << 39) - 1, 1 << 39),
        (2, 1 << 39, FS_END - 1),
        (2, FS_END - 1, FS_END),
        (3, 0, FS_END - 1),
        (3, 12_345, 0),
    ];
    let times: Vec<u64> = spread(8).collect();
    for (k, pair) in times.chunks(2).enumerate() {
        inputs.push((k % 4, pair[0].min(pair[1]), pair[0].max(pair[1])));
    }
    inputs
        .into_iter()
        .map(|(seed, s0, to)| {
            let rule = SEEDS[seed];
            let mut st = state(&rule, s0);
            let (file, error) = match st.advance(to) {
                Ok(()) => (Some(hex(&file_bytes(&st))), None),
                Err(e) => (None, Some(fs_error(&e))),
            };
            FsAdvanceCase {
                seed: hex(&rule.bytes()),
                seed_rule: rule,
                s0,
                to,
                file,
                error,
            }
        })
        .collect()
}

/// (label, interval, keep, time) of a `fs_ticket_keys` case.
type TicketKeysInput = (&'static str, u64, u64, u64);

fn ticket_keys_case(
    format: Format,
    seed: usize,
    s0: u64,
    (label, interval, keep, time): TicketKeysInput,
    note: Option<&'static str>,
) -> FsTicketKeysCase {
    let rule = SEEDS[seed];
    let st = state(&rule, s0);
    let schedule = TicketSchedule::new(interval, keep).expect("valid interval and keep");
    let slot = schedule.at(time).expect("valid time");
    let (state_start, output, error) =
        match TicketKeys::from_state(&st, label, format.strength(), schedule, time) {
            Ok(keys) => {
                let mut out = vec![0u8; keys.rendered_len(format).expect("valid keep")];
                let n = keys
                    .render(format, time, &mut out)
                    .expect("valid keep and a large enough buffer");
                assert_eq!(n, out.len(), "render fills rendered_len");
                (keys.state_start().map(|(s, _)| s), Some(hex(&out)), None)
            }
            Err(e) => (None, None, Some(fs_error(&e))),
        };
    FsTicketKeysCase {
        format: format.name(),
        strength: strength_name(format.strength()),
        layout: format.layout().as_str(),
        seed: hex(&rule.bytes()),
        seed_rule: rule,
        s0,
        label: label.to_owned(),
        interval,
        keep,
        time,
        current: slot.current().to_string(),
        keys: format
            .roles(slot.keep())
            .map(|role| KeyRole::new(slot.counter(role).expect("role in the window"), role))
            .collect(),
        state_start,
        output,
        error,
        note,
    }
}

fn ticket_keys_cases() -> Vec<FsTicketKeysCase> {
    let mut cases = Vec::new();
    // (seed, s0, (label, interval, keep, time), note)
    let inputs: [(usize, u64, TicketKeysInput, Option<&'static str>); 4] = [
        (
            0,
            EXAMPLE_S0,
            ("example.com", 3600, 1, 1_750_000_000),
            Some("the worked example's key (counter 486111) is the current one"),
        ),
        (
            1,
            0,
            ("cluster-a", 43_200, 2, 1_800_000_000),
            Some("a state at 0: the object's copy is advanced to the oldest key"),
        ),
        (
            2,
            1_700_000_000 - 1_700_000_000 % 86_400 - 86_400,
            ("ünïcødé.example", 86_400, 1, 1_700_000_000),
            Some("s0 is exactly the start of the oldest key"),
        ),
        (
            3,
            1_749_978_000,
            ("late.example", 3600, 1, 1_749_980_000),
            Some("s0 is after the start of the previous key: it was punctured"),
        ),
    ];
    for format in FORMATS {
        for (seed, s0, input, note) in inputs {
            if format.check_keep(input.2).is_ok() {
                cases.push(ticket_keys_case(format, seed, s0, input, note));
            }
        }
    }
    cases
}

fn go_seeds_case(
    seed: usize,
    s0: u64,
    (label, interval, keep, time): TicketKeysInput,
    note: Option<&'static str>,
) -> FsGoSeedsCase {
    let rule = SEEDS[seed];
    let st = state(&rule, s0);
    let schedule = TicketSchedule::new(interval, keep).expect("valid interval and keep");
    let slot = schedule.at(time).expect("valid time");
    let mut case = FsGoSeedsCase {
        seed: hex(&rule.bytes()),
        seed_rule: rule,
        s0,
        label: label.to_owned(),
        label_hex: hex(label.as_bytes()),
        interval,
        keep,
        time,
        current: slot.current().to_string(),
        next_rotation: slot.next_rotation(),
        state_start: None,
        seeds: Vec::new(),
        output: None,
        refused: Vec::new(),
        error: None,
        note,
    };
    let keys = match TicketKeys::from_state(&st, label, Strength::Aes256, schedule, time) {
        Ok(keys) => keys,
        Err(e) => {
            case.error = Some(fs_error(&e));
            return case;
        }
    };
    case.state_start = keys.state_start().map(|(s, _)| s);
    let roles = [Role::Current, Role::Next]
        .into_iter()
        .chain((1..=keep).map(Role::Previous));
    let mut output = String::new();
    for role in roles {
        let counter = slot.counter(role).expect("a role of the window");
        let go = keys.go_seed(counter).expect("a seed of the window");
        let leaf = st.leaf(counter * interval).expect("a key after s0");
        output.push_str(&hex(go.bytes()));
        case.seeds.push(FsGoSeedEntry {
            counter: counter.to_string(),
            role: role.as_str(),
            age: role.age(),
            label_key: hex(&fs_label_key(leaf.bytes(), interval, label)),
            seed: hex(go.bytes()),
            go_name: crate::go::go_name(go.bytes()),
        });
    }
    case.output = Some(output);
    let oldest = slot.current() - keep;
    for counter in [oldest - 1, FS_END.div_ceil(interval)] {
        let e = keys
            .go_seed(counter)
            .expect_err("a punctured or absent seed");
        case.refused.push(FsGoSeedRefusal {
            counter: counter.to_string(),
            error: fs_error(&StateError::Input(e)),
        });
    }
    case
}

fn go_seeds_cases() -> Vec<FsGoSeedsCase> {
    // (seed, s0, (label, interval, keep, time), note)
    let inputs: [(usize, u64, TicketKeysInput, Option<&'static str>); 6] = [
        (
            0,
            EXAMPLE_S0,
            ("example.com", 3600, 1, 1_750_000_000),
            Some("the worked example's state, counter 486111 current"),
        ),
        (
            1,
            0,
            ("web", 86_400, 1, 1_700_000_000),
            Some(
                "a state at 0 (the copy is advanced to the oldest key); SPEC 4.5's label and time",
            ),
        ),
        (
            2,
            1_700_000_000 - 1_700_000_000 % 43_200 - 3 * 43_200,
            ("ünïcødé.example", 43_200, 3, 1_700_000_000),
            Some("s0 is exactly the start of the oldest key"),
        ),
        (
            3,
            1_749_978_000,
            ("caddy.example", 3600, 0, 1_749_980_000),
            Some("keep 0: the current and next seeds only"),
        ),
        (
            0,
            1_000_000,
            ("svc", 10, 5, 1_000_099),
            Some("the shortest interval"),
        ),
        (
            3,
            1_749_978_000,
            ("late.example", 3600, 1, 1_749_980_000),
            Some("s0 is after the start of the previous seed: it was punctured"),
        ),
    ];
    inputs
        .into_iter()
        .map(|(seed, s0, input, note)| go_seeds_case(seed, s0, input, note))
        .collect()
}

fn error_cases() -> Vec<FsErrorCase> {
    let rule = SEEDS[1];
    let seed = rule.bytes();
    let base = |operation, seed: &[u8], s0, error: StateError| FsErrorCase {
        operation,
        seed: hex(seed),
        s0,
        s: None,
        label: None,
        interval: None,
        strength: None,
        counter: None,
        error: fs_error(&error),
    };
    let mut cases = Vec::new();
    for (seed, s0) in [
        (&seed[..31], 0),
        (&[7u8; 33][..], 0),
        (&[][..], 0),
        (&seed[..], FS_END),
        (&seed[..], (1 << 53) - 1),
    ] {
        let e = State::new(seed, s0).expect_err("a bad seed or start");
        cases.push(base("state_new", seed, s0, e));
    }
    for (s0, s) in [
        (EXAMPLE_S0, EXAMPLE_S0 - 1),
        (EXAMPLE_S0, 0),
        (1, 0),
        (0, FS_END),
    ] {
        let e = state(&rule, s0)
            .leaf(s)
            .expect_err("a punctured or absent leaf");
        cases.push(FsErrorCase {
            s: Some(s),
            ..base("leaf", &seed, s0, e)
        });
    }
    for (s0, label, interval, counter) in [
        (EXAMPLE_S0, "example.com", 3600, 486_104),
        (EXAMPLE_S0, "example.com", 3600, u64::MAX),
        (EXAMPLE_S0, "example.com", 604_800, 1_817_976),
        (EXAMPLE_S0, "example.com", 3601, 486_111),
        (EXAMPLE_S0, "example.com", 8, 486_111),
        (EXAMPLE_S0, "", 3600, 486_111),
        (0, &"x".repeat(65), 3600, 486_111),
    ] {
        let e = state(&rule, s0)
            .ticket_key(label, interval, Strength::Aes256, counter)
            .expect_err("bad ticket-key input");
        cases.push(FsErrorCase {
            label: Some(label.to_owned()),
            interval: Some(interval),
            strength: Some("aes256"),
            counter: Some(counter.to_string()),
            ..base("ticket_key", &seed, s0, e)
        });
    }
    for (s0, interval, counter) in [
        (EXAMPLE_S0, 86_400, 20_253),
        (EXAMPLE_S0, 86_400, 12_725_830),
        (EXAMPLE_S0, 0, 1),
    ] {
        let e = state(&rule, s0)
            .tfo_key(interval, counter, &mut [0; 16])
            .expect_err("bad TFO-key input");
        cases.push(FsErrorCase {
            interval: Some(interval),
            counter: Some(counter.to_string()),
            ..base("tfo_key", &seed, s0, e)
        });
    }
    cases
}

fn file_error_cases() -> Vec<FsFileErrorCase> {
    let good = file_bytes(&state(&SEEDS[0], EXAMPLE_S0));
    let small = file_bytes(&state(&SEEDS[0], FS_END - 1));
    let reseal = |mut b: Vec<u8>| {
        let n = b.len();
        let sum = checksum(&b[..n - 16]);
        b[n - 16..].copy_from_slice(&sum);
        b
    };
    let with = |at: usize, value: &[u8]| {
        let mut b = good.clone();
        b[at..at + value.len()].copy_from_slice(value);
        reseal(b)
    };
    let flip = |at: usize, bit: u8| {
        let mut b = good.clone();
        b[at] ^= 1 << bit;
        b
    };
    let mut inputs: Vec<(String, Vec<u8>)> = vec![
        ("magic KWFT".into(), with(0, b"KWFT")),
        (
            "magic of another format, 3 bytes".into(),
            b"\x89PN".to_vec(),
        ),
        ("empty".into(), Vec::new()),
        ("the magic alone".into(), b"KWFS".to_vec()),
        ("version 0".into(), with(4, &[0])),
        ("version 2".into(), with(4, &[2])),
        ("depth 39".into(), with(5, &[39])),
        ("depth 64".into(), with(5, &[64])),
        ("flags 1".into(), with(6, &[1, 0])),
        ("flags 0x8000".into(), with(6, &[0, 0x80])),
        ("s0 = 2^40".into(), with(16, &FS_END.to_le_bytes())),
        ("s0 = 2^64 - 1".into(), with(16, &u64::MAX.to_le_bytes())),
        ("n = 23 (s0 needs 24)".into(), with(24, &[23])),
        ("n = 0".into(), with(24, &[0])),
        ("n = 255".into(), with(24, &[255])),
        (
            "s0 changed to one with another cover size".into(),
            with(16, &(EXAMPLE_S0 + 1).to_le_bytes()),
        ),
        ("header cut at 24 bytes".into(), good[..24].to_vec()),
        ("cut after the header".into(), good[..25].to_vec()),
        ("last byte missing".into(), good[..good.len() - 1].to_vec()),
        ("checksum missing".into(), good[..good.len() - 16].to_vec()),
        ("one trailing zero byte".into(), [&good[..], &[0]].concat()),
        ("trailing newline".into(), [&good[..], b"\n"].concat()),
        (
            "two files concatenated".into(),
            [&good[..], &good[..]].concat(),
        ),
        ("node byte flipped".into(), flip(100, 3)),
        ("root id byte flipped".into(), flip(8, 0)),
        ("checksum byte flipped".into(), flip(good.len() - 1, 7)),
        ("s0 bit 4 flipped".into(), flip(16, 4)),
        ("one-node file with a flipped node bit".into(), {
            let mut b = small.clone();
            b[30] ^= 0x10;
            b
        }),
    ];
    // A few more flips, by rule: bit (k * 1237) % (8 * len).
    for k in 1..=6usize {
        let bit = (k * 1237) % (8 * good.len());
        inputs.push((
            format!("bit {bit} flipped"),
            flip(bit / 8, u8::try_from(bit % 8).unwrap_or(0)),
        ));
    }
    inputs
        .into_iter()
        .map(|(note, file)| {
            let error = match State::from_bytes(&file) {
                Ok(_) => panic!("malformed file accepted: {note}"),
                Err(e) => fs_error(&e),
            };
            FsFileErrorCase {
                note,
                file: hex(&file),
                error,
            }
        })
        .collect()
}

/// `BLAKE2b(unkeyed, personal = "keywheel.fsck", 16 bytes)` of `body`.
fn checksum(body: &[u8]) -> [u8; 16] {
    let mut mac = Blake2bMac::<U16>::new_with_salt_and_personal(None, &[], b"keywheel.fsck")
        .expect("no key, no salt, a 13-byte personalization");
    mac.update(body);
    let mut out = [0u8; 16];
    out.copy_from_slice(&mac.finalize_fixed());
    out
}

/// Every forward-secure section.
pub fn forward_sections() -> ForwardSections {
    ForwardSections {
        fs_state: Section {
            comment: STATE_COMMENT,
            cases: state_cases(),
        },
        fs_leaf: Section {
            comment: LEAF_COMMENT,
            cases: leaf_cases(),
        },
        fs_ticket_key: Section {
            comment: TICKET_COMMENT,
            cases: ticket_cases(),
        },
        fs_ticket_keys: Section {
            comment: TICKET_KEYS_COMMENT,
            cases: ticket_keys_cases(),
        },
        fs_go_seeds: Section {
            comment: GO_SEEDS_COMMENT,
            cases: go_seeds_cases(),
        },
        fs_tfo: Section {
            comment: TFO_COMMENT,
            cases: tfo_cases(),
        },
        fs_advance: Section {
            comment: ADVANCE_COMMENT,
            cases: advance_cases(),
        },
        fs_errors: Section {
            comment: ERRORS_COMMENT,
            cases: error_cases(),
        },
        fs_state_file_errors: Section {
            comment: FILE_ERRORS_COMMENT,
            cases: file_error_cases(),
        },
    }
}
