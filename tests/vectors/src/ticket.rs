//! The TLS session-ticket sections of the vectors (SPEC.md §4): ticket keys, the ticket schedule,
//! lookup by key name, the server formats and the errors of bad ticket inputs.

use super::{
    Blake2bMac, FORMATS, FixedOutput, Format, KeyInput, LABEL_PERSONAL, LabelKey, Layout, Lookup,
    MAIN_KEY_LEN, MAX_INTERVAL, MAX_LABEL_LEN, MAX_TICKET_AGE, MAX_TIME, MIN_INTERVAL, MIN_TIME,
    MainKeyRule, REFERENCE_TIME, Role, Serialize, Strength, TFO_CONTEXT, TICKET_NAME_LEN,
    TicketKeys, TicketSchedule, TicketSlot, U32, Update, derive_key, error_kind, hex,
};

pub(crate) const TICKET_KEY_COMMENT: &str = "Ticket keys (SPEC.md 4.1, 4.2) of (main_key, label, \
strength, counter). label_key = BLAKE2b(key = main_key[0..32], salt = 0^16, personal = \
'keywheel.label' || 0^2, message = the label's UTF-8 bytes, digest length = 32): an intermediate \
secret, given to help debugging (no keywheel API returns it). aes256: name = derive_key(label_key, \
'kwtn-256', counter, 16) and aes || hmac = derive_key(label_key, 'kwtk-256', counter, 64), aes the \
first 32 bytes and hmac the last 32. aes128: name = derive_key(label_key, 'kwtn-128', counter, \
16) and aes || hmac = derive_key(label_key, 'kwtk-128', counter, 32), 16 bytes each. Labels are \
1..=64 bytes (not characters) of UTF-8.";

pub(crate) const TICKET_SCHEDULE_COMMENT: &str = "The ticket schedule (SPEC.md 4.3) of interval \
(even, 10..=604800) and keep ((keep + 1) * interval <= 604800) at unix time 'time' \
(1000000..=100000000000): current = floor(time / interval) encrypts new tickets; next_rotation = \
(current + 1) * interval; max_ticket_age = (keep + 1) * interval; window = every key accepted for \
decryption, oldest first: previous keep (counter current - keep), ..., previous 1, current, next \
(counter current + 1).";

pub(crate) const TICKET_LOOKUP_COMMENT: &str = "Looking the key name 'name' of a ticket up among \
the keys of (main_key, label, strength) in the window of the ticket schedule (interval, keep) at \
'time' (SPEC.md 4.3). 'name' may have any length (only 16 bytes can match); 'note' says where it \
comes from. result 'current': the current key's name (decrypt, keep the ticket); 'accepted': the \
name of another key of the window, 'role' and 'age' say which (decrypt and issue a fresh ticket); \
'not_found': no key of the window has this name (full handshake). For 'current' and 'accepted', \
counter, aes and hmac describe the key found.";

pub(crate) const FORMAT_COMMENT: &str = "Server key formats (SPEC.md 4.4 and its tables) \
rendered for the keys of (main_key, label) in the ticket schedule (interval, keep) at \
'time'. Each format has one strength and one record layout, 'name_hmac_aes' (name16 || hmac || \
aes) or 'name_aes_hmac' (name16 || aes || hmac). 'keys' lists the keys in the format's order and \
'output' is the whole rendered content: key_count records of record_len bytes in that order. \
nginx (aes256, name_hmac_aes, 80 bytes) and nginx48 (aes128, name_aes_hmac, 48 bytes): one file \
per key, in the order current, next, previous 1, ..., previous keep (the first \
ssl_session_ticket_key directive encrypts); file i is output[i * record_len .. (i + 1) * \
record_len], so output is the concatenation of the files in that order. haproxy (aes256) and \
haproxy48 (aes128), name_aes_hmac: one file of base64 lines (RFC 4648 with '=' padding, no line \
wraps, each line ending in '\\n': record_len is 108 + 1 or 64 + 1) in the order previous keep, ..., \
previous 1, current, next, so the current key is on the penultimate line (keep must be 1: three \
lines); output_text is the file as text. apache (aes128, 48 bytes) and openssl (aes256, 80 bytes, \
SSL_CTX_set_tlsext_ticket_keys), name_hmac_aes: the current key only, whatever keep. ats \
(aes128, name_hmac_aes): key_count records of 48 bytes in one file, current, next, previous 1, \
..., previous keep (the first encrypts).";

pub(crate) const TICKET_ERRORS_COMMENT: &str = "Bad ticket-key inputs every binding must \
refuse, with the error kind and the exact message of the core crate. operation 'label_key': the \
label key of label (label_hex) with main_key; a label is 1..=64 bytes of UTF-8, counted in bytes. \
'ticket_schedule': validate interval (even, 10..=604800, checked first) and keep ((keep + 1) * \
interval <= 604800). 'ticket_schedule_at': the slot of a valid (interval, keep) at time \
(1000000..=100000000000). 'format_render': render format for (main_key, label) in the valid \
ticket schedule (interval, keep) at time into an output buffer of buffer_len bytes: HAProxy \
formats need keep = 1 (checked first), and the buffer must hold the whole rendered content; \
nothing is written when rendering fails.";

/// A key and its role in a window.
#[derive(Debug, Serialize)]
pub struct KeyRole {
    /// Interval counter, decimal.
    pub counter: String,
    /// `current`, `next` or `previous`.
    pub role: &'static str,
    /// For a previous key: how many intervals ago.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u64>,
}

impl KeyRole {
    pub(crate) fn new(counter: u64, role: Role) -> Self {
        let (role, age) = role_name(role);
        KeyRole {
            counter: counter.to_string(),
            role,
            age,
        }
    }
}

/// The name of a role as written in the `role` field, and its `age`.
pub fn role_name(role: Role) -> (&'static str, Option<u64>) {
    (role.as_str(), role.age())
}

/// The name of a strength as written in the `strength` field.
pub const fn strength_name(strength: Strength) -> &'static str {
    strength.as_str()
}

/// The name of a layout as written in the `layout` field.
pub const fn layout_name(layout: Layout) -> &'static str {
    layout.as_str()
}

/// The label key of SPEC.md §4.1, computed here (the core crate keeps it private):
/// `BLAKE2b(key = main[0..32], salt = 0¹⁶, personal = "keywheel.label" ‖ 0², message = label)`.
pub fn label_key_bytes(main: &[u8], label: &str) -> [u8; MAIN_KEY_LEN] {
    let mut mac = Blake2bMac::<U32>::new_with_salt_and_personal(
        Some(&main[..MAIN_KEY_LEN]),
        &[],
        LABEL_PERSONAL,
    )
    .expect("a 32-byte key and a 14-byte personalization");
    mac.update(label.as_bytes());
    let mut out = [0; MAIN_KEY_LEN];
    out.copy_from_slice(&mac.finalize_fixed());
    out
}

/// One ticket key.
#[derive(Debug, Serialize)]
pub struct TicketKeyCase {
    /// Main key material, hex.
    pub main_key: String,
    /// The rule that produced `main_key`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_key_rule: Option<MainKeyRule>,
    /// The label.
    pub label: String,
    /// The label's UTF-8 bytes, hex.
    pub label_hex: String,
    /// The label key (an intermediate secret), hex.
    pub label_key: String,
    /// `aes256` or `aes128`.
    pub strength: &'static str,
    /// Interval counter, decimal.
    pub counter: String,
    /// Key name, hex (16 bytes).
    pub name: String,
    /// AES key, hex (32 or 16 bytes).
    pub aes: String,
    /// HMAC-SHA256 key, hex (32 or 16 bytes).
    pub hmac: String,
    /// Why the case is there, when it matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// One slot of the ticket schedule.
#[derive(Debug, Serialize)]
pub struct TicketScheduleCase {
    /// Rotation interval, seconds.
    pub interval: u64,
    /// Number of previous keys accepted.
    pub keep: u64,
    /// Unix time, seconds.
    pub time: u64,
    /// Counter of the encrypting key, decimal.
    pub current: String,
    /// Unix time at which the next interval starts.
    pub next_rotation: u64,
    /// `(keep + 1) * interval`.
    pub max_ticket_age: u64,
    /// Every accepted key, oldest first.
    pub window: Vec<KeyRole>,
    /// Why the case is there, when it matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// One lookup of a key name.
#[derive(Debug, Serialize)]
pub struct TicketLookupCase {
    /// Main key material, hex.
    pub main_key: String,
    /// The rule that produced `main_key`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_key_rule: Option<MainKeyRule>,
    /// The label.
    pub label: String,
    /// The label's UTF-8 bytes, hex.
    pub label_hex: String,
    /// `aes256` or `aes128`.
    pub strength: &'static str,
    /// Rotation interval, seconds.
    pub interval: u64,
    /// Number of previous keys accepted.
    pub keep: u64,
    /// Unix time, seconds.
    pub time: u64,
    /// Counter of the encrypting key, decimal.
    pub current: String,
    /// The bytes looked up, hex.
    pub name: String,
    /// Where `name` comes from.
    pub note: String,
    /// `current`, `accepted` or `not_found`.
    pub result: &'static str,
    /// Counter of the key found, decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// Role of the key found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// Age of the key found, when it is a previous key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u64>,
    /// AES key of the key found, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aes: Option<String>,
    /// HMAC key of the key found, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hmac: Option<String>,
}

/// One rendered server format.
#[derive(Debug, Serialize)]
pub struct FormatCase {
    /// The format's name.
    pub format: &'static str,
    /// `aes256` or `aes128`.
    pub strength: &'static str,
    /// `name_hmac_aes` or `name_aes_hmac`.
    pub layout: &'static str,
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
    /// Number of previous keys accepted.
    pub keep: u64,
    /// Unix time, seconds.
    pub time: u64,
    /// Counter of the encrypting key, decimal.
    pub current: String,
    /// Number of keys in the output.
    pub key_count: usize,
    /// Length of one rendered record (with its newline for base64 lines).
    pub record_len: usize,
    /// The keys, in output order.
    pub keys: Vec<KeyRole>,
    /// The rendered content, hex.
    pub output: String,
    /// The rendered content as text, for base64 formats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_text: Option<String>,
}

/// One bad ticket input and the error it must give.
#[derive(Debug, Default, Serialize)]
pub struct TicketErrorCase {
    /// `label_key`, `ticket_schedule`, `ticket_schedule_at` or `format_render`.
    pub operation: &'static str,
    /// Main key material, hex (`label_key`, `format_render`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_key: Option<String>,
    /// The rule that produced `main_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_key_rule: Option<MainKeyRule>,
    /// The label (`label_key`, `format_render`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The label's UTF-8 bytes, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_hex: Option<String>,
    /// The format's name (`format_render`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// Interval (`ticket_schedule`, `ticket_schedule_at`, `format_render`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// Keep (`ticket_schedule`, `ticket_schedule_at`, `format_render`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<u64>,
    /// Unix time (`ticket_schedule_at`, `format_render`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
    /// Output buffer length (`format_render`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffer_len: Option<usize>,
    /// The core error variant.
    pub kind: String,
    /// The core error's message.
    pub message: String,
}

fn label_key(key: &KeyInput, label: &str) -> LabelKey {
    LabelKey::new(&key.main_key(), label).expect("label of 1..=64 bytes")
}

fn slot(interval: u64, keep: u64, time: u64) -> TicketSlot {
    TicketSchedule::new(interval, keep)
        .expect("valid interval and keep")
        .at(time)
        .expect("valid time")
}

/// Labels of the ticket-key cases: 1 byte, ASCII names, 2-, 3- and 4-byte UTF-8, and 64 bytes
/// of 1-, 2- and mixed-width characters.
fn labels() -> Vec<String> {
    let labels = vec![
        "a".to_owned(),
        "example.com".to_owned(),
        "example.org".to_owned(),
        "café-münchen".to_owned(),
        "東京クラスタ".to_owned(),
        "🔑 keywheel".to_owned(),
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_".to_owned(),
        "ü".repeat(32),
        "x".repeat(60) + "🔑",
    ];
    debug_assert!(
        labels
            .iter()
            .all(|l| (1..=MAX_LABEL_LEN).contains(&l.len()))
    );
    labels
}

/// Counters of the ticket-key cases: the ends of the range, daily and hourly counters of
/// [`REFERENCE_TIME`], and the edges of 32-bit, JavaScript-number and signed 64-bit integers.
const TICKET_COUNTERS: [u64; 10] = [
    0,
    1,
    2,
    REFERENCE_TIME / 86_400,
    REFERENCE_TIME / 3_600,
    (1 << 32) - 1,
    1 << 32,
    (1 << 53) + 1,
    1 << 63,
    u64::MAX,
];

const STRENGTHS: [Strength; 2] = [Strength::Aes256, Strength::Aes128];

fn ticket_key_case(
    key: &KeyInput,
    label: &str,
    strength: Strength,
    counter: u64,
    note: Option<&'static str>,
) -> TicketKeyCase {
    let ticket = label_key(key, label).ticket_key(strength, counter);
    TicketKeyCase {
        main_key: hex(&key.material),
        main_key_rule: key.rule,
        label: label.to_owned(),
        label_hex: hex(label.as_bytes()),
        label_key: hex(&label_key_bytes(&key.material, label)),
        strength: strength_name(strength),
        counter: counter.to_string(),
        name: hex(ticket.name()),
        aes: hex(ticket.aes_key()),
        hmac: hex(ticket.hmac_key()),
        note,
    }
}

pub(crate) fn ticket_key_cases() -> Vec<TicketKeyCase> {
    let keys = [
        KeyInput::rule(32, 7, 3),
        KeyInput::rule(32, 13, 200),
        KeyInput::rule(64, 31, 17),
        KeyInput::tofurkey_test_key(),
    ];
    let mut cases = Vec::new();
    // Every label with every counter; the strength alternates and the main key advances with
    // each case, so every label and every counter occur in both strengths.
    for (l, label) in labels().iter().enumerate() {
        for (c, &counter) in TICKET_COUNTERS.iter().enumerate() {
            let i = l * TICKET_COUNTERS.len() + c;
            let strength = STRENGTHS[(l + c) % 2];
            cases.push(ticket_key_case(
                &keys[i % keys.len()],
                label,
                strength,
                counter,
                None,
            ));
        }
    }
    let day = REFERENCE_TIME / 86_400;
    let both = "the same main key, label and counter in both strengths: unrelated names and keys";
    for strength in STRENGTHS {
        cases.push(ticket_key_case(
            &KeyInput::rule(32, 1, 0),
            "example.com",
            strength,
            day,
            Some(both),
        ));
    }
    cases.push(ticket_key_case(
        &KeyInput::rule(33, 1, 0),
        "example.com",
        Strength::Aes256,
        day,
        Some("main key material longer than 32 bytes: only the first 32 bytes are used"),
    ));
    cases.push(ticket_key_case(
        &KeyInput::rule(32, 1, 1),
        "example.com",
        Strength::Aes256,
        day,
        Some("another main key, same label, strength and counter"),
    ));
    cases.push(ticket_key_case(
        &KeyInput::rule(32, 1, 0),
        "example.com.",
        Strength::Aes256,
        day,
        Some("a label one byte longer: another label key"),
    ));
    cases.push(ticket_key_case(
        &KeyInput::tofurkey_test_key(),
        "tofurkey",
        Strength::Aes128,
        11,
        Some("tofurkey's t/test.key and TFO counter 11: unrelated to its TFO key"),
    ));
    cases
}

/// (interval, keep) pairs of the schedule cases: the smallest intervals, the anchors of the
/// README (Cloudflare 1 h, Twitter 12 h kept 36 h, Caddy 12 h with 4 keys, Go 24 h kept 7
/// days) and the largest keep of several intervals.
const SCHEDULES: [(u64, u64); 12] = [
    (MIN_INTERVAL, 0),
    (MIN_INTERVAL, 1),
    (12, 3),
    (3_600, 0),
    (3_600, 1),
    (43_200, 2),
    (43_200, 3),
    (86_400, 0),
    (86_400, 6),
    (201_600, 2),
    (302_400, 1),
    (MAX_INTERVAL, 0),
];

fn schedule_case(
    interval: u64,
    keep: u64,
    time: u64,
    note: Option<&'static str>,
) -> TicketScheduleCase {
    let schedule = TicketSchedule::new(interval, keep).expect("valid interval and keep");
    let slot = schedule.at(time).expect("valid time");
    TicketScheduleCase {
        interval,
        keep,
        time,
        current: slot.current().to_string(),
        next_rotation: slot.next_rotation(),
        max_ticket_age: schedule.max_ticket_age(),
        window: slot.window().map(|(c, r)| KeyRole::new(c, r)).collect(),
        note,
    }
}

pub(crate) fn ticket_schedule_cases() -> Vec<TicketScheduleCase> {
    let mut cases = Vec::new();
    for (interval, keep) in SCHEDULES {
        let start = REFERENCE_TIME / interval * interval;
        for time in [MIN_TIME, start - 1, start, start + interval - 1, MAX_TIME] {
            cases.push(schedule_case(interval, keep, time, None));
        }
    }
    cases.push(schedule_case(
        3_600,
        MAX_TICKET_AGE / 3_600 - 1,
        REFERENCE_TIME,
        Some("the largest keep of an hourly rotation: 167 previous keys, tickets up to 7 days"),
    ));
    cases.push(schedule_case(
        MAX_INTERVAL,
        0,
        MIN_TIME,
        Some("the smallest current counter any valid input gives: 1"),
    ));
    cases
}

/// The keys and slot a group of lookups is made in.
struct LookupSlot {
    key: KeyInput,
    label: &'static str,
    strength: Strength,
    interval: u64,
    keep: u64,
    time: u64,
}

fn other_strength(strength: Strength) -> Strength {
    match strength {
        Strength::Aes256 => Strength::Aes128,
        Strength::Aes128 => Strength::Aes256,
    }
}

fn lookup_case(s: &LookupSlot, name: &[u8], note: String) -> TicketLookupCase {
    let slot = slot(s.interval, s.keep, s.time);
    let schedule = TicketSchedule::new(s.interval, s.keep).expect("valid interval and keep");
    let keys =
        TicketKeys::new(&s.key.main_key(), s.label, s.strength, schedule).expect("valid label");
    let found = keys.lookup(name, s.time).expect("valid time");
    let (result, found) = match found {
        Lookup::Current(key) => ("current", Some((key, Role::Current))),
        Lookup::Accepted(key, role) => ("accepted", Some((key, role))),
        Lookup::NotFound => ("not_found", None),
    };
    let role = found.as_ref().map(|(_, r)| role_name(*r));
    TicketLookupCase {
        main_key: hex(&s.key.material),
        main_key_rule: s.key.rule,
        label: s.label.to_owned(),
        label_hex: hex(s.label.as_bytes()),
        strength: strength_name(s.strength),
        interval: s.interval,
        keep: s.keep,
        time: s.time,
        current: slot.current().to_string(),
        name: hex(name),
        note,
        result,
        counter: found.as_ref().map(|(k, _)| k.counter().to_string()),
        role: role.map(|r| r.0),
        age: role.and_then(|r| r.1),
        aes: found.as_ref().map(|(k, _)| hex(k.aes_key())),
        hmac: found.as_ref().map(|(k, _)| hex(k.hmac_key())),
    }
}

fn lookup_group(s: &LookupSlot) -> Vec<TicketLookupCase> {
    let label = label_key(&s.key, s.label);
    let slot = slot(s.interval, s.keep, s.time);
    let c = slot.current();
    let name = |counter: u64| label.ticket_name(s.strength, counter);
    let mut cases = Vec::new();
    // Every key of the window, and the keys just outside it.
    for counter in c - s.keep - 1..=c + 2 {
        let what = match slot.role(counter) {
            Some(role) => match role_name(role) {
                (r, Some(age)) => format!("{r} {age}"),
                (r, None) => r.to_owned(),
            },
            None => "outside the window".to_owned(),
        };
        cases.push(lookup_case(
            s,
            &name(counter),
            format!("the name of counter {counter} ({what})"),
        ));
    }
    let current = name(c);
    let other_label = if s.label == "example.com" {
        "example.org"
    } else {
        "example.com"
    };
    cases.push(lookup_case(
        s,
        &label_key(&s.key, other_label).ticket_name(s.strength, c),
        format!("the current name of label {other_label:?}"),
    ));
    cases.push(lookup_case(
        s,
        &label.ticket_name(other_strength(s.strength), c),
        format!(
            "the current name in strength {}",
            strength_name(other_strength(s.strength))
        ),
    ));
    let other_main = KeyInput::rule(32, 1, 1);
    cases.push(lookup_case(
        s,
        &label_key(&other_main, s.label).ticket_name(s.strength, c),
        "the current name of the same label under another main key (rule 32, 1, 1)".to_owned(),
    ));
    let mut tfo = [0; TICKET_NAME_LEN];
    derive_key(&s.key.main_key(), &TFO_CONTEXT, c, &mut tfo).expect("16-byte output");
    cases.push(lookup_case(
        s,
        &tfo,
        "the TFO key of the same main key and counter".to_owned(),
    ));
    let mut flipped = current;
    flipped[TICKET_NAME_LEN - 1] ^= 1;
    cases.push(lookup_case(
        s,
        &flipped,
        "the current name with its last bit flipped".to_owned(),
    ));
    cases.push(lookup_case(
        s,
        &[0; TICKET_NAME_LEN],
        "16 zero bytes".to_owned(),
    ));
    cases.push(lookup_case(
        s,
        &current[..TICKET_NAME_LEN - 1],
        "the current name without its last byte (15 bytes)".to_owned(),
    ));
    let mut longer = current.to_vec();
    longer.push(0);
    cases.push(lookup_case(
        s,
        &longer,
        "the current name and a zero byte (17 bytes)".to_owned(),
    ));
    cases.push(lookup_case(s, &[], "no bytes".to_owned()));
    cases
}

pub(crate) fn ticket_lookup_cases() -> Vec<TicketLookupCase> {
    let slots = [
        LookupSlot {
            key: KeyInput::rule(32, 7, 3),
            label: "example.com",
            strength: Strength::Aes256,
            interval: 3_600,
            keep: 2,
            time: REFERENCE_TIME,
        },
        LookupSlot {
            key: KeyInput::rule(32, 13, 200),
            label: "東京クラスタ",
            strength: Strength::Aes128,
            interval: 86_400,
            keep: 0,
            time: MIN_TIME,
        },
        LookupSlot {
            key: KeyInput::rule(64, 31, 17),
            label: "example.org",
            strength: Strength::Aes128,
            interval: MIN_INTERVAL,
            keep: 1,
            time: MAX_TIME,
        },
    ];
    slots.iter().flat_map(lookup_group).collect()
}

/// The keys, label and slots the formats are rendered in.
fn format_slots() -> Vec<(KeyInput, &'static str, u64, u64, u64)> {
    vec![
        (
            KeyInput::rule(32, 7, 3),
            "example.com",
            86_400,
            1,
            REFERENCE_TIME,
        ),
        (
            KeyInput::rule(32, 7, 3),
            "example.com",
            3_600,
            0,
            REFERENCE_TIME,
        ),
        (
            KeyInput::rule(32, 7, 3),
            "example.com",
            3_600,
            3,
            REFERENCE_TIME + 1_800,
        ),
        (
            KeyInput::rule(32, 13, 200),
            "café-münchen",
            MIN_INTERVAL,
            1,
            MIN_TIME,
        ),
        (
            KeyInput::tofurkey_test_key(),
            "🔑 keywheel",
            43_200,
            2,
            MAX_TIME,
        ),
    ]
}

fn format_case(
    format: Format,
    key: &KeyInput,
    label_text: &str,
    interval: u64,
    keep: u64,
    time: u64,
) -> FormatCase {
    let slot = slot(interval, keep, time);
    let schedule = TicketSchedule::new(interval, keep).expect("valid interval and keep");
    let ticket_keys = TicketKeys::new(&key.main_key(), label_text, format.strength(), schedule)
        .expect("valid label");
    let mut out = vec![0u8; ticket_keys.rendered_len(format).expect("valid keep")];
    let n = ticket_keys
        .render(format, time, &mut out)
        .expect("valid keep and a large enough buffer");
    assert_eq!(n, out.len(), "render fills rendered_len");
    let keys: Vec<KeyRole> = format
        .roles(slot.keep())
        .map(|role| KeyRole::new(slot.counter(role).expect("role in the window"), role))
        .collect();
    FormatCase {
        format: format.name(),
        strength: strength_name(format.strength()),
        layout: layout_name(format.layout()),
        main_key: hex(&key.material),
        main_key_rule: key.rule,
        label: label_text.to_owned(),
        label_hex: hex(label_text.as_bytes()),
        interval,
        keep,
        time,
        current: slot.current().to_string(),
        key_count: format.key_count(slot.keep()),
        record_len: format.record_len(),
        keys,
        output: hex(&out),
        output_text: (format.encoding() == keywheel::Encoding::Base64Lines)
            .then(|| String::from_utf8(out).expect("base64 is ASCII")),
    }
}

pub(crate) fn format_cases() -> Vec<FormatCase> {
    let mut cases = Vec::new();
    for format in FORMATS {
        for (key, label, interval, keep, time) in format_slots() {
            if format.check_keep(keep).is_ok() {
                cases.push(format_case(format, &key, label, interval, keep, time));
            }
        }
    }
    cases
}

fn label_error(label: &str) -> TicketErrorCase {
    let key = KeyInput::rule(MAIN_KEY_LEN, 1, 0);
    let error = LabelKey::new(&key.main_key(), label).expect_err("bad label");
    TicketErrorCase {
        operation: "label_key",
        main_key: Some(hex(&key.material)),
        main_key_rule: key.rule,
        label: Some(label.to_owned()),
        label_hex: Some(hex(label.as_bytes())),
        kind: error_kind(&error),
        message: error.to_string(),
        ..TicketErrorCase::default()
    }
}

fn ticket_schedule_error(interval: u64, keep: u64) -> TicketErrorCase {
    let error = TicketSchedule::new(interval, keep).expect_err("bad interval or keep");
    TicketErrorCase {
        operation: "ticket_schedule",
        interval: Some(interval),
        keep: Some(keep),
        kind: error_kind(&error),
        message: error.to_string(),
        ..TicketErrorCase::default()
    }
}

fn ticket_schedule_at_error(interval: u64, keep: u64, time: u64) -> TicketErrorCase {
    let schedule = TicketSchedule::new(interval, keep).expect("valid interval and keep");
    let error = schedule.at(time).expect_err("bad time");
    TicketErrorCase {
        operation: "ticket_schedule_at",
        interval: Some(interval),
        keep: Some(keep),
        time: Some(time),
        kind: error_kind(&error),
        message: error.to_string(),
        ..TicketErrorCase::default()
    }
}

fn format_render_error(
    format: Format,
    interval: u64,
    keep: u64,
    buffer_len: usize,
) -> TicketErrorCase {
    let key = KeyInput::rule(MAIN_KEY_LEN, 7, 3);
    let label = "example.com";
    let mut out = vec![0x5a; buffer_len];
    let schedule = TicketSchedule::new(interval, keep).expect("valid interval and keep");
    let error = TicketKeys::new(&key.main_key(), label, format.strength(), schedule)
        .expect("valid label")
        .render(format, REFERENCE_TIME, &mut out)
        .expect_err("bad keep or short buffer");
    assert!(out.iter().all(|&b| b == 0x5a), "render wrote on error");
    TicketErrorCase {
        operation: "format_render",
        main_key: Some(hex(&key.material)),
        main_key_rule: key.rule,
        label: Some(label.to_owned()),
        label_hex: Some(hex(label.as_bytes())),
        format: Some(format.name()),
        interval: Some(interval),
        keep: Some(keep),
        time: Some(REFERENCE_TIME),
        buffer_len: Some(buffer_len),
        kind: error_kind(&error),
        message: error.to_string(),
    }
}

pub(crate) fn ticket_error_cases() -> Vec<TicketErrorCase> {
    let mut cases = Vec::new();
    for label in [
        String::new(),
        "a".repeat(MAX_LABEL_LEN + 1),
        "ü".repeat(33),
        "x".repeat(61) + "🔑",
        "example.com ".repeat(10),
    ] {
        cases.push(label_error(&label));
    }
    for (interval, keep) in [
        (86_400, 7),
        (3_600, 168),
        (43_200, 14),
        (201_600, 3),
        (302_400, 2),
        (MAX_INTERVAL, 1),
        (MIN_INTERVAL, MAX_TICKET_AGE / MIN_INTERVAL),
        (86_400, 1_000_000),
        (11, 0),
        (MIN_INTERVAL - 2, 0),
        (MAX_INTERVAL + 2, 0),
        (0, 0),
    ] {
        cases.push(ticket_schedule_error(interval, keep));
    }
    for (interval, keep, time) in [
        (86_400, 1, MIN_TIME - 1),
        (86_400, 1, MAX_TIME + 1),
        (MAX_INTERVAL, 0, 0),
    ] {
        cases.push(ticket_schedule_at_error(interval, keep, time));
    }
    for (format, interval, keep, buffer_len) in [
        (format_named("haproxy"), 3_600, 0, 1_000),
        (format_named("haproxy"), 3_600, 2, 1_000),
        (format_named("haproxy48"), 86_400, 6, 1_000),
        (format_named("haproxy48"), 3_600, 0, 0),
        (format_named("nginx"), 3_600, 3, 399),
        (format_named("nginx"), 3_600, 0, 0),
        (format_named("nginx48"), 3_600, 0, 95),
        (format_named("haproxy"), 3_600, 1, 326),
        (format_named("haproxy48"), 3_600, 1, 194),
        (format_named("apache"), 3_600, 5, 47),
        (format_named("ats"), 3_600, 2, 191),
        (format_named("openssl"), 3_600, 1, 79),
    ] {
        cases.push(format_render_error(format, interval, keep, buffer_len));
    }
    cases
}

/// The format of the core's table called `name`.
fn format_named(name: &str) -> Format {
    Format::from_name(name).expect("a format of the table")
}
