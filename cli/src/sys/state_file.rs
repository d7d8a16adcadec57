//! Reading and writing forward-secure state files (FORWARD_SECRECY.md, SPEC.md section 6): the
//! one place that opens them. Every buffer holding state bytes is a fixed-size [`Zeroizing`]
//! array (never reallocated, so no copy is left behind), wiped when dropped. A replaced state
//! file is replaced atomically and then its old contents are overwritten with zeros through a
//! descriptor opened before the rename, so that neither a temporary file nor the old inode's
//! pages keep a node that the new state no longer holds.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use keywheel::{STATE_FILE_MAX_LEN, State};
use zeroize::Zeroizing;

use crate::sys::files::{self, Perms};
use crate::sys::os::strerror;

/// A buffer large enough for any state file plus one byte (to notice a longer file).
type Buf = Zeroizing<[u8; STATE_FILE_MAX_LEN + 1]>;

/// Reads and checks the state file `path` (`what` names it in messages: "state file",
/// "working copy", ...). With `check_mode`, a file that group or others may access is refused.
pub(crate) fn read_state(path: &Path, what: &str, check_mode: bool) -> Result<State, String> {
    let p = path.display();
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("cannot open {what} {p}: {}", strerror(&e)))?;
    if check_mode {
        let mode = file
            .metadata()
            .map_err(|e| format!("cannot stat {what} {p}: {}", strerror(&e)))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{what} {p} has mode {:04o}, so group or others can access it; fix it with \
                 `chmod 600 {p}` (or pass --allow-insecure-key-file)",
                mode & 0o7777
            ));
        }
    }
    let mut buf: Buf = Zeroizing::new([0; STATE_FILE_MAX_LEN + 1]);
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read {what} {p}: {}", strerror(&e))),
        }
    }
    if len > STATE_FILE_MAX_LEN {
        return Err(format!(
            "{what} {p}: trailing bytes: it is longer than any state file \
             ({STATE_FILE_MAX_LEN} bytes at most)"
        ));
    }
    State::from_bytes(&buf[..len]).map_err(|e| {
        let msg = e.to_string();
        format!(
            "{what} {p}: {}",
            msg.strip_prefix("state file: ").unwrap_or(&msg)
        )
    })
}

/// The bytes of `state`'s file, in a wiped-on-drop buffer, and their length.
fn encode(state: &State) -> (Buf, usize) {
    let mut buf: Buf = Zeroizing::new([0; STATE_FILE_MAX_LEN + 1]);
    // The buffer holds the largest state file: this cannot fail.
    let len = state.to_bytes(&mut buf[..]).unwrap_or(0);
    (buf, len)
}

/// Writes `state` to `path`, which must not exist (mode 0600, fsynced, O_EXCL).
pub(crate) fn create_state(path: &Path, state: &State) -> Result<(), String> {
    let (buf, len) = encode(state);
    files::create_new(path, &buf[..len], "a state file")
}

/// Replaces the state file `path` with `state` atomically (a temporary file in the same
/// directory renamed over it), then overwrites the old file's contents with zeros and fsyncs
/// them, so that the nodes it held are gone from the filesystem too. The old file must be a
/// regular file owned by us (it is opened for writing before the rename).
pub(crate) fn replace_state(path: &Path, state: &State, perms: Perms) -> Result<(), String> {
    let old = match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(format!(
                "cannot open {} to replace it: {}",
                path.display(),
                strerror(&e)
            ));
        }
    };
    let (buf, len) = encode(state);
    files::write_atomic(path, &buf[..len], perms)?;
    if let Some(old) = old {
        wipe_open_file(old).map_err(|e| {
            format!(
                "replaced {} but could not wipe its old contents: {}",
                path.display(),
                strerror(&e)
            )
        })?;
    }
    Ok(())
}

/// Overwrites the whole of an open (already unlinked or replaced) file with zeros, fsyncs it
/// and truncates it.
fn wipe_open_file(mut file: File) -> io::Result<()> {
    let len = file.metadata()?.len();
    let zeros = [0u8; 4096];
    file.seek(SeekFrom::Start(0))?;
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(4096)).unwrap_or(4096);
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    file.set_len(0)?;
    file.sync_all()
}

/// Deletes the state file `path` after overwriting its contents with zeros (a seed being
/// retired, a working copy of another root).
pub(crate) fn remove_state(path: &Path) -> Result<(), String> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot open {}: {}", path.display(), strerror(&e)))?;
    wipe_open_file(file)
        .map_err(|e| format!("cannot wipe {}: {}", path.display(), strerror(&e)))?;
    std::fs::remove_file(path)
        .map_err(|e| format!("cannot remove {}: {}", path.display(), strerror(&e)))?;
    files::fsync_dir(files::parent_dir(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_leaves_only_the_new_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let seed = [7u8; 32];
        let first = State::new(&seed, 1_000_000).unwrap();
        create_state(&path, &first).unwrap();
        assert!(
            create_state(&path, &first)
                .unwrap_err()
                .contains("refusing to overwrite")
        );
        let old = std::fs::read(&path).unwrap();
        let keep_open = File::open(&path).unwrap();
        let later = State::new(&seed, 2_000_000).unwrap();
        replace_state(&path, &later, Perms::secret(None)).unwrap();
        let back = read_state(&path, "state file", true).unwrap();
        assert_eq!(back.s0(), 2_000_000);
        // The old inode (still open here) was zeroed and truncated.
        assert_eq!(keep_open.metadata().unwrap().len(), 0);
        assert_ne!(old, std::fs::read(&path).unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("s")]);
    }
}
