//! nginx: `ssl_session_ticket_key FILE;` repeated, one raw key per file (80 bytes: name ‖
//! hmac32 ‖ aes32; 48 bytes: name ‖ aes16 ‖ hmac16), the first directive encrypting. `--out`
//! is a directory: each set of keys is a new `keys.<counter>` directory published by replacing
//! the `current` symlink, and `nginx.conf` is the include snippet naming `current/<i>.key`;
//! then `nginx -s reload` (`--reload`).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};

use crate::servers::{Installed, Out, Piece, Rendered, Server, secret};
use crate::sys::files::{Perms, create_file, ensure_dir, fsync_dir, write_atomic};
use crate::sys::os::strerror;
use crate::sys::temps::{is_stale_temp, lock_dir, remove_stale_temps, temp_name};

/// nginx (both key sizes).
pub(crate) struct Nginx;

impl Server for Nginx {
    fn formats(&self) -> &'static [&'static str] {
        &["nginx", "nginx48"]
    }

    fn writes_directory(&self) -> bool {
        true
    }

    fn check_path(&self, out: &Out<'_>) -> Result<(), String> {
        nginx_conf(out.abs, 1).map(drop)
    }

    fn install(&self, out: &Out<'_>, counter: u64, keys: &Rendered) -> Result<Installed, String> {
        let files: Vec<&[u8]> = keys.bytes.chunks(keys.record_len).collect();
        let conf = nginx_conf(out.abs, files.len())?;
        let set = NginxSet {
            dir: out.abs,
            counter,
            files,
            conf: &conf,
        };
        let published = publish_nginx(&set, out.perms)?;
        let dir = key_dir_name(counter);
        let p = out.path.display();
        Ok(Installed {
            what: format!(
                "{p}/{dir} ({} keys), {p}/current -> {dir}, {p}/nginx.conf",
                set.files.len()
            ),
            removed: published.removed,
            cleanup_errors: published.cleanup_errors,
            repair: None,
        })
    }

    fn plan(
        &self,
        out: &Out<'_>,
        counter: u64,
        keys: &Rendered,
        o: &mut String,
        key: &dyn Fn(&mut String, &str, usize),
    ) {
        let p = out.path.display();
        let dir = key_dir_name(counter);
        for i in 0..keys.keys.len() {
            let _ = write!(
                o,
                "  would write    {p}/{dir}/{i}.key ({} bytes, mode {:04o}): ",
                keys.record_len,
                out.perms.file_mode()
            );
            key(o, "", i);
        }
        let _ = writeln!(o, "  would link     {p}/current -> {dir}");
        let _ = writeln!(
            o,
            "  would write    {p}/nginx.conf ({} ssl_session_ticket_key lines, 0.key encrypts)",
            keys.keys.len()
        );
        let _ = writeln!(o, "  would remove   older keys.* directories in {p}");
    }

    fn pieces(
        &self,
        out: &Out<'_>,
        now: Option<&Rendered>,
        previous: Option<&Rendered>,
    ) -> Vec<Piece> {
        let path = out.path;
        let count = match now {
            Some(r) => r.keys.len(),
            None => (0..)
                .take_while(|i| path.join(format!("current/{i}.key")).exists())
                .count(),
        };
        let mut pieces: Vec<Piece> = (0..count)
            .map(|i| Piece {
                path: path.join(format!("current/{i}.key")),
                now: now.map(|r| secret(r.record(i))),
                previous: previous.map(|r| secret(r.record(i))),
                holds_keys: true,
            })
            .collect();
        let conf = nginx_conf(out.abs, count).ok();
        pieces.push(Piece {
            path: path.join("nginx.conf"),
            now: conf.as_deref().map(secret),
            previous: conf.as_deref().map(secret),
            holds_keys: false,
        });
        pieces
    }
}

/// Removes a directory keywheel made (files only inside).
fn remove_key_dir(dir: &Path) -> io::Result<()> {
    fs::remove_dir_all(dir)
}

/// One nginx key set to publish.
struct NginxSet<'a> {
    /// `--out DIR`, absolute.
    dir: &'a Path,
    /// The current counter: the set goes to `DIR/keys.<counter>`.
    counter: u64,
    /// File `i.key` holds `files[i]`.
    files: Vec<&'a [u8]>,
    /// The include snippet, `DIR/nginx.conf`.
    conf: &'a [u8],
}

/// What publishing an nginx set did, for the log.
struct Published {
    /// Older `keys.*` directories (and stale temporaries) removed.
    removed: Vec<PathBuf>,
    /// Errors met while removing them (not fatal: the new set is in place).
    cleanup_errors: Vec<String>,
}

/// The name of the key directory of `counter`.
fn key_dir_name(counter: u64) -> String {
    format!("keys.{counter}")
}

fn is_key_dir_name(name: &[u8]) -> bool {
    name.strip_prefix(b"keys.")
        .is_some_and(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
}

/// Publishes an nginx key set so that `DIR/current` always points at a complete directory and
/// `DIR/nginx.conf` only names files that `current/` holds:
/// 0. the exclusive lock `DIR/.keywheel.lock` is taken (another writer waits), and the
///    temporaries of dead keywheel processes (killed mid-write) are removed;
/// 1. the files are written into a new temporary directory (each fsynced, then the directory);
/// 2. when the new set has fewer keys than `nginx.conf` names, `nginx.conf` is replaced first
///    (it then names a subset of the files `current/` still holds);
/// 3. the directory becomes `DIR/keys.<counter>` by rename (or, when that directory exists
///    already, by an atomic exchange with it: `renameat2(RENAME_EXCHANGE)`);
/// 4. `DIR/current` is replaced by a new symlink to `keys.<counter>` (symlink + rename);
/// 5. otherwise `DIR/nginx.conf` is replaced now (it named fewer keys than `current/` holds);
/// 6. the result is read back (`current`, its files, `nginx.conf`);
/// 7. older `keys.*` directories (but the one `current` named before) and stale temporaries
///    are removed.
///
/// An error before 3 leaves `current` as it was (the temporary directory is removed).
fn publish_nginx(set: &NginxSet<'_>, perms: Perms) -> Result<Published, String> {
    let dir = set.dir;
    ensure_dir(dir, perms)?;
    let _lock = lock_dir(dir)?;
    let (mut removed, mut cleanup_errors) = remove_stale_temps(dir, None);
    let name = key_dir_name(set.counter);
    let target = dir.join(&name);
    let tmp = dir.join(temp_name(name.as_ref(), "dir"));
    let conf_path = dir.join("nginx.conf");
    let conf_first = named_keys(&conf_path).is_some_and(|old| set.files.len() < old);
    // The same set is there already (a restart within the interval): nothing to replace, so
    // a reader inside `keys.<counter>` is never pulled out from under.
    let same = holds_exactly(&target, &set.files, perms);
    let staged = if same {
        Ok(())
    } else {
        stage_dir(&tmp, set, perms)
    }
    .and_then(|()| {
        if conf_first {
            write_atomic(&conf_path, set.conf, perms)
        } else {
            Ok(())
        }
    })
    .and_then(|()| {
        if same {
            Ok(())
        } else {
            install_dir(&tmp, &target)
        }
    });
    if staged.is_err() {
        let _ = remove_key_dir(&tmp);
    }
    staged?;
    fsync_dir(dir)?;

    let link = dir.join(temp_name("current".as_ref(), "link"));
    let _ = fs::remove_file(&link);
    let current = dir.join("current");
    // The set `current` named until now stays one more rotation: a reader (an nginx reload)
    // that followed `current` just before the switch still finds every file it names.
    let previous = fs::read_link(&current)
        .ok()
        .and_then(|t| t.into_os_string().into_string().ok())
        .filter(|t| t != &name && is_key_dir_name(t.as_bytes()))
        // Not a set older than the interval just before (a later one may stay): it would hold
        // a key that ended more than the window ago (the forward-secure promise,
        // cli/tests/forward_memory.rs). After a jump of several intervals the old set goes.
        .filter(|t| {
            set_counter(t)
                .zip(set_counter(&name))
                .is_some_and(|(p, n)| p.saturating_add(1) >= n)
        });
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
    if !conf_first {
        write_atomic(&conf_path, set.conf, perms)?;
    }
    verify(set, &name)?;
    let mut done = cleanup(dir, &[name.as_str(), previous.as_deref().unwrap_or("")]);
    removed.append(&mut done.removed);
    cleanup_errors.append(&mut done.cleanup_errors);
    Ok(Published {
        removed,
        cleanup_errors,
    })
}

/// Whether directory `dir` holds exactly the files `0.key`.. with `files`' bytes, with the
/// modes and group of `perms`.
fn holds_exactly(dir: &Path, files: &[&[u8]], perms: Perms) -> bool {
    use std::os::unix::fs::MetadataExt;
    let fits = |meta: &fs::Metadata, mode: u32| {
        meta.mode() & 0o7777 == mode && perms.group.is_none_or(|g| meta.gid() == g.as_raw())
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    if entries.count() != files.len()
        || !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && fits(&m, perms.dir_mode()))
    {
        return false;
    }
    files.iter().enumerate().all(|(i, data)| {
        let path = dir.join(format!("{i}.key"));
        fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && fits(&m, perms.file_mode()))
            && fs::read(&path)
                .map(zeroize::Zeroizing::new)
                .is_ok_and(|b| b[..] == data[..])
    })
}

/// How many `ssl_session_ticket_key` lines the snippet at `path` has (`None` when unreadable).
fn named_keys(path: &Path) -> Option<usize> {
    let text = fs::read(path).ok()?;
    Some(
        text.split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"ssl_session_ticket_key "))
            .count(),
    )
}

/// Step 6 of [`publish_nginx`]: reads the published set back.
fn verify(set: &NginxSet<'_>, name: &str) -> Result<(), String> {
    let dir = set.dir;
    let current = dir.join("current");
    let changed = |what: String| {
        Err(format!(
            "after publishing {name} in {}, {what}; is another program writing there?",
            dir.display()
        ))
    };
    match fs::read_link(&current) {
        Ok(t) if t.as_os_str() == name => {}
        Ok(t) => return changed(format!("current points at {}", t.display())),
        Err(e) => return changed(format!("current cannot be read: {}", strerror(&e))),
    }
    for (i, data) in set.files.iter().enumerate() {
        match fs::read(current.join(format!("{i}.key"))) {
            Ok(b) if b == *data => {}
            Ok(_) => return changed(format!("current/{i}.key holds other bytes")),
            Err(e) => return changed(format!("current/{i}.key cannot be read: {}", strerror(&e))),
        }
    }
    match fs::read(dir.join("nginx.conf")) {
        Ok(b) if b == set.conf => Ok(()),
        Ok(_) => changed("nginx.conf holds another snippet".to_owned()),
        Err(e) => changed(format!("nginx.conf cannot be read: {}", strerror(&e))),
    }
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

/// Step 3 of [`publish_nginx`]: `tmp` becomes `target`; on an exchange, the old directory is
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

/// Step 7 of [`publish_nginx`]: removes every `keys.<digits>` directory but those in `keep`, and every
/// stale keywheel temporary entry (this process's or a dead one's).
fn cleanup(dir: &Path, keep: &[&str]) -> Published {
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
        if keep.iter().any(|k| name == *k) || !(is_key_dir_name(bytes) || is_stale_temp(bytes)) {
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

/// The counter in a key-set directory name `keys.<counter>`.
fn set_counter(name: &str) -> Option<u64> {
    name.strip_prefix("keys.")?.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn key_dir_names() {
        assert!(is_key_dir_name(b"keys.123"));
        assert!(!is_key_dir_name(b"keys."));
        assert!(!is_key_dir_name(b"keys.12a"));
        assert!(!is_key_dir_name(b"keys.1/"));
        assert_eq!(key_dir_name(7), "keys.7");
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
