//! The [`Server`] trait — one server's way of taking keys — and what passes through it: where
//! the keys go ([`Out`]), what an install wrote ([`Installed`]), what `status` compares
//! ([`Piece`]), and the keys of a server that renders its own file ([`OwnKeys`], [`Step`]).
//! The defaults are those of a server that reads one file replaced atomically.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use keywheel::{Role, TICKET_NAME_LEN, TicketKeys};
use zeroize::Zeroizing;

use crate::servers::{Rendered, StekFormat};
use crate::sys::files::{self, Perms};
use crate::sys::text::hex_secret;

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
    pub(crate) fn wrote(what: String) -> Self {
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
pub(crate) fn secret(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
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
pub(crate) fn plan_one_file(
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
pub(crate) fn write_one_file(out: &Out<'_>, keys: &Rendered) -> Result<Installed, String> {
    files::write_atomic(out.path, &keys.bytes, out.perms)?;
    Ok(Installed::wrote(out.path.display().to_string()))
}

/// Replaces `--out` atomically, the new file's mtime `mtime(time, old mtime)` (`time`: the
/// time the keys were rendered for): for servers that reload their file when its mtime changes.
pub(crate) fn write_one_file_at(
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
