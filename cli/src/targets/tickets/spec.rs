//! What a [`super::StekTarget`] is made from: the settings of one ticket-key output as the
//! command line or a `[[stek]]` table gives them ([`StekSpec`], checked into a schedule or a
//! typed [`SpecError`]), and how it runs ([`Options`]).

use std::fmt;
use std::path::PathBuf;

use keywheel::TicketSchedule;
use nix::unistd::Gid;

use crate::servers::haproxy::Haproxy;
use crate::servers::{SeedFormat, Server as _, StekFormat};
use crate::sys::log::Log;

/// One ticket-key output as the command line or a `[[stek]]` table describes it.
#[derive(Debug, Clone)]
pub(crate) struct StekSpec {
    /// The target's name (log prefix and metrics label under `keywheel run`).
    pub(crate) name: String,
    pub(crate) format: StekFormat,
    pub(crate) label: String,
    pub(crate) out: PathBuf,
    pub(crate) interval: u64,
    pub(crate) keep: u64,
    pub(crate) reload: Option<String>,
    pub(crate) haproxy_socket: Option<PathBuf>,
    pub(crate) group: Option<Gid>,
    /// The user (uid, gid) Caddy's storage root is given to (`--owner`).
    pub(crate) owner: Option<(u32, u32)>,
    pub(crate) allow_persistent: bool,
}

/// The most keys one output holds: a longer ticket lifetime needs a longer interval, not
/// thousands of key files rewritten at every rotation.
pub(crate) const MAX_KEYS: u64 = 256;

impl StekSpec {
    /// The checks that need no file system; returns the schedule.
    pub(crate) fn check(&self) -> Result<TicketSchedule, SpecError> {
        let schedule =
            TicketSchedule::new(self.interval, self.keep).map_err(SpecError::Schedule)?;
        let server = self.format.server();
        if let Some(f) = server {
            f.check_keep(self.keep).map_err(SpecError::FormatKeep)?;
        }
        crate::servers::server(self.format)
            .check_schedule(self.interval, self.keep)
            .map_err(|(key, msg)| SpecError::Server { key, msg })?;
        let format = self.format.name();
        let keys = server.map_or(self.keep.saturating_add(2), |f| {
            f.key_count(self.keep) as u64
        });
        if keys > MAX_KEYS {
            return Err(SpecError::TooManyKeys {
                keep: self.keep,
                keys,
                format,
            });
        }
        if self.haproxy_socket.is_some()
            && !server.is_some_and(|f| f.encoding() == keywheel::Encoding::Base64Lines)
        {
            return Err(SpecError::HaproxySocket { format });
        }
        if self.owner.is_some() && self.format != StekFormat::Seeds(SeedFormat::Caddy) {
            return Err(SpecError::Owner { format });
        }
        if self.out.as_os_str() == "-" && self.format != StekFormat::Json {
            return Err(SpecError::StdoutNotJson { format });
        }
        Ok(schedule)
    }
}

/// A message about the command line's options in the configuration file's words (`keywheel
/// run`, `check-config`): `out`, `format`, `haproxy_socket`, `allow_persistent = true`.
pub(crate) fn config_words(msg: &str) -> String {
    msg.replace("pass --allow-persistent", "set allow_persistent = true")
        .replace("--allow-persistent", "allow_persistent")
        .replace("--haproxy-socket", "haproxy_socket")
        .replace("--owner", "owner")
        .replace("--out ", "out ")
        .replace("--format ", "format ")
}

/// Why a [`StekSpec`] is refused; shown in the command line's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpecError {
    /// The interval, or keep with the interval, is out of range.
    Schedule(keywheel::Error),
    /// The format holds another number of keys.
    FormatKeep(keywheel::Error),
    /// The server cannot follow this interval or keep (lighttpd); `key` is the setting.
    Server { key: &'static str, msg: String },
    /// `--haproxy-socket` with a format other than HAProxy's.
    HaproxySocket { format: &'static str },
    /// `--out -` with a format that writes key files.
    StdoutNotJson { format: &'static str },
    /// More than [`MAX_KEYS`] keys in one output.
    TooManyKeys {
        keep: u64,
        keys: u64,
        format: &'static str,
    },
    /// `--owner` with a format other than Caddy's.
    Owner { format: &'static str },
}

impl SpecError {
    /// The setting at fault, as the configuration file names it.
    pub(crate) fn key(&self) -> &'static str {
        match self {
            SpecError::Schedule(keywheel::Error::Keep { .. })
            | SpecError::FormatKeep(_)
            | SpecError::TooManyKeys { .. } => "keep",
            SpecError::Schedule(_) => "interval",
            SpecError::Server { key, .. } => key,
            SpecError::HaproxySocket { .. } => "haproxy_socket",
            SpecError::StdoutNotJson { .. } => "out",
            SpecError::Owner { .. } => "owner",
        }
    }

    /// The message in the configuration file's words ("haproxy_socket", "format").
    pub(crate) fn config_text(&self) -> String {
        config_words(&self.to_string())
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Schedule(e) | SpecError::FormatKeep(e) => e.fmt(f),
            SpecError::Server { msg, .. } => f.write_str(msg),
            SpecError::HaproxySocket { format } => write!(
                f,
                "--haproxy-socket needs --format {}, not {format}",
                Haproxy.formats().join(" or ")
            ),
            SpecError::StdoutNotJson { format } => write!(
                f,
                "--out - (stdout) is only for --format json; --format {format} writes key files"
            ),
            SpecError::TooManyKeys { keep, keys, format } => write!(
                f,
                "keep {keep} gives {keys} keys for --format {format}; an output holds at most \
                 {MAX_KEYS} keys, so keep must be at most {}; for longer-lived tickets use a \
                 longer interval",
                MAX_KEYS - 2
            ),
            SpecError::Owner { format } => write!(
                f,
                "--owner is for --format caddy (the user Caddy runs as must take its storage \
                 lock), not {format}; use --group to let a server read the key files"
            ),
        }
    }
}

/// How a [`StekTarget`] runs.
pub(crate) struct Options {
    pub(crate) log: Log,
    /// Messages name config keys ("out", "allow_persistent = true") instead of options.
    pub(crate) config_words: bool,
    /// A failure before the first keys are written ends the program (no retry wording).
    pub(crate) fatal_first: bool,
    pub(crate) once: bool,
    pub(crate) dry_run: bool,
    pub(crate) print_keys: bool,
}
