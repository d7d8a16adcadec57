//! Writing session-ticket key files so that a server never reads half a key: every file is a
//! temporary file in the same directory (fsync) renamed over the old one (then the directory is
//! fsynced); nginx's set of files is a new `keys.<counter>` directory published by replacing the
//! `current` symlink. And the check that keys stay off persistent storage (tmpfs/ramfs only).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
use nix::sys::statfs::{FsType, TMPFS_MAGIC, statfs};
use nix::unistd::Gid;

use crate::os::strerror;

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

    fn dir_mode(self) -> u32 {
        if self.group.is_some() { 0o750 } else { 0o700 }
    }

    /// Sets the group (if any) and the mode of an open file or directory.
    fn apply(self, file: &File, path: &Path, mode: u32) -> Result<(), String> {
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

/// A name for a temporary entry next to `name` in the same directory. Every temporary name
/// keywheel makes starts with ".keywheel-" and ends with ".tmp", so stale ones can be found.
fn temp_name(name: &std::ffi::OsStr, what: &str) -> OsString {
    let mut s = OsString::from(format!(".keywheel-{}-{what}-", std::process::id()));
    s.push(name);
    s.push(".tmp");
    s
}

fn is_temp_name(name: &[u8]) -> bool {
    name.starts_with(b".keywheel-") && name.ends_with(b".tmp")
}

fn fsync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot fsync directory {}: {}", dir.display(), strerror(&e)))
}

/// Creates `path` (which must not exist), writes `data`, sets group and mode, fsyncs.
fn create_file(path: &Path, data: &[u8], perms: Perms) -> Result<(), String> {
    let p = path.display();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot create {p}: {}", strerror(&e)))?;
    perms.apply(&file, path, perms.file_mode())?;
    file.write_all(data)
        .map_err(|e| format!("cannot write {p}: {}", strerror(&e)))?;
    file.sync_all()
        .map_err(|e| format!("cannot fsync {p}: {}", strerror(&e)))
}

/// Replaces `path` atomically with a file holding `data`: a temporary file in the same
/// directory (mode 0600 or 0640, fsynced) renamed over it, then the directory is fsynced. On
/// any error the temporary file is removed and `path` is untouched.
pub(crate) fn write_atomic(path: &Path, data: &[u8], perms: Perms) -> Result<(), String> {
    let dir = parent_dir(path);
    let Some(name) = path.file_name() else {
        return Err(format!("--out {} does not name a file", path.display()));
    };
    let tmp = dir.join(temp_name(name, "file"));
    let _ = fs::remove_file(&tmp); // a leftover of a crashed run with the same pid
    let result = create_file(&tmp, data, perms).and_then(|()| {
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

/// Removes a directory keywheel made (files only inside).
fn remove_key_dir(dir: &Path) -> io::Result<()> {
    fs::remove_dir_all(dir)
}

/// One nginx key set to publish.
pub(crate) struct NginxSet<'a> {
    /// `--out DIR`, absolute.
    pub(crate) dir: &'a Path,
    /// The current counter: the set goes to `DIR/keys.<counter>`.
    pub(crate) counter: u64,
    /// File `i.key` holds `files[i]`.
    pub(crate) files: Vec<&'a [u8]>,
    /// The include snippet, `DIR/nginx.conf`.
    pub(crate) conf: &'a [u8],
}

/// What publishing an nginx set did, for the log.
pub(crate) struct Published {
    /// Older `keys.*` directories (and stale temporaries) removed.
    pub(crate) removed: Vec<PathBuf>,
    /// Errors met while removing them (not fatal: the new set is in place).
    pub(crate) cleanup_errors: Vec<String>,
}

/// The name of the key directory of `counter`.
pub(crate) fn key_dir_name(counter: u64) -> String {
    format!("keys.{counter}")
}

fn is_key_dir_name(name: &[u8]) -> bool {
    name.strip_prefix(b"keys.")
        .is_some_and(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
}

/// Creates `dir` (mode 0700 or 0750) if it does not exist; its parent must exist.
pub(crate) fn ensure_dir(dir: &Path, perms: Perms) -> Result<(), String> {
    match fs::symlink_metadata(dir) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot stat {}: {}", dir.display(), strerror(&e))),
    }
    fs::DirBuilder::new().mode(0o700).create(dir).map_err(|e| {
        format!(
            "cannot create directory {}: {}",
            dir.display(),
            strerror(&e)
        )
    })?;
    let handle = File::open(dir)
        .map_err(|e| format!("cannot open directory {}: {}", dir.display(), strerror(&e)))?;
    perms.apply(&handle, dir, perms.dir_mode())?;
    fsync_dir(parent_dir(dir))
}

/// Publishes an nginx key set so that `DIR/current` always points at a complete directory:
/// 1. the files are written into a new temporary directory (each fsynced, then the directory);
/// 2. it becomes `DIR/keys.<counter>` by rename (or, when that directory exists already, by an
///    atomic exchange with it: `renameat2(RENAME_EXCHANGE)`);
/// 3. `DIR/current` is replaced by a new symlink to `keys.<counter>` (symlink + rename);
/// 4. `DIR/nginx.conf` is replaced atomically;
/// 5. older `keys.*` directories and stale temporaries are removed.
///
/// An error in 1 or 2 leaves everything as it was (the temporary directory is removed).
pub(crate) fn publish_nginx(set: &NginxSet<'_>, perms: Perms) -> Result<Published, String> {
    let dir = set.dir;
    ensure_dir(dir, perms)?;
    let name = key_dir_name(set.counter);
    let target = dir.join(&name);
    let tmp = dir.join(temp_name(name.as_ref(), "dir"));
    if fs::symlink_metadata(&tmp).is_ok() {
        let _ = remove_key_dir(&tmp);
    }
    let staged = stage_dir(&tmp, set, perms).and_then(|()| install_dir(&tmp, &target));
    if staged.is_err() {
        let _ = remove_key_dir(&tmp);
    }
    staged?;
    fsync_dir(dir)?;

    let link = dir.join(temp_name("current".as_ref(), "link"));
    let _ = fs::remove_file(&link);
    let current = dir.join("current");
    let swapped = std::os::unix::fs::symlink(&name, &link)
        .map_err(|e| format!("cannot create symlink {}: {}", link.display(), strerror(&e)))
        .and_then(|()| {
            fs::rename(&link, &current).map_err(|e| {
                format!(
                    "cannot replace {} with a symlink to {name}: {}",
                    current.display(),
                    strerror(&e)
                )
            })
        });
    if swapped.is_err() {
        let _ = fs::remove_file(&link);
    }
    swapped?;
    fsync_dir(dir)?;
    write_atomic(&dir.join("nginx.conf"), set.conf, perms)?;
    Ok(cleanup(dir, &name))
}

/// Step 1 of [`publish_nginx`]: the new directory with every key file.
fn stage_dir(tmp: &Path, set: &NginxSet<'_>, perms: Perms) -> Result<(), String> {
    fs::DirBuilder::new().mode(0o700).create(tmp).map_err(|e| {
        format!(
            "cannot create directory {}: {}",
            tmp.display(),
            strerror(&e)
        )
    })?;
    let handle = File::open(tmp)
        .map_err(|e| format!("cannot open directory {}: {}", tmp.display(), strerror(&e)))?;
    perms.apply(&handle, tmp, perms.dir_mode())?;
    for (i, data) in set.files.iter().enumerate() {
        create_file(&tmp.join(format!("{i}.key")), data, perms)?;
    }
    handle
        .sync_all()
        .map_err(|e| format!("cannot fsync directory {}: {}", tmp.display(), strerror(&e)))
}

/// Step 2 of [`publish_nginx`]: `tmp` becomes `target`; on an exchange, the old directory is
/// left at `tmp` (removed by the caller's cleanup).
fn install_dir(tmp: &Path, target: &Path) -> Result<(), String> {
    let exists = match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => true,
        Ok(_) => {
            return Err(format!(
                "{} exists and is not a directory; remove it",
                target.display()
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(format!(
                "cannot stat {}: {}",
                target.display(),
                strerror(&e)
            ));
        }
    };
    if !exists {
        return fs::rename(tmp, target).map_err(|e| {
            format!(
                "cannot rename {} to {}: {}",
                tmp.display(),
                target.display(),
                strerror(&e)
            )
        });
    }
    match renameat2(
        AT_FDCWD,
        tmp,
        AT_FDCWD,
        target,
        RenameFlags::RENAME_EXCHANGE,
    ) {
        Ok(()) => Ok(()),
        // No atomic exchange on this filesystem: move the old directory aside first (the
        // `current` symlink dangles for an instant), then put the new one in place.
        Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {
            let aside = tmp.with_extension("old.tmp");
            fs::rename(target, &aside)
                .and_then(|()| fs::rename(tmp, target))
                .and_then(|()| fs::rename(&aside, tmp))
                .map_err(|e| {
                    format!(
                        "cannot replace {} with {}: {}",
                        target.display(),
                        tmp.display(),
                        strerror(&e)
                    )
                })
        }
        Err(e) => Err(format!(
            "cannot exchange {} and {}: {}",
            tmp.display(),
            target.display(),
            strerror(&io::Error::from(e))
        )),
    }
}

/// Step 5 of [`publish_nginx`]: removes every `keys.<digits>` directory but `keep`, and every
/// keywheel temporary entry.
fn cleanup(dir: &Path, keep: &str) -> Published {
    let mut done = Published {
        removed: Vec::new(),
        cleanup_errors: Vec::new(),
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            done.cleanup_errors.push(format!(
                "cannot list {} to remove older keys: {}",
                dir.display(),
                strerror(&e)
            ));
            return done;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let bytes = name.as_bytes();
        if name == keep || !(is_key_dir_name(bytes) || is_temp_name(bytes)) {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let removed = if is_dir {
            remove_key_dir(&path)
        } else {
            fs::remove_file(&path)
        };
        match removed {
            Ok(()) => done.removed.push(path),
            Err(e) => done.cleanup_errors.push(format!(
                "cannot remove {}: {}",
                path.display(),
                strerror(&e)
            )),
        }
    }
    if !done.removed.is_empty() {
        if let Err(e) = fsync_dir(dir) {
            done.cleanup_errors.push(e);
        }
    }
    done
}

/// The include snippet for nginx: one `ssl_session_ticket_key DIR/current/<i>.key;` line per
/// key, `0.key` (the encrypting key) first.
///
/// # Errors
/// When `dir` holds a byte nginx's configuration parser would misread.
pub(crate) fn nginx_conf(dir: &Path, keys: usize) -> Result<Vec<u8>, String> {
    let bytes = dir.as_os_str().as_bytes();
    if bytes
        .iter()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b"\"';{}#\\$".contains(b))
    {
        return Err(format!(
            "--out {} holds a character that nginx's configuration would misread (white \
             space, a quote, ';', '{{', '}}', '#', '\\' or '$'); choose another directory",
            dir.display()
        ));
    }
    let mut out = Vec::new();
    for i in 0..keys {
        out.extend_from_slice(b"ssl_session_ticket_key ");
        out.extend_from_slice(bytes);
        out.extend_from_slice(format!("/current/{i}.key;\n").as_bytes());
    }
    Ok(out)
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
    use super::*;

    #[test]
    fn names() {
        assert!(is_key_dir_name(b"keys.123"));
        assert!(!is_key_dir_name(b"keys."));
        assert!(!is_key_dir_name(b"keys.12a"));
        assert!(!is_key_dir_name(b"keys.1/"));
        assert!(is_temp_name(temp_name("x.key".as_ref(), "file").as_bytes()));
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

    #[test]
    fn nginx_conf_refuses_special_characters() {
        assert!(nginx_conf(Path::new("/run/a b"), 2).is_err());
        assert!(nginx_conf(Path::new("/run/a;b"), 2).is_err());
        assert_eq!(
            nginx_conf(Path::new("/run/k"), 2).unwrap(),
            b"ssl_session_ticket_key /run/k/current/0.key;\n\
              ssl_session_ticket_key /run/k/current/1.key;\n"
        );
    }
}
