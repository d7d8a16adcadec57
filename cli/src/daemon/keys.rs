//! Where the main key (and, during a rollover, the previous or next main key) comes from, and
//! reading them once per wake-up for every target that needs them.

use std::path::PathBuf;

use keywheel::{MainKey, State};

use crate::daemon::forward::{LiveState, StateFile};
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

/// The forward-secure states of a daemon (instead of main keys; never both).
#[derive(Debug, Clone)]
pub(crate) struct StateSources {
    /// The state that encrypts.
    pub(crate) current: StateFile,
    /// Decrypt-only states (seed rollover), in the order their keys are appended.
    pub(crate) extra: Vec<(Extra, StateFile)>,
    /// Where the working copies live (tmpfs or ramfs).
    pub(crate) working_dir: PathBuf,
    /// Allow a working directory on persistent storage.
    pub(crate) allow_persistent: bool,
}

/// The states in use by a daemon, opened once at start and advanced after every round.
#[derive(Debug)]
pub(crate) struct LiveStates {
    pub(crate) current: LiveState,
    pub(crate) extra: Vec<(Extra, LiveState)>,
}

impl StateSources {
    /// Opens every state (the newest of the given file and the working copy, each); returns
    /// them and one log line per state.
    pub(crate) fn open(&self, check_mode: bool) -> Result<(LiveStates, Vec<String>), String> {
        let open = |f: &StateFile| {
            LiveState::open(
                f.clone(),
                &self.working_dir,
                check_mode,
                self.allow_persistent,
            )
        };
        let current = open(&self.current)?;
        let mut notes = vec![current.note];
        let mut extra = Vec::new();
        for (which, f) in &self.extra {
            let o = open(f)?;
            notes.push(o.note);
            extra.push((*which, o.state));
        }
        Ok((
            LiveStates {
                current: current.state,
                extra,
            },
            notes,
        ))
    }
}

impl LiveStates {
    /// Advances every state to `floor` (see [`LiveState::advance_to`]); the first error.
    pub(crate) fn advance_to(&mut self, floor: u64) -> Result<bool, String> {
        let mut moved = self.current.advance_to(floor)?;
        for (_, s) in &mut self.extra {
            moved |= s.advance_to(floor)?;
        }
        Ok(moved)
    }

    /// Writes every working copy (at start).
    pub(crate) fn save(&self) -> Result<(), String> {
        self.current.save()?;
        self.extra.iter().try_for_each(|(_, s)| s.save())
    }
}

/// The key files of a daemon.
#[derive(Debug, Clone)]
pub(crate) struct KeySources {
    /// The main key: encrypts (`None` in forward-secure mode).
    pub(crate) main: Option<KeyFile>,
    /// Forward-secure mode: the states (`None` in main-key mode).
    pub(crate) state: Option<StateSources>,
    /// Decrypt-only main keys (rollover), in the order their keys are appended.
    pub(crate) extra: Vec<(Extra, KeyFile)>,
    /// Refuse key files that group or others may access.
    pub(crate) check_mode: bool,
}

impl KeySources {
    /// The decrypt-only keys configured (main keys or, in forward-secure mode, states).
    pub(crate) fn extras(&self) -> Vec<Extra> {
        match &self.state {
            Some(st) => st.extra.iter().map(|(w, _)| *w).collect(),
            None => self.extra.iter().map(|(w, _)| *w).collect(),
        }
    }

    /// What the decrypt-only keys are called: "main key" or "state".
    pub(crate) fn extra_kind(&self) -> &'static str {
        if self.state.is_some() {
            "state"
        } else {
            "main key"
        }
    }
}

/// The keys of one wake-up, read on first use and wiped when dropped.
pub(crate) struct KeyRound<'s> {
    sources: &'s KeySources,
    states: Option<&'s LiveStates>,
    main: Option<Result<MainKey, String>>,
    extra: Option<Result<Vec<(Extra, MainKey)>, String>>,
}

/// What a target derives its keys from in one wake-up.
pub(crate) enum Secret<'a> {
    /// Main-key mode.
    Main(&'a MainKey),
    /// Forward-secure mode.
    State(&'a State),
}

impl<'s> KeyRound<'s> {
    /// Nothing read yet; `states` are the daemon's states in forward-secure mode.
    pub(crate) fn new(sources: &'s KeySources, states: Option<&'s LiveStates>) -> Self {
        KeyRound {
            sources,
            states,
            main: None,
            extra: None,
        }
    }

    /// The main key, or in forward-secure mode the state.
    pub(crate) fn secret(&mut self) -> Result<Secret<'_>, String> {
        if let Some(states) = self.states {
            return Ok(Secret::State(states.current.state()));
        }
        self.main().map(Secret::Main)
    }

    /// The decrypt-only states, in order (empty outside a seed rollover or in main-key mode).
    pub(crate) fn extra_states(&self) -> Vec<(Extra, &'s State)> {
        self.states.map_or_else(Vec::new, |s| {
            s.extra.iter().map(|(w, l)| (*w, l.state())).collect()
        })
    }

    /// The main key (read now unless read already in this wake-up).
    pub(crate) fn main(&mut self) -> Result<&MainKey, String> {
        let sources = self.sources;
        self.main
            .get_or_insert_with(|| match &sources.main {
                Some(main) => main.read(sources.check_mode),
                None => Err(
                    "this daemon serves in forward-secure mode (a state), not from a main key"
                        .to_owned(),
                ),
            })
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
