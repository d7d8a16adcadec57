//! Loading a main key file: the one place the CLI reads main keys (`--main-key`, credentials,
//! `-k`/`-a` of tofurkey, the previous and next main keys of a rollover), through the core
//! crate's loader [`MainKey::from_file`], with tofurkey's and keywheel's wording of every
//! failure.
//!
//! The tofurkey drop-in refuses what is not a regular file, as keywheel does: tofurkey 1.3.4
//! would block forever on a FIFO and take 32 bytes of a character device (`/dev/zero`) as the
//! key. A directory keeps the line it always had in both dialects (a `read` that fails with
//! EISDIR); any other kind is named in a line of the same shape (tofurkey) or core's sentence
//! (keywheel).

use std::io;
use std::path::Path;

use keywheel::{KeyFileError, KeyFileMode, MAIN_KEY_LEN, MainKey};

use nix::errno::Errno;

use crate::sys::os::strerror;

/// How keywheel tells the operator to accept a key file that group or others may access.
pub(crate) const ALLOW_INSECURE: &str = "--allow-insecure-key-file";

/// Reads a main key (the first [`MAIN_KEY_LEN`] bytes of a regular file). With `check_mode`,
/// a file whose mode gives group or others any access is refused. The read buffer is wiped.
pub(crate) fn read_main_key(path: &Path, check_mode: bool) -> Result<MainKey, KeyFileError> {
    let mode = if check_mode {
        KeyFileMode::Private
    } else {
        KeyFileMode::AllowInsecure
    };
    MainKey::from_file(path, mode)
}

/// keywheel's wording: one self-contained sentence; `what` names the file ("main key file").
pub(crate) fn keywheel_text(err: &KeyFileError, what: &str, path: &Path) -> String {
    as_read_error(err, |err| err.message(what, path, ALLOW_INSECURE))
}

/// tofurkey 1.3.4's wording (logged as "info:" before its FATAL line).
pub(crate) fn tofurkey_text(err: &KeyFileError, path: &Path) -> String {
    let p = path.display();
    as_read_error(err, |err| match err {
        KeyFileError::Open(e) => format!("open({p}) failed: {}", strerror(e)),
        KeyFileError::Read(e) => format!("read({p}, {MAIN_KEY_LEN}) failed: {}", strerror(e)),
        KeyFileError::NotRegular(kind) => {
            format!("read({p}, {MAIN_KEY_LEN}) refused: {p} is {kind}, not a regular file")
        }
        KeyFileError::Short(n) => {
            format!("read({p}): wanted {MAIN_KEY_LEN} bytes, got {n} bytes")
        }
        KeyFileError::Insecure(_) => err.message("key file", path, ALLOW_INSECURE),
    })
}

/// A directory is worded as the failed `read` it always was (EISDIR, "Is a directory"), in
/// both dialects; `word` gets every other error as it is.
fn as_read_error(err: &KeyFileError, word: impl FnOnce(&KeyFileError) -> String) -> String {
    match err {
        KeyFileError::NotRegular("a directory") => word(&KeyFileError::Read(
            io::Error::from_raw_os_error(Errno::EISDIR as i32),
        )),
        other => word(other),
    }
}
