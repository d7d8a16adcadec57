//! Whether two files the daemon reads or writes are really one: every input (main keys) and
//! output (key files, nginx directories, the procfs file, the metrics file) is compared by its
//! real identity, not its text — the path with `.`/`..` and symlinked directories resolved,
//! the symlink's target when the path is one, and the device/inode pair where the file exists.
//! An output inside an nginx directory (which keywheel owns entirely) collides too.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// One file (or owned directory) of a command or configuration.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    /// How the operator named it, for the message ("main_key", "stek[1].out", "--out").
    pub(crate) what: String,
    /// The path as given.
    pub(crate) path: PathBuf,
    /// A directory keywheel owns entirely (nginx `--out`): anything inside it collides.
    pub(crate) owns_dir: bool,
}

impl Place {
    /// A file.
    pub(crate) fn file(what: impl Into<String>, path: &Path) -> Self {
        Place {
            what: what.into(),
            path: path.to_owned(),
            owns_dir: false,
        }
    }

    /// A directory keywheel owns (every path inside it is keywheel's).
    pub(crate) fn dir(what: impl Into<String>, path: &Path) -> Self {
        Place {
            what: what.into(),
            path: path.to_owned(),
            owns_dir: true,
        }
    }
}

/// The ways one place can be reached.
struct Identity {
    /// Resolved paths: the entry itself (parent resolved, `..` removed) and, when the path
    /// exists, its fully resolved target.
    paths: Vec<PathBuf>,
    /// (device, inode) of the entry and of its target, where they exist.
    inodes: Vec<(u64, u64)>,
}

/// `path` made absolute with `.` and `..` removed lexically (for paths that do not exist).
fn normalize(path: &Path) -> PathBuf {
    let abs = crate::sys::files::absolute(path);
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The path of the entry: its deepest existing ancestor resolved (symlinks followed), the rest
/// appended.
fn entry_path(path: &Path) -> PathBuf {
    let norm = normalize(path);
    let mut base = norm.clone();
    let mut rest = Vec::new();
    loop {
        if let Some(parent) = base.parent() {
            if let Ok(real) = std::fs::canonicalize(parent) {
                let mut out = real;
                if let Some(name) = base.file_name() {
                    out.push(name);
                }
                for r in rest.iter().rev() {
                    out.push(r);
                }
                return out;
            }
            if let Some(name) = base.file_name() {
                rest.push(name.to_owned());
            }
            base = parent.to_owned();
        } else {
            return norm;
        }
    }
}

fn identity(path: &Path) -> Identity {
    let mut paths = vec![entry_path(path)];
    if let Ok(real) = std::fs::canonicalize(path) {
        if !paths.contains(&real) {
            paths.push(real);
        }
    }
    let mut inodes = Vec::new();
    for meta in [std::fs::symlink_metadata(path), std::fs::metadata(path)]
        .into_iter()
        .flatten()
    {
        let id = (meta.dev(), meta.ino());
        if !inodes.contains(&id) {
            inodes.push(id);
        }
    }
    Identity { paths, inodes }
}

/// Refuses two places that are one file, or a place inside an owned directory: the message
/// names both as the operator wrote them.
pub(crate) fn check_distinct(places: &[Place]) -> Result<(), String> {
    let ids: Vec<Identity> = places.iter().map(|p| identity(&p.path)).collect();
    for (i, a) in places.iter().enumerate() {
        for (j, b) in places.iter().enumerate().skip(i + 1) {
            let (ia, ib) = (&ids[i], &ids[j]);
            let same = ia.paths.iter().any(|p| ib.paths.contains(p))
                || ia.inodes.iter().any(|n| ib.inodes.contains(n));
            if same {
                return Err(format!(
                    "{} ({}) and {} ({}) are the same file; each input and output needs its \
                     own path",
                    a.what,
                    a.path.display(),
                    b.what,
                    b.path.display()
                ));
            }
            for (outer, inner, io, ii) in [(a, b, ia, ib), (b, a, ib, ia)] {
                if outer.owns_dir
                    && ii
                        .paths
                        .iter()
                        .any(|p| io.paths.iter().any(|d| p.starts_with(d)))
                {
                    return Err(format!(
                        "{} ({}) is inside {} ({}), a directory keywheel owns and cleans; \
                         put it elsewhere",
                        inner.what,
                        inner.path.display(),
                        outer.what,
                        outer.path.display()
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn text_differences_do_not_hide_a_collision() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path();
        std::fs::create_dir(t.join("t")).unwrap();
        std::os::unix::fs::symlink(t.join("t"), t.join("link")).unwrap();
        std::fs::write(t.join("t/key"), b"k").unwrap();
        std::fs::hard_link(t.join("t/key"), t.join("hard")).unwrap();
        let f = |w: &str, p: PathBuf| Place::file(w, &p);
        for other in [
            t.join("t/../t/key"),
            t.join("link/key"),
            t.join("hard"),
            t.join("t/./key"),
        ] {
            let err = check_distinct(&[f("a", t.join("t/key")), f("b", other.clone())]);
            assert!(err.is_err(), "{other:?}");
        }
        // Files that do not exist yet, through a symlinked directory.
        assert!(check_distinct(&[f("a", t.join("t/new")), f("b", t.join("link/new"))]).is_err());
        assert!(
            check_distinct(&[Place::dir("n", &t.join("t")), f("b", t.join("link/x/y"))]).is_err()
        );
        assert!(check_distinct(&[f("a", t.join("t/key")), f("b", t.join("t/other"))]).is_ok());
    }
}
