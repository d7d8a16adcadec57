//! Where the main key (and, during a rollover, the previous or next main key) comes from, and
//! reading them once per wake-up for every target that needs them.

use std::path::PathBuf;

use keywheel::MainKey;

use crate::sys::main_key;

/// One key file and what to call it in messages.
#[derive(Debug, Clone)]
pub(crate) struct KeyFile {
    /// The file (a credential is resolved to `$CREDENTIALS_DIRECTORY/NAME` already).
    pub(crate) path: PathBuf,
    /// "main key file", "previous main key file", "autokey file", ...
    pub(crate) what: &'static str,
}

impl KeyFile {
    /// The key, or the one-line description of why it cannot be had.
    pub(crate) fn read(&self, check_mode: bool) -> Result<MainKey, String> {
        main_key::read_main_key(&self.path, check_mode)
            .map_err(|e| main_key::keywheel_text(&e, self.what, &self.path))
    }
}

/// Why a systemd credential cannot be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredentialError {
    /// The name is not one file name.
    Name(String),
    /// `$CREDENTIALS_DIRECTORY` is not set.
    NoDirectory(String),
}

impl CredentialError {
    /// The message in the command line's words (`--credential`, `--main-key`).
    pub(crate) fn cli_text(&self) -> String {
        match self {
            CredentialError::Name(name) => {
                format!("--credential '{name}' is not a credential name (a file name without '/')")
            }
            CredentialError::NoDirectory(name) => {
                format!("--credential {name}: {NO_DIRECTORY} (use --main-key FILE otherwise)")
            }
        }
    }

    /// The message in the configuration file's words.
    pub(crate) fn config_text(&self) -> String {
        match self {
            CredentialError::Name(name) => format!(
                "main key credential '{name}' is not a credential name (a file name without '/')"
            ),
            CredentialError::NoDirectory(name) => {
                format!("main key credential {name}: {NO_DIRECTORY} (use a key file otherwise)")
            }
        }
    }
}

const NO_DIRECTORY: &str = "$CREDENTIALS_DIRECTORY is not set; systemd sets it for services with \
                            LoadCredential= or SetCredential=";

/// `$CREDENTIALS_DIRECTORY/NAME`: a credential name must be one file name inside that
/// directory.
pub(crate) fn credential_path(name: &str) -> Result<PathBuf, CredentialError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(CredentialError::Name(name.to_owned()));
    }
    match std::env::var_os("CREDENTIALS_DIRECTORY") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir).join(name)),
        _ => Err(CredentialError::NoDirectory(name.to_owned())),
    }
}

/// Which extra main key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extra {
    /// The main key before a rollover: its ticket keys stay accepted for decryption.
    Previous,
    /// The main key after a rollover, staged: its ticket keys are accepted for decryption
    /// before any node encrypts with them.
    Next,
}

impl Extra {
    /// "previous" or "next".
    pub(crate) fn name(self) -> &'static str {
        match self {
            Extra::Previous => "previous",
            Extra::Next => "next",
        }
    }
}

/// The key files of a daemon.
#[derive(Debug, Clone)]
pub(crate) struct KeySources {
    /// The main key: encrypts.
    pub(crate) main: KeyFile,
    /// Decrypt-only main keys (rollover), in the order their keys are appended.
    pub(crate) extra: Vec<(Extra, KeyFile)>,
    /// Refuse key files that group or others may access.
    pub(crate) check_mode: bool,
}

/// The keys of one wake-up, read on first use and wiped when dropped.
pub(crate) struct KeyRound<'s> {
    sources: &'s KeySources,
    main: Option<Result<MainKey, String>>,
    extra: Option<Result<Vec<(Extra, MainKey)>, String>>,
}

impl<'s> KeyRound<'s> {
    /// Nothing read yet.
    pub(crate) fn new(sources: &'s KeySources) -> Self {
        KeyRound {
            sources,
            main: None,
            extra: None,
        }
    }

    /// The main key (read now unless read already in this wake-up).
    pub(crate) fn main(&mut self) -> Result<&MainKey, String> {
        let sources = self.sources;
        self.main
            .get_or_insert_with(|| sources.main.read(sources.check_mode))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The decrypt-only main keys, in order (empty outside a rollover).
    pub(crate) fn extra(&mut self) -> Result<&[(Extra, MainKey)], String> {
        let sources = self.sources;
        self.extra
            .get_or_insert_with(|| {
                sources
                    .extra
                    .iter()
                    .map(|(which, file)| file.read(sources.check_mode).map(|k| (*which, k)))
                    .collect()
            })
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }
}
