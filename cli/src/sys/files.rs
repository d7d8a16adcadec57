//! Writing files so that a reader never sees half of one: every file is a temporary file in the
//! same directory (fsync) renamed over the old one (then the directory is fsynced); new files
//! that must not replace anything (a main key) are created with `O_EXCL`. File modes and groups
//! ([`Perms`]), and the check that keys stay off persistent storage (tmpfs/ramfs only).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::statfs::{FsType, TMPFS_MAGIC, statfs};
use nix::unistd::Gid;

use crate::sys::os::strerror;
use crate::sys::temps::{remove_stale_temps, temp_name, temp_tail};

/// ramfs's statfs magic number (linux/magic.h; nix has no constant for it).
const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);

/// Who may read the written files: mode 0600 (0700 for directories), or 0640 (0750) with the
/// group set to `--group`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Perms {
    /// The group given with `--group`, if any.
    pub(crate) group: Option<Gid>,
    /// Files readable by everybody (0644): for files without secrets (the metrics file).
    pub(crate) public: bool,
}

impl Perms {
    /// Owner only (0600, 0700), or group-readable with `group` (0640, 0750).
    pub(crate) fn secret(group: Option<Gid>) -> Self {
        Perms {
            group,
            public: false,
        }
    }

    /// 0644 files: for files without secrets.
    pub(crate) fn world_readable() -> Self {
        Perms {
            group: None,
            public: true,
        }
    }

    /// The mode of the files written.
    pub(crate) fn file_mode(self) -> u32 {
        if self.public {
            0o644
        } else if self.group.is_some() {
            0o640
        } else {
            0o600
        }
    }

    pub(crate) fn dir_mode(self) -> u32 {
        if self.group.is_some() { 0o750 } else { 0o700 }
    }

    /// Sets the group (if any) and the mode of an open file or directory.
    pub(crate) fn apply(self, file: &File, path: &Path, mode: u32) -> Result<(), String> {
        if let Some(gid) = self.group {
            std::os::unix::fs::fchown(file, None, Some(gid.as_raw())).map_err(|e| {
                format!(
                    "cannot give {} to group {gid}: {}",
                    path.display(),
                    strerror(&e)
                )
            })?;
        }
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot chmod {}: {}", path.display(), strerror(&e)))
    }
}

/// `path` relative to the current directory made absolute, without resolving symlinks.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The directory a file is written into ("." for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

pub(crate) fn fsync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot fsync directory {}: {}", dir.display(), strerror(&e)))
}

/// Opens a new file `path` for writing, mode 0600; fails if anything (even a link) is there.
fn open_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
}

/// Creates `path` (which must not exist), writes `data`, sets group and mode, fsyncs.
pub(crate) fn create_file(path: &Path, data: &[u8], perms: Perms) -> Result<(), String> {
    create_file_at(path, data, perms, None)
}

/// [`create_file`], with the modification time set to `mtime` (unix seconds) when given.
fn create_file_at(
    path: &Path,
    data: &[u8],
    perms: Perms,
    mtime: Option<u64>,
) -> Result<(), String> {
    let p = path.display();
    let mut file = open_new(path).map_err(|e| format!("cannot create {p}: {}", strerror(&e)))?;
    perms.apply(&file, path, perms.file_mode())?;
    file.write_all(data)
        .map_err(|e| format!("cannot write {p}: {}", strerror(&e)))?;
    if let Some(t) = mtime {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t);
        file.set_times(fs::FileTimes::new().set_accessed(t).set_modified(t))
            .map_err(|e| format!("cannot set the mtime of {p}: {}", strerror(&e)))?;
    }
    file.sync_all()
        .map_err(|e| format!("cannot fsync {p}: {}", strerror(&e)))
}

/// Replaces `path` atomically with a file holding `data`: a temporary file in the same
/// directory (mode 0600 or 0640, fsynced) renamed over it, then the directory is fsynced. On
/// any error the temporary file is removed and `path` is untouched.
pub(crate) fn write_atomic(path: &Path, data: &[u8], perms: Perms) -> Result<(), String> {
    write_atomic_at(path, data, perms, None)
}

/// [`write_atomic`], the new file's mtime set to `mtime` (unix seconds) before the rename, for
/// servers that reload their key file when its mtime changes (lighttpd, h2o).
pub(crate) fn write_atomic_at(
    path: &Path,
    data: &[u8],
    perms: Perms,
    mtime: Option<u64>,
) -> Result<(), String> {
    let dir = parent_dir(path);
    let Some(name) = path.file_name() else {
        return Err(format!("--out {} does not name a file", path.display()));
    };
    let tmp = dir.join(temp_name(name, "file"));
    // Leftovers of this file's earlier writers that were killed mid-write (and of this pid).
    let _ = remove_stale_temps(dir, Some(&temp_tail(name, "file")));
    let result = create_file_at(&tmp, data, perms, mtime).and_then(|()| {
        fs::rename(&tmp, path).map_err(|e| {
            format!(
                "cannot rename {} to {}: {}",
                tmp.display(),
                path.display(),
                strerror(&e)
            )
        })
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    fsync_dir(dir)
}

/// Creates `path` (which must not exist) with mode 0600 and `data`, fsyncs it and its
/// directory; refuses to replace an existing file (`--force` does that with [`write_atomic`]).
/// On a write error the new file is removed.
pub(crate) fn create_new(path: &Path, data: &[u8], what: &str) -> Result<(), String> {
    let p = path.display();
    let mut file = open_new(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            format!("{p} exists; refusing to overwrite {what}")
        } else {
            format!("cannot create {p}: {}", strerror(&e))
        }
    })?;
    let written = file
        .write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {p}: {}", strerror(&e)));
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written?;
    fsync_dir(parent_dir(path))
}

/// Creates `dir` (mode 0700 or 0750) if it does not exist; its parent must exist.
pub(crate) fn ensure_dir(dir: &Path, perms: Perms) -> Result<(), String> {
    match fs::symlink_metadata(dir) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot stat {}: {}", dir.display(), strerror(&e))),
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        // Another writer created it meanwhile (it then waits for the lock in it).
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => {
            return Err(format!(
                "cannot create directory {}: {}",
                dir.display(),
                strerror(&e)
            ));
        }
    }
    let handle = File::open(dir)
        .map_err(|e| format!("cannot open directory {}: {}", dir.display(), strerror(&e)))?;
    perms.apply(&handle, dir, perms.dir_mode())?;
    fsync_dir(parent_dir(dir))
}

/// Refuses an output directory others could use to replace the key files: writable by
/// everybody without the sticky bit, or owned by a user other than this one and root.
pub(crate) fn check_dir_safe(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir)
        .map_err(|e| format!("cannot stat directory {}: {}", dir.display(), strerror(&e)))?;
    let (mode, d) = (meta.mode() & 0o7777, dir.display());
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Err(format!(
            "output directory {d} is writable by everybody (mode {mode:04o}) without the sticky \
             bit, so any user could replace the key files; use another directory, or fix it with \
             `chmod o-w {d}` (or `chmod +t {d}`)"
        ));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != euid && meta.uid() != 0 {
        return Err(format!(
            "output directory {d} is owned by uid {}, not by this user (uid {euid}) or root, so \
             its owner could replace the key files; use a directory owned by uid {euid}",
            meta.uid()
        ));
    }
    Ok(())
}

/// Creates an autokey file, mode 0600, with 32 fresh random bytes, as [`write_atomic`] does: a
/// new temporary file in the same directory (`O_EXCL|O_NOFOLLOW`, so no symlink is followed and
/// no existing file is written into) renamed over `path` (a symlink at `path` is replaced, its
/// target untouched; an existing file with a wider mode is replaced by a 0600 one).
pub(crate) fn write_new_autokey(path: &Path) -> Result<(), String> {
    let mut key = zeroize::Zeroizing::new([0u8; keywheel::MAIN_KEY_LEN]);
    getrandom::fill(&mut key[..]).map_err(|e| format!("getrandom() failed: {e}"))?;
    let p = path.display();
    let Some(name) = path.file_name() else {
        return Err(format!("open({p}) failed: not a file name"));
    };
    let dir = parent_dir(path);
    let tmp = dir.join(temp_name(name, "file"));
    let _ = remove_stale_temps(dir, Some(&temp_tail(name, "file")));
    // tofurkey's wording, naming the autokey file (the temporary is an implementation detail).
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| format!("open({p}) failed: {}", strerror(&e)))
        .and_then(|mut file| {
            file.write_all(&key[..])
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("write({p}, {}) failed: {}", key.len(), strerror(&e)))
        })
        .and_then(|()| {
            fs::rename(&tmp, path).map_err(|e| format!("rename(.., {p}) failed: {}", strerror(&e)))
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    fsync_dir(dir)
}

/// Checks that `dir` is on tmpfs or ramfs (so keys never reach persistent storage).
pub(crate) fn check_memory_fs(dir: &Path) -> Result<(), String> {
    let fs = statfs(dir).map_err(|e| {
        format!(
            "cannot check the filesystem of {}: {}",
            dir.display(),
            strerror(&io::Error::from(e))
        )
    })?;
    let kind = fs.filesystem_type();
    if kind == TMPFS_MAGIC || kind == RAMFS_MAGIC {
        return Ok(());
    }
    Err(format!(
        "output directory {} is on {} (not tmpfs or ramfs), so the keys would reach persistent \
         storage; use a directory on tmpfs such as /run/keywheel or /dev/shm, or pass \
         --allow-persistent",
        dir.display(),
        fs_name(dir, kind)
    ))
}

/// A readable name for the filesystem holding `dir`: its type in /proc/self/mountinfo, else
/// the statfs magic number.
fn fs_name(dir: &Path, kind: FsType) -> String {
    let magic = format!("statfs f_type {:#x}", kind.0);
    let Ok(real) = fs::canonicalize(dir) else {
        return magic;
    };
    let Ok(info) = fs::read("/proc/self/mountinfo") else {
        return magic;
    };
    let mut best: Option<(usize, String)> = None;
    for line in info.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == b"-") else {
            continue;
        };
        let (Some(mount), Some(fstype)) = (fields.get(4), fields.get(dash + 1)) else {
            continue;
        };
        let mount = PathBuf::from(OsString::from_vec(unescape_mount(mount)));
        let len = mount.as_os_str().len();
        if real.starts_with(&mount) && best.as_ref().is_none_or(|(l, _)| len >= *l) {
            best = Some((len, String::from_utf8_lossy(fstype).into_owned()));
        }
    }
    match best {
        Some((_, name)) => format!("{name} ({magic})"),
        None => magic,
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space, …).
fn unescape_mount(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && i + 3 < field.len() {
            let oct = &field[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                out.push(oct.iter().fold(0u8, |v, d| (v << 3) | (d - b'0')));
                i += 4;
                continue;
            }
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

/// Reads a file written by keywheel (to compare it), wiped on drop.
#[cfg(test)]
fn read_secret(path: &Path) -> io::Result<zeroize::Zeroizing<Vec<u8>>> {
    fs::read(path).map(zeroize::Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn names() {
        assert!(crate::sys::temps::is_temp_name(
            temp_name("x.key".as_ref(), "file").as_bytes()
        ));
        assert_eq!(unescape_mount(b"/a\\040b"), b"/a b");
        assert_eq!(unescape_mount(b"/a\\04"), b"/a\\04");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let perms = Perms::secret(None);
        write_atomic(&path, b"one", perms).unwrap();
        write_atomic(&path, b"two", perms).unwrap();
        assert_eq!(&read_secret(&path).unwrap()[..], b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("k")]);
    }
}
