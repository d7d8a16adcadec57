//! Log lines on stderr: "info: ", "error: " (and tofurkey's "FATAL: "), each written with one
//! `write(2)` from a buffer wiped afterwards (lines may hold keys with --print-keys). Under
//! `keywheel run` every line of a target starts with the target's name.

use crate::engine::{concat, write_unbuffered};

/// Where a component logs: its prefix ("" or "nginx: ") and whether verbose lines show.
#[derive(Debug, Clone, Default)]
pub(crate) struct Log {
    prefix: String,
    verbose: bool,
}

impl Log {
    /// Lines with no prefix.
    pub(crate) fn new(verbose: bool) -> Self {
        Log {
            prefix: String::new(),
            verbose,
        }
    }

    /// Lines starting with "`name`: ".
    pub(crate) fn with_prefix(name: &str, verbose: bool) -> Self {
        Log {
            prefix: format!("{name}: "),
            verbose,
        }
    }

    fn line(&self, kind: &str, msg: &str) {
        write_unbuffered(
            std::io::stderr(),
            concat(&[kind, &self.prefix, msg, "\n"]).as_bytes(),
        );
    }

    /// An "info: " line.
    pub(crate) fn info(&self, msg: &str) {
        self.line("info: ", msg);
    }

    /// An "info: " line shown with --verbose only.
    pub(crate) fn verbose(&self, msg: &str) {
        if self.verbose {
            self.info(msg);
        }
    }

    /// An "error: " line.
    pub(crate) fn error(&self, msg: &str) {
        self.line("error: ", msg);
    }

    /// Whether --verbose is on.
    pub(crate) fn is_verbose(&self) -> bool {
        self.verbose
    }
}
