//! Log lines on stderr: "info: ", "error: " (and tofurkey's "FATAL: "), each written with one
//! `write(2)` from a buffer wiped afterwards (lines may hold keys with --print-keys). Under
//! `keywheel run` every line of a target starts with the target's name.

use std::os::fd::AsFd;

use zeroize::Zeroizing;

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

/// Concatenates `parts` into a string allocated once at its final size, wiped on drop: used
/// for every text that may hold key bytes so that no unwiped copy is left behind.
pub(crate) fn concat(parts: &[&str]) -> Zeroizing<String> {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        s.push_str(part);
    }
    Zeroizing::new(s)
}

/// Writes `bytes` with `write(2)` straight to `fd` (no userspace buffer keeps a copy). Errors
/// are ignored, as tofurkey ignores fprintf's.
pub(crate) fn write_unbuffered(fd: impl AsFd, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        match nix::unistd::write(&fd, rest) {
            Ok(0) => return,
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// Writes one line to stderr.
pub(crate) fn stderr_line(prefix: &str, msg: &str) {
    write_unbuffered(std::io::stderr(), concat(&[prefix, msg, "\n"]).as_bytes());
}
