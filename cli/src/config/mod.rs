//! The configuration file of `keywheel run`, `status` and `check` (TOML). Every mistake is a
//! [`ConfigError`] naming the file, the line, the key and what is allowed; nothing is guessed.
//! The keys are documented in docs/operations.md.

use std::path::{Path, PathBuf};

use keywheel::{Schedule, TicketSchedule};

mod error;
mod parse;

pub(crate) use error::ConfigError;
pub(crate) use parse::parse;

use crate::daemon::forward::{StateFile, working_dir};
use crate::daemon::keys::{Extra, KeyFile, KeySources, StateSources, credential_path};
use crate::servers;
use crate::sys::os::strerror;
use crate::sys::paths::{Place, check_distinct};
use crate::targets::tickets::StekSpec;

/// Where `keywheel run`, `status` and `check` look without `--config`.
pub(crate) const DEFAULT_CONFIG: &str = "/etc/keywheel/keywheel.toml";

/// A key given as a file or as a systemd credential name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyRef {
    /// An absolute path.
    File(PathBuf),
    /// A credential name: `$CREDENTIALS_DIRECTORY/NAME`.
    Credential(String),
}

impl KeyRef {
    /// The file to read (a credential needs `$CREDENTIALS_DIRECTORY`).
    pub(crate) fn resolve(&self, what: &'static str) -> Result<KeyFile, String> {
        let path = match self {
            KeyRef::File(p) => p.clone(),
            KeyRef::Credential(name) => credential_path(name).map_err(|e| e.config_text())?,
        };
        Ok(KeyFile { path, what })
    }
}

/// The `[tfo]` table.
#[derive(Debug, Clone)]
pub(crate) struct TfoSpec {
    pub(crate) schedule: Schedule,
    pub(crate) procfs: PathBuf,
}

/// Forward-secure mode: the states (`state = …` instead of `main_key = …`).
#[derive(Debug, Clone)]
pub(crate) struct StateConfig {
    pub(crate) state: KeyRef,
    pub(crate) previous: Option<KeyRef>,
    pub(crate) next: Option<KeyRef>,
    /// The working copies' directory (`state_dir`; default $RUNTIME_DIRECTORY or /run/keywheel).
    pub(crate) dir: Option<PathBuf>,
}

/// A valid configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The file it came from.
    pub(crate) path: PathBuf,
    /// The main key (`None` in forward-secure mode).
    pub(crate) main_key: Option<KeyRef>,
    /// Forward-secure mode (`None` in main-key mode).
    pub(crate) state: Option<StateConfig>,
    pub(crate) previous_main_key: Option<KeyRef>,
    pub(crate) next_main_key: Option<KeyRef>,
    pub(crate) allow_insecure_key_file: bool,
    pub(crate) metrics_file: Option<PathBuf>,
    pub(crate) tfo: Option<TfoSpec>,
    pub(crate) stek: Vec<(StekSpec, TicketSchedule)>,
}

/// The largest configuration file read (a larger one is refused, not read).
pub(crate) const MAX_CONFIG_LEN: u64 = 1024 * 1024;

/// Reads a configuration file: a regular file (a FIFO, device or directory is refused without
/// blocking: `O_NONBLOCK`) of at most [`MAX_CONFIG_LEN`] bytes, in UTF-8.
fn read_config(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| strerror(&e))?;
    let meta = file.metadata().map_err(|e| strerror(&e))?;
    if !meta.file_type().is_file() {
        return Err(format!(
            "not a regular file (a {}); the configuration must be a regular file",
            crate::sys::os::kind_name(&meta)
        ));
    }
    if meta.len() > MAX_CONFIG_LEN {
        return Err(format!(
            "{} bytes; a configuration file may have at most {MAX_CONFIG_LEN} bytes",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_CONFIG_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| strerror(&e))?;
    if bytes.len() as u64 > MAX_CONFIG_LEN {
        return Err(format!(
            "more than {MAX_CONFIG_LEN} bytes; a configuration file may have at most \
             {MAX_CONFIG_LEN} bytes"
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))
}

/// Reads and checks a configuration file.
pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = read_config(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    let config = parse(path, &text)?;
    config.check_distinct()?;
    Ok(config)
}

impl Config {
    /// The key files to read (credentials resolved).
    pub(crate) fn key_sources(&self) -> Result<KeySources, String> {
        let mut extra = Vec::new();
        if let Some(k) = &self.previous_main_key {
            extra.push((Extra::Previous, k.resolve("previous main key file")?));
        }
        if let Some(k) = &self.next_main_key {
            extra.push((Extra::Next, k.resolve("next main key file")?));
        }
        let state = match &self.state {
            Some(st) => {
                let file = |k: &KeyRef, what: &'static str| {
                    k.resolve(what).map(|f| StateFile { path: f.path, what })
                };
                let mut extra = Vec::new();
                if let Some(k) = &st.previous {
                    extra.push((Extra::Previous, file(k, "previous state file")?));
                }
                if let Some(k) = &st.next {
                    extra.push((Extra::Next, file(k, "next state file")?));
                }
                Some(StateSources {
                    current: file(&st.state, "state file")?,
                    extra,
                    working_dir: working_dir(st.dir.as_deref()),
                    allow_persistent: false,
                })
            }
            None => None,
        };
        Ok(KeySources {
            main: match &self.main_key {
                Some(k) => Some(k.resolve("main key file")?),
                None => None,
            },
            state,
            extra,
            check_mode: !self.allow_insecure_key_file,
        })
    }

    /// Refuses inputs and outputs that are one file (compared by real identity, see
    /// [`check_distinct`]): a main key, the metrics file, the TFO procfs file, every `out`.
    pub(crate) fn check_distinct(&self) -> Result<(), ConfigError> {
        let mut places = Vec::new();
        for (what, key) in [
            ("main_key", self.main_key.as_ref()),
            ("previous_main_key", self.previous_main_key.as_ref()),
            ("next_main_key", self.next_main_key.as_ref()),
        ] {
            if let Some(KeyRef::File(p)) = key {
                places.push(Place::file(what, p));
            }
        }
        if let Some(m) = &self.metrics_file {
            places.push(Place::file("metrics_file", m));
        }
        if let Some(tfo) = &self.tfo {
            places.push(Place::file("tfo.procfs", &tfo.procfs));
        }
        for (i, (spec, _)) in self.stek.iter().enumerate() {
            let what = format!("stek[{i}].out");
            places.push(if servers::server(spec.format).writes_directory() {
                Place::dir(what, &spec.out)
            } else {
                Place::file(what, &spec.out)
            });
        }
        check_distinct(&places).map_err(|message| ConfigError::File {
            path: self.path.clone(),
            message,
        })
    }

    /// The targets' names, TFO first.
    pub(crate) fn target_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tfo.iter().map(|_| "tfo".to_owned()).collect();
        names.extend(self.stek.iter().map(|(s, _)| s.name.clone()));
        names
    }
}

#[cfg(test)]
mod tests;
