//! Reading a main key file (feature `std`): the one loader of the CLI, the C library and
//! Python, with the same checks and messages everywhere.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::string::{String, ToString};

use zeroize::Zeroizing;

use crate::{Error, MAIN_KEY_LEN, MainKey, STATE_FILE_MAX_LEN, State, StateError};

/// Whether a key file that group or others may access is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileMode {
    /// Refuse a file whose mode gives group or others any access (the default everywhere).
    Private,
    /// Accept it (the operator asked explicitly, e.g. `--allow-insecure-key-file`).
    AllowInsecure,
}

/// Why a main key file could not be read; [`KeyFileError::message`] words it.
#[derive(Debug)]
pub enum KeyFileError {
    /// `open` failed.
    Open(io::Error),
    /// The path is not a regular file: `kind` is "a directory", "a FIFO", "a socket",
    /// "a character device" or "a block device".
    NotRegular(&'static str),
    /// The file's mode (permission bits given) lets group or others access it.
    Insecure(u32),
    /// `fstat` or `read` failed.
    Read(io::Error),
    /// The file holds fewer than [`MAIN_KEY_LEN`] bytes (how many given).
    Short(usize),
    /// The file's first [`MAIN_KEY_LEN`] bytes are all zero ([`Error::MainKeyZero`]).
    Zero,
}

impl KeyFileError {
    /// One self-contained sentence: `what` names the file ("main key file", "previous main
    /// key file", …) and `allow` says how to accept an insecure file ("--allow-insecure-key-file",
    /// "allow_insecure=True", …).
    pub fn message(&self, what: &str, path: &Path, allow: &str) -> String {
        let p = path.display();
        match self {
            KeyFileError::Open(e) => std::format!("cannot open {what} {p}: {}", strerror(e)),
            KeyFileError::NotRegular(kind) => {
                std::format!("{what} {p} is {kind}; it must be a regular file")
            }
            KeyFileError::Insecure(mode) => std::format!(
                "{what} {p} has mode {mode:04o}, so group or others can access it; \
                 fix it with `chmod 600 {p}` (or pass {allow})"
            ),
            KeyFileError::Read(e) => std::format!("cannot read {what} {p}: {}", strerror(e)),
            KeyFileError::Short(n) => std::format!(
                "{what} {p} is too short: {}",
                Error::MainKeyTooShort { len: *n }
            ),
            KeyFileError::Zero => std::format!("{what} {p} is unusable: {}", Error::MainKeyZero),
        }
    }
}

/// An OS error's text without Rust's " (os error N)" suffix, as the C library's `strerror`.
pub fn strerror(err: &io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => text
            .strip_suffix(&std::format!(" (os error {code})"))
            .map_or_else(|| text.clone(), ToString::to_string),
        None => text,
    }
}

impl MainKey {
    /// Reads the main key from the first [`MAIN_KEY_LEN`] bytes of the file at `path` (a
    /// longer file is accepted, as by tofurkey). The file is opened with `O_NONBLOCK`, so a
    /// FIFO cannot hang the caller; anything but a regular file is refused, and so is a file
    /// that group or others may access unless `mode` is [`KeyFileMode::AllowInsecure`]. At
    /// most 32 bytes are read, into a buffer that is wiped.
    ///
    /// # Errors
    /// [`KeyFileError`], worded by [`KeyFileError::message`].
    pub fn from_file(path: &Path, mode: KeyFileMode) -> Result<MainKey, KeyFileError> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
            .map_err(KeyFileError::Open)?;
        check_file(&file, mode)?;
        let mut buf = Zeroizing::new([0u8; MAIN_KEY_LEN]);
        let mut got = 0;
        while got < MAIN_KEY_LEN {
            match file.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(KeyFileError::Read(e)),
            }
        }
        MainKey::from_bytes(&buf[..got]).map_err(|e| match e {
            Error::MainKeyZero => KeyFileError::Zero,
            _ => KeyFileError::Short(got),
        })
    }
}

/// A regular file, private unless allowed.
fn check_file(file: &File, mode: KeyFileMode) -> Result<(), KeyFileError> {
    let meta = file.metadata().map_err(KeyFileError::Read)?;
    let kind = meta.file_type();
    let not_regular = if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if !kind.is_file() {
        Some("not a regular file")
    } else {
        None
    };
    if let Some(kind) = not_regular {
        return Err(KeyFileError::NotRegular(kind));
    }
    let bits = meta.permissions().mode() & 0o7777;
    if mode == KeyFileMode::Private && bits & 0o077 != 0 {
        return Err(KeyFileError::Insecure(bits));
    }
    Ok(())
}

/// Why a forward-secure state file could not be read; [`StateFileLoadError::message`] words
/// it.
#[derive(Debug)]
pub enum StateFileLoadError {
    /// Opening, the file's type or mode, or reading failed (as for a main key file; never
    /// [`KeyFileError::Short`]).
    File(KeyFileError),
    /// The file is longer than any state file ([`STATE_FILE_MAX_LEN`] bytes).
    TooLong,
    /// The bytes are not a valid state file ([`StateError::StateFile`]).
    State(StateError),
}

impl StateFileLoadError {
    /// One self-contained sentence, as [`KeyFileError::message`].
    pub fn message(&self, what: &str, path: &Path, allow: &str) -> String {
        match self {
            StateFileLoadError::File(e) => e.message(what, path, allow),
            StateFileLoadError::TooLong => std::format!(
                "{what} {}: trailing bytes: it is longer than any state file \
                 ({STATE_FILE_MAX_LEN} bytes at most)",
                path.display()
            ),
            StateFileLoadError::State(e) => {
                let text = e.to_string();
                std::format!(
                    "{what} {}: {}",
                    path.display(),
                    text.strip_prefix("state file: ").unwrap_or(&text)
                )
            }
        }
    }
}

impl State {
    /// Reads a forward-secure state from the state file at `path`, with the checks of
    /// [`MainKey::from_file`]: opened with `O_NONBLOCK`, a regular file, not accessible by
    /// group or others unless `mode` is [`KeyFileMode::AllowInsecure`]. At most
    /// [`STATE_FILE_MAX_LEN`]` + 1` bytes are read, into a buffer that is wiped; then the strict
    /// parser of [`State::from_bytes`].
    ///
    /// # Errors
    /// [`StateFileLoadError`], worded by [`StateFileLoadError::message`].
    pub fn from_file(path: &Path, mode: KeyFileMode) -> Result<State, StateFileLoadError> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| StateFileLoadError::File(KeyFileError::Open(e)))?;
        check_file(&file, mode).map_err(StateFileLoadError::File)?;
        let mut buf = Zeroizing::new([0u8; STATE_FILE_MAX_LEN + 1]);
        let mut got = 0;
        while got < buf.len() {
            match file.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StateFileLoadError::File(KeyFileError::Read(e))),
            }
        }
        if got > STATE_FILE_MAX_LEN {
            return Err(StateFileLoadError::TooLong);
        }
        State::from_bytes(&buf[..got]).map_err(StateFileLoadError::State)
    }
}
