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
mod server;

use keywheel::{Encoding, FORMATS, Format, GO_SEED_LEN, Role, TICKET_NAME_LEN, TicketKeys};
use zeroize::Zeroizing;

pub(crate) use server::{
    Installed, Out, OwnKeys, Piece, Server, Step, plan_one_file, role_of, secret, write_one_file,
    write_one_file_at,
};

use crate::daemon::keys::Extra;
use crate::sys::files;
use crate::sys::os;
use crate::sys::text::hex;

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
