//! The errors of a configuration file ([`ConfigError`]) and where they are ([`Ctx`]: the line of
//! a value, from its span in the text).

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a configuration file is refused. Shown as "FILE:LINE: KEY: message" (or without the
/// parts that do not apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigError {
    /// The file cannot be read.
    Read { path: PathBuf, error: String },
    /// Not TOML, an unknown or missing key, a value of the wrong type (the TOML parser's
    /// message).
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// A value out of range or inconsistent with another one.
    Value {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    /// A problem of the whole file (a missing key, no targets).
    File { path: PathBuf, message: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, error } => write!(
                f,
                "cannot read the configuration file {}: {error}",
                path.display()
            ),
            ConfigError::Syntax {
                path,
                line: Some(line),
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            ConfigError::Syntax {
                path,
                line: None,
                message,
            }
            | ConfigError::File { path, message } => write!(f, "{}: {message}", path.display()),
            ConfigError::Value {
                path,
                line,
                key,
                message,
            } => write!(f, "{}:{line}: {key}: {message}", path.display()),
        }
    }
}

/// Collects the position of errors: "FILE:LINE: KEY: message".
pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl Ctx<'_> {
    pub(super) fn line(&self, span: std::ops::Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    pub(super) fn err(&self, span: std::ops::Range<usize>, key: &str, msg: &str) -> ConfigError {
        ConfigError::Value {
            path: self.path.to_owned(),
            line: self.line(span),
            key: key.to_owned(),
            message: msg.to_owned(),
        }
    }

    pub(super) fn file_err(&self, message: String) -> ConfigError {
        ConfigError::File {
            path: self.path.to_owned(),
            message,
        }
    }
}
