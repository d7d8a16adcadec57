//! The servers that take session-ticket keys, one file each, behind the [`Server`] trait: check
//! the output location, install the rendered keys, push them into the running server where it
//! has a way (HAProxy's admin socket), describe the install for a dry run, and read back what
//! is installed for `keywheel status`.
//!
//! Three functions are the seams to the core crate's formats, one place each: [`render`] (a
//! format's bytes for a window of keys), [`installed_names`] (an installed key file parsed
//! back into key names) and [`parse_format`] (a format by name).
//!
//! A new server whose key file is one file replaced atomically (Apache httpd, Traffic Server,
//! an OpenSSL-callback program) is its format in the core crate's table alone: [`OneFile`]
//! serves every format no server claims. A server that does more (a directory of files, a
//! push to the running server, a read-back) is a `servers/<name>.rs` implementing [`Server`]
//! (override what differs), listed in [`SERVERS`].
//!
//! A server whose records hold times derived from the schedule (lighttpd's activation and
//! expiry, h2o's `not_before`/`not_after`) renders its file itself ([`Server::render_own`]) and
//! has no core format: its `--format` name is [`StekFormat::Own`].

pub(crate) mod caddy;
pub(crate) mod go;
mod h2o;
pub(crate) mod haproxy;
pub(crate) mod json;
mod lighttpd;
pub(crate) mod nginx;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use keywheel::{Encoding, FORMATS, Format, GO_SEED_LEN, Role, TICKET_NAME_LEN, TicketKeys};
use zeroize::Zeroizing;

use crate::daemon::keys::Extra;
use crate::sys::files::{self, Perms};
use crate::sys::os;
use crate::sys::text::{hex, hex_secret};

/// The names `--format` accepts: the core crate's formats, those of the servers that render
/// their files themselves, Go's and Caddy's seeds, then `json`.
pub(crate) fn format_names() -> impl Iterator<Item = &'static str> {
    FORMATS
        .iter()
        .map(|f| f.name())
        .chain(own_format_names())
        .chain(SeedFormat::ALL.map(SeedFormat::name))
        .chain(["json"])
}

/// The formats of the servers that render their files themselves.
fn own_format_names() -> impl Iterator<Item = &'static str> {
    SERVERS
        .into_iter()
        .filter(|s| s.renders_itself())
        .flat_map(|s| s.formats().iter().copied())
}

pub(crate) use go::SeedFormat;

/// What `--format` names: a server's key format, or the JSON description for tooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StekFormat {
    /// A server format from the core crate.
    Server(Format),
    /// A format its server file renders itself ([`Server::render_own`]): its name.
    Own(&'static str),
    /// Go's and Caddy's 32-byte seeds (SPEC.md §4.5).
    Seeds(SeedFormat),
    /// Counters, roles and key names (key bytes only with --print-keys).
    Json,
}

impl StekFormat {
    /// The name `--format` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StekFormat::Server(f) => f.name(),
            StekFormat::Own(name) => name,
            StekFormat::Seeds(f) => f.name(),
            StekFormat::Json => "json",
        }
    }

    /// The core format, unless JSON.
    pub(crate) fn server(self) -> Option<Format> {
        match self {
            StekFormat::Server(f) => Some(f),
            StekFormat::Own(_) | StekFormat::Seeds(_) | StekFormat::Json => None,
        }
    }

    /// Whether the decrypt-only keys of another main key fit (rollover).
    pub(crate) fn accepts_extra_keys(self) -> bool {
        self.server().is_some_and(Format::accepts_decrypt_only)
    }
}

/// A format by its name (`--format`, `format =`).
pub(crate) fn parse_format(s: &str) -> Result<StekFormat, String> {
    if s == "json" {
        return Ok(StekFormat::Json);
    }
    if let Some(name) = own_format_names().find(|name| *name == s) {
        return Ok(StekFormat::Own(name));
    }
    if let Some(f) = SeedFormat::ALL.into_iter().find(|f| f.name() == s) {
        return Ok(StekFormat::Seeds(f));
    }
    Format::from_name(s).map(StekFormat::Server).ok_or_else(|| {
        let names: Vec<&str> = format_names().collect();
        format!(
            "format '{s}' is unknown; it must be one of {}",
            names.join(", ")
        )
    })
}

/// The servers that do more than write one file, each claiming its format names.
const SERVERS: [&dyn Server; 6] = [
    &nginx::Nginx,
    &haproxy::Haproxy,
    &lighttpd::Lighttpd,
    &h2o::H2o,
    &caddy::Caddy,
    &json::Json,
];

/// The server of every format no server in [`SERVERS`] claims: the defaults of [`Server`],
/// one file replaced atomically (then `--reload`, e.g. `apachectl -k graceful` or
/// `traffic_ctl config reload`). A format with one file per key must be claimed (the test
/// `one_file_per_key_formats_are_claimed` fails otherwise).
struct OneFile;

impl Server for OneFile {
    fn formats(&self) -> &'static [&'static str] {
        &[]
    }
}

/// The server that takes `format`.
pub(crate) fn server(format: StekFormat) -> &'static dyn Server {
    let name = format.name();
    SERVERS
        .into_iter()
        .find(|s| s.formats().contains(&name))
        .unwrap_or(&OneFile)
}

/// Why a format does not take the decrypt-only keys of another main key, and what happens.
pub(crate) fn extra_limitation(format: StekFormat) -> &'static str {
    match format {
        StekFormat::Server(f) if f.encoding() == Encoding::Base64Lines => {
            "HAProxy holds exactly 3 keys (previous, current, next), so tickets made with the \
             other main key are not resumed here (clients make one full handshake)"
        }
        StekFormat::Server(_) => {
            "this server holds a single key, so tickets made with the other main key are not \
             resumed here (clients make one full handshake)"
        }
        StekFormat::Own(_) => {
            "its file holds the main key's keys only, so tickets made with the other main key \
             are not resumed here (clients make one full handshake)"
        }
        StekFormat::Seeds(_) => {
            "the seeds are those of the main key's window only, so tickets made with the other \
             main key are not resumed here (clients make one full handshake)"
        }
        StekFormat::Json => "the JSON lists the main key's window only",
    }
}

/// The public part of one key.
pub(crate) struct KeyInfo {
    pub(crate) counter: u64,
    pub(crate) role: Role,
    /// `Some` for a decrypt-only key of another main key (rollover).
    pub(crate) extra: Option<Extra>,
    pub(crate) name: [u8; TICKET_NAME_LEN],
}

impl KeyInfo {
    /// "current", "previous 1", "next of the previous main key", ...
    pub(crate) fn role_text(&self) -> String {
        match self.extra {
            None => role_text(self.role),
            Some(which) => format!("{} of the {} main key", role_text(self.role), which.name()),
        }
    }
}

/// "current", "next" or "previous N".
pub(crate) fn role_text(role: Role) -> String {
    match role {
        Role::Current => "current".to_owned(),
        Role::Next => "next".to_owned(),
        Role::Previous(n) => format!("previous {n}"),
    }
}

/// The rendered output, wiped on drop.
pub(crate) struct Rendered {
    pub(crate) bytes: Zeroizing<Vec<u8>>,
    /// The keys in output order.
    pub(crate) keys: Vec<KeyInfo>,
    /// Length of one record (0 for json, go-json, caddy and for records of varying length).
    pub(crate) record_len: usize,
    /// The unix time the keys were rendered for (formats whose file's mtime matters).
    pub(crate) time: Option<u64>,
    /// Seed formats: every seed keywheel may have installed lately (the window and the
    /// previous window's oldest), wiped on drop; empty for the other formats.
    pub(crate) ours: Zeroizing<Vec<[u8; GO_SEED_LEN]>>,
}

impl Rendered {
    /// Record `i` (a raw record, or a base64 line with its newline).
    pub(crate) fn record(&self, i: usize) -> &[u8] {
        self.bytes
            .get(i * self.record_len..(i + 1) * self.record_len)
            .unwrap_or_default()
    }
}

/// Renders the keys of `format` at `now` with core's [`TicketKeys::render_rollover`]: the main
/// key's window, then (during a rollover, for formats that take decrypt-only keys) the same
/// window of each of `extra`.
pub(crate) fn render(
    format: Format,
    main: &TicketKeys,
    extra: &[(Extra, TicketKeys)],
    now: u64,
) -> Result<Rendered, String> {
    let others: Vec<&TicketKeys> = extra.iter().map(|(_, keys)| keys).collect();
    let len = main
        .rollover_len(format, others.len())
        .map_err(|e| e.to_string())?;
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    main.render_rollover(format, now, &others, &mut bytes)
        .map_err(|e| e.to_string())?;
    // Every main key's window has the same length: key `i` is of main key `i / per`.
    let per = main.keys(format, now).map_err(|e| e.to_string())?.count();
    let which: Vec<Option<Extra>> = std::iter::once(None)
        .chain(extra.iter().map(|(w, _)| Some(*w)))
        .collect();
    let keys = main
        .rollover_keys(format, now, &others)
        .map_err(|e| e.to_string())?
        .enumerate()
        .map(|(i, (role, key))| KeyInfo {
            counter: key.counter(),
            role,
            extra: which.get(i / per.max(1)).copied().flatten(),
            name: *key.name(),
        })
        .collect();
    Ok(Rendered {
        bytes,
        keys,
        record_len: format.record_len(),
        time: None,
        ours: Zeroizing::new(Vec::new()),
    })
}

/// The key names (hex) of an installed key file's content, in file order (core's
/// [`Format::names`]).
pub(crate) fn installed_names(format: Format, content: &[u8]) -> Vec<String> {
    format
        .names(content)
        .map(|name| name.map_or_else(|| "(not base64)".to_owned(), |n| hex(&n)))
        .collect()
}

/// Where one target's keys go.
pub(crate) struct Out<'a> {
    /// `--out` as given (HAProxy's ring is found by this string).
    pub(crate) path: &'a Path,
    /// `--out` made absolute (nginx.conf names absolute paths).
    pub(crate) abs: &'a Path,
    pub(crate) format: StekFormat,
    pub(crate) perms: Perms,
    /// The user (uid, gid) the files are given to (`--owner`; Caddy's storage root).
    pub(crate) owner: Option<(u32, u32)>,
}

/// What an install wrote, for the log.
pub(crate) struct Installed {
    /// "wrote <what>".
    pub(crate) what: String,
    /// Older files removed after the new ones were in place.
    pub(crate) removed: Vec<PathBuf>,
    /// Errors met while removing them (not fatal: the new keys are in place).
    pub(crate) cleanup_errors: Vec<String>,
    /// The running server was found on other keys than keywheel's (why, for the log): the
    /// reload command must run even for a server that needs none at a rotation.
    pub(crate) repair: Option<String>,
}

impl Installed {
    fn wrote(what: String) -> Self {
        Installed {
            what,
            removed: Vec::new(),
            cleanup_errors: Vec::new(),
            repair: None,
        }
    }
}

/// One installed file as `keywheel status` compares it: what it should hold now and what it
/// held in the previous interval (a rotation under way).
pub(crate) struct Piece {
    pub(crate) path: PathBuf,
    pub(crate) now: Option<Zeroizing<Vec<u8>>>,
    pub(crate) previous: Option<Zeroizing<Vec<u8>>>,
    /// It holds keys (whose names are listed), not configuration.
    pub(crate) holds_keys: bool,
}

/// What a server that renders its own file ([`Server::render_own`]) gets.
pub(crate) struct OwnKeys<'a> {
    /// The label's AES-256 ticket keys under the main key, with the target's schedule.
    pub(crate) keys: &'a TicketKeys,
    /// The counter the file is for: the key it holds (lighttpd), the current key (h2o).
    pub(crate) counter: u64,
    /// The unix time of the rendering.
    pub(crate) now: u64,
}

/// What a server that picks up keys on its own clock does at a wake-up ([`Server::step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    /// The counter the file must hold now.
    pub(crate) due: u64,
    /// It must be (re)written now (`false`: the file already holds it; rewriting it would
    /// disturb the server).
    pub(crate) write: bool,
    /// The next wake-up (unix seconds).
    pub(crate) wake: u64,
}

/// The role of key `counter` at `now`: current, next, or previous.
pub(crate) fn role_of(counter: u64, now: u64, interval: u64) -> Role {
    let c = now / interval;
    match counter.cmp(&c) {
        std::cmp::Ordering::Equal => Role::Current,
        std::cmp::Ordering::Greater => Role::Next,
        std::cmp::Ordering::Less => Role::Previous(c - counter),
    }
}

/// A copy of key bytes that is wiped on drop.
fn secret(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(bytes.to_vec())
}

/// One server's way of taking keys. The defaults are those of a server that reads one file.
pub(crate) trait Server: Sync {
    /// The `--format` names this server takes.
    fn formats(&self) -> &'static [&'static str];

    /// It renders its files itself ([`Server::render_own`]): its formats are not core formats.
    fn renders_itself(&self) -> bool {
        false
    }

    /// Checks of the interval and keep beyond the schedule's own: `Err((setting, message))`
    /// with the setting at fault ("interval" or "keep").
    fn check_schedule(&self, _interval: u64, _keep: u64) -> Result<(), (&'static str, String)> {
        Ok(())
    }

    /// What the dry run says of the format (servers that render themselves).
    fn describe_own(&self) -> &'static str {
        ""
    }

    /// Renders the file for `keys` (servers that render themselves).
    fn render_own(&self, _keys: &OwnKeys<'_>) -> Result<Rendered, String> {
        Err("this format has no renderer of its own".to_owned())
    }

    /// The counter its file should hold at `now` in the steady state (`None`: the current
    /// one). Used by `keywheel status` and for the rendering when no [`Server::step`] decides.
    fn file_counter(&self, _now: u64, _interval: u64) -> Option<u64> {
        None
    }

    /// A server that picks up keys on its own clock (lighttpd): what to write at `now` given
    /// the installed file (`name(n)` is the name of key `n`), and when to wake next. `None`
    /// (the default): the current window, written 2.02 s after every interval boundary.
    fn step(
        &self,
        _out: &Out<'_>,
        _now: u64,
        _interval: u64,
        _name: &dyn Fn(u64) -> Option<[u8; TICKET_NAME_LEN]>,
    ) -> Option<Step> {
        None
    }

    /// The key names (hex) of an installed file in file order, for servers that render
    /// themselves (`None`: the core format's [`installed_names`]).
    fn names(&self, _content: &[u8]) -> Option<Vec<String>> {
        None
    }

    /// The output is a directory of files rather than one file.
    fn writes_directory(&self) -> bool {
        false
    }

    /// Checks of the output path beyond its kind (nginx: a path its configuration can name).
    fn check_path(&self, _out: &Out<'_>) -> Result<(), String> {
        Ok(())
    }

    /// Whether the reload command runs after every rotation (`false`: only when
    /// [`Installed::repair`] says the running server is on other keys, as for Caddy, which
    /// re-reads its file by itself).
    fn reloads_on_rotation(&self) -> bool {
        true
    }

    /// Writes the rendered keys of `counter`.
    fn install(&self, out: &Out<'_>, _counter: u64, keys: &Rendered) -> Result<Installed, String> {
        write_one_file(out, keys)
    }

    /// Pushes the written keys into the running server, when it has a way (`socket`); returns
    /// the line to log.
    fn push(&self, _out: &Out<'_>, socket: &Path, _keys: &Rendered) -> Result<String, String> {
        Err(format!("{} has no admin socket", socket.display()))
    }

    /// The keys the running server holds, as its file would hold them (`keywheel status`).
    fn held(&self, _out: &Out<'_>, _socket: &Path) -> Option<Result<Zeroizing<Vec<u8>>, String>> {
        None
    }

    /// What one record is called in the dry-run report.
    fn record_word(&self) -> &'static str {
        "record"
    }

    /// A record shown with --print-keys.
    fn show_record(&self, record: &[u8]) -> Zeroizing<String> {
        hex_secret(record)
    }

    /// The dry-run lines of what would be written; `key(o, prefix, i)` adds key `i`'s line.
    fn plan(
        &self,
        out: &Out<'_>,
        _counter: u64,
        keys: &Rendered,
        o: &mut String,
        key: &dyn Fn(&mut String, &str, usize),
    ) {
        plan_one_file(out, keys, self.record_word(), o, key);
    }

    /// The installed files and what each should hold (`keywheel status`).
    fn pieces(
        &self,
        out: &Out<'_>,
        now: Option<&Rendered>,
        previous: Option<&Rendered>,
    ) -> Vec<Piece> {
        vec![Piece {
            path: out.path.to_owned(),
            now: now.map(|r| secret(&r.bytes)),
            previous: previous.map(|r| secret(&r.bytes)),
            holds_keys: true,
        }]
    }
}

/// The dry-run lines of one file written atomically, one line per record (`word` `i`).
fn plan_one_file(
    out: &Out<'_>,
    keys: &Rendered,
    word: &str,
    o: &mut String,
    key: &dyn Fn(&mut String, &str, usize),
) {
    let _ = writeln!(
        o,
        "  would write    {} ({} bytes, mode {:04o}), atomically",
        out.path.display(),
        keys.bytes.len(),
        out.perms.file_mode()
    );
    for i in 0..keys.keys.len() {
        key(o, &format!("    {word} {i:<2}     "), i);
    }
}

/// Replaces `--out` atomically with the rendered bytes.
fn write_one_file(out: &Out<'_>, keys: &Rendered) -> Result<Installed, String> {
    files::write_atomic(out.path, &keys.bytes, out.perms)?;
    Ok(Installed::wrote(out.path.display().to_string()))
}

/// Replaces `--out` atomically, the new file's mtime `mtime(time, old mtime)` (`time`: the
/// time the keys were rendered for): for servers that reload their file when its mtime changes.
fn write_one_file_at(
    out: &Out<'_>,
    keys: &Rendered,
    mtime: fn(u64, Option<u64>) -> u64,
) -> Result<Installed, String> {
    use std::os::unix::fs::MetadataExt as _;
    let old = std::fs::metadata(out.path)
        .ok()
        .and_then(|m| u64::try_from(m.mtime()).ok());
    let mtime = keys.time.map(|now| mtime(now, old));
    files::write_atomic_at(out.path, &keys.bytes, out.perms, mtime)?;
    Ok(Installed::wrote(out.path.display().to_string()))
}

/// The output location must exist (a directory: its parent), be of the right kind, and
/// (unless `allow_persistent`) be on tmpfs or ramfs. Worded for the command line.
pub(crate) fn check_out(out: &Out<'_>, allow_persistent: bool) -> Result<(), String> {
    let server = server(out.format);
    let path = out.path;
    let fmt = out.format.name();
    let dir_out = server.writes_directory();
    if !dir_out && path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(format!(
            "--out {} ends with '/', but --format {fmt} writes one file; name the file (e.g. \
             {}{fmt}.key)",
            path.display(),
            path.display()
        ));
    }
    let meta = std::fs::metadata(path);
    let dir = match &meta {
        Ok(m) if dir_out && !m.is_dir() => {
            return Err(format!(
                "--out {} is not a directory; --format {fmt} writes a directory of key files",
                path.display()
            ));
        }
        Ok(m) if !dir_out && m.is_dir() => {
            return Err(format!(
                "--out {} is a directory; --format {fmt} writes one file (e.g. {})",
                path.display(),
                path.join(format!("{fmt}.key")).display()
            ));
        }
        Ok(_) if dir_out => path,
        _ => files::parent_dir(path),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "output directory {} is not a directory (--out {})",
                dir.display(),
                path.display()
            ));
        }
        Err(e) => {
            return Err(format!(
                "output directory {} does not exist or cannot be reached (--out {}): {}",
                dir.display(),
                path.display(),
                os::strerror(&e)
            ));
        }
    }
    files::check_dir_safe(dir)?;
    if dir != files::parent_dir(path) {
        files::check_dir_safe(files::parent_dir(path))?;
    }
    server.check_path(out)?;
    if allow_persistent {
        Ok(())
    } else {
        files::check_memory_fs(dir)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn unknown_format_names_the_allowed_ones() {
        assert_eq!(
            parse_format("nginx80").unwrap_err(),
            "format 'nginx80' is unknown; it must be one of nginx, nginx48, haproxy, haproxy48, \
             apache, ats, openssl, lighttpd, h2o, go, go-json, caddy, json"
        );
        assert_eq!(parse_format("json"), Ok(StekFormat::Json));
        assert_eq!(parse_format("lighttpd"), Ok(StekFormat::Own("lighttpd")));
        assert_eq!(parse_format("h2o"), Ok(StekFormat::Own("h2o")));
    }

    #[test]
    fn every_format_name_is_parsed_and_claimed_at_most_once() {
        let names: Vec<&str> = format_names().collect();
        for name in &names {
            assert_eq!(parse_format(name).unwrap().name(), *name);
        }
        let claimed: Vec<&str> = SERVERS.iter().flat_map(|s| s.formats()).copied().collect();
        for name in &claimed {
            assert!(names.contains(name), "{name} is claimed but no format");
            assert_eq!(claimed.iter().filter(|c| *c == name).count(), 1, "{name}");
        }
    }

    #[test]
    fn one_file_per_key_formats_are_claimed() {
        for f in FORMATS
            .iter()
            .filter(|f| f.files() == keywheel::Files::OnePerKey)
        {
            let server = server(StekFormat::Server(*f));
            assert!(server.formats().contains(&f.name()), "{}", f.name());
        }
        assert!(server(parse_format("apache").unwrap()).formats().is_empty());
        assert!(server(parse_format("nginx48").unwrap()).writes_directory());
    }
}
