//! The bottom layer: the operating system and plain utilities, knowing nothing of keywheel's
//! targets or servers. System calls and signals ([`os`]), the clock that notices steps
//! ([`clock`]), UTC text ([`utc`]), log lines ([`log`]), atomic file writes and the tmpfs
//! check ([`files`]), the reload command ([`reload`]), main key files ([`main_key`]),
//! forward-secure state files ([`state_file`]), whether two paths are one file ([`paths`]), hex
//! and base64 ([`text`]).

pub(crate) mod clock;
pub(crate) mod files;
#[cfg(test)]
pub(crate) mod fuzz;
pub(crate) mod log;
pub(crate) mod main_key;
pub(crate) mod os;
pub(crate) mod paths;
pub(crate) mod reload;
pub(crate) mod state_file;
pub(crate) mod temps;
pub(crate) mod text;
pub(crate) mod utc;
