//! Loading a main key file: the one place that reads main keys (`--main-key`, credentials,
//! `-k`/`-a` of tofurkey, the previous and next main keys of a rollover), with tofurkey's and
//! keywheel's wording of every failure.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use keywheel::{MAIN_KEY_LEN, MainKey};
use zeroize::Zeroizing;

use crate::sys::os::strerror;

/// Why a main key could not be read.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// `open` failed.
    Open(io::Error),
    /// `read` failed.
    Read(io::Error),
    /// `read` returned fewer than [`MAIN_KEY_LEN`] bytes.
    Short(usize),
    /// `close` failed.
    Close(io::Error),
    /// The file may be accessed by group or others (mode bits given).
    Insecure(u32),
}

/// Reads a main key as tofurkey does: one `read` of [`MAIN_KEY_LEN`] bytes, which must return
/// them all. With `check_mode`, a file whose mode gives group or others any access is refused.
/// The read buffer is wiped in every case.
pub(crate) fn read_main_key(path: &Path, check_mode: bool) -> Result<MainKey, KeyError> {
    let mut file = File::open(path).map_err(KeyError::Open)?;
    let mut buf = Zeroizing::new([0u8; MAIN_KEY_LEN]);
    let got = file.read(&mut buf[..]).map_err(KeyError::Read)?;
    if got != MAIN_KEY_LEN {
        return Err(KeyError::Short(got));
    }
    if check_mode {
        let mode = file
            .metadata()
            .map_err(KeyError::Read)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Insecure(mode & 0o7777));
        }
    }
    nix::unistd::close(file).map_err(|e| KeyError::Close(e.into()))?;
    MainKey::from_bytes(&buf[..]).map_err(|_| KeyError::Short(got))
}

impl KeyError {
    /// tofurkey's wording (logged as "info:" before its FATAL line).
    pub(crate) fn tofurkey_text(&self, path: &Path) -> String {
        let p = path.display();
        match self {
            KeyError::Open(e) => format!("open({p}) failed: {}", strerror(e)),
            KeyError::Read(e) => format!("read({p}, {MAIN_KEY_LEN}) failed: {}", strerror(e)),
            KeyError::Short(n) => format!("read({p}): wanted {MAIN_KEY_LEN} bytes, got {n} bytes"),
            KeyError::Close(e) => format!("close({p}) failed: {}", strerror(e)),
            KeyError::Insecure(mode) => insecure_text("key file", path, *mode),
        }
    }

    /// keywheel's wording: one self-contained sentence.
    pub(crate) fn keywheel_text(&self, what: &str, path: &Path) -> String {
        let p = path.display();
        match self {
            KeyError::Open(e) => format!("cannot open {what} {p}: {}", strerror(e)),
            KeyError::Read(e) => format!("cannot read {what} {p}: {}", strerror(e)),
            KeyError::Short(n) => format!(
                "{what} {p} is too short: {}",
                keywheel::Error::MainKeyTooShort { len: *n }
            ),
            KeyError::Close(e) => format!("cannot close {what} {p}: {}", strerror(e)),
            KeyError::Insecure(mode) => insecure_text(what, path, *mode),
        }
    }
}

fn insecure_text(what: &str, path: &Path, mode: u32) -> String {
    let p = path.display();
    format!(
        "{what} {p} has mode {mode:04o}, so group or others can access it; \
         fix it with `chmod 600 {p}` (or pass --allow-insecure-key-file)"
    )
}
