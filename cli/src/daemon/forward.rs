//! The forward-secure state of a daemon (docs/forward-secrecy.md): the given state file (the
//! secret store's copy, a systemd credential) and the daemon's own working copy on tmpfs or
//! ramfs, which it advances after every rotation to the oldest key its targets still install,
//! so that no node older than that stays derivable — neither in memory (the core wipes what
//! `advance` replaces, and the stack is scrubbed) nor on the filesystem (the working copy is
//! replaced atomically and its old contents overwritten).
//!
//! At start the daemon uses the newest usable of (working copy, given state) with the same
//! root id: after a restart the working copy is usually newer than the store's copy.

use std::path::{Path, PathBuf};

use keywheel::{State, scrub_stack};

use crate::sys::files::{self, Perms};
use crate::sys::state_file;
use crate::sys::text::hex;
use crate::sys::utc::utc;

/// Where working copies go without an explicit directory: `$RUNTIME_DIRECTORY` (systemd's
/// RuntimeDirectory=), else this.
pub(crate) const DEFAULT_WORKING_DIR: &str = "/run/keywheel";

/// The working directory: `dir`, else `$RUNTIME_DIRECTORY` (its first entry), else
/// [`DEFAULT_WORKING_DIR`].
pub(crate) fn working_dir(dir: Option<&Path>) -> PathBuf {
    if let Some(d) = dir {
        return d.to_owned();
    }
    match std::env::var("RUNTIME_DIRECTORY") {
        Ok(v) if !v.is_empty() => PathBuf::from(v.split(':').next().unwrap_or(&v)),
        _ => PathBuf::from(DEFAULT_WORKING_DIR),
    }
}

/// A given state file and what to call it.
#[derive(Debug, Clone)]
pub(crate) struct StateFile {
    /// The file (a credential is resolved to `$CREDENTIALS_DIRECTORY/NAME` already).
    pub(crate) path: PathBuf,
    /// "state file", "previous state file", "next state file".
    pub(crate) what: &'static str,
}

/// A state in use: kept in one heap place for its whole life (never moved, so never copied),
/// wiped by the core when dropped or advanced.
pub(crate) struct LiveState {
    given: StateFile,
    /// The working copy's file.
    working: PathBuf,
    /// Whether the state came from the working copy.
    from_working: bool,
    state: Box<State>,
}

impl std::fmt::Debug for LiveState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveState")
            .field("given", &self.given.path)
            .field("working", &self.working)
            .field("root_id", &hex(&self.state.root_id()))
            .field("s0", &self.state.s0())
            .finish()
    }
}

/// The outcome of [`LiveState::open`], for the log.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) state: LiveState,
    /// One line saying which copy was taken and why.
    pub(crate) note: String,
}

impl LiveState {
    /// Opens `given` and this daemon's working copy of the same root in `dir` (which must be
    /// on tmpfs or ramfs unless `allow_persistent`), and keeps the newer of the two (larger
    /// start). A working copy that cannot be read, or of another root, is ignored (and
    /// replaced at the first advance); a given file that cannot be read is an error (the
    /// root id it names is the only way to tell which working copy belongs to it).
    pub(crate) fn open(
        given: StateFile,
        dir: &Path,
        check_mode: bool,
        allow_persistent: bool,
    ) -> Result<Opened, String> {
        let from_given = Box::new(state_file::read_state(&given.path, given.what, check_mode)?);
        scrub_stack();
        if !allow_persistent {
            files::check_memory_fs(dir)
                .map_err(|e| e.replacen("output directory", "state working directory", 1))?;
        }
        let id = hex(&from_given.root_id());
        let working = dir.join(format!("keywheel-fs-{id}.state"));
        let (state, note, from_working) = match state_file::read_state(
            &working,
            "working copy",
            true,
        ) {
            Ok(w) if w.root_id() == from_given.root_id() && w.s0() > from_given.s0() => {
                let note = format!(
                    "root id {id}: using the working copy {} (start {}, {}), newer than the {} {} \
                     (start {})",
                    working.display(),
                    w.s0(),
                    utc(w.s0()),
                    given.what,
                    given.path.display(),
                    from_given.s0()
                );
                drop(from_given);
                (Box::new(w), note, true)
            }
            Ok(_) | Err(_) => {
                let note = format!(
                    "root id {id}: using the {} {} (start {}, {})",
                    given.what,
                    given.path.display(),
                    from_given.s0(),
                    utc(from_given.s0())
                );
                (from_given, note, false)
            }
        };
        scrub_stack();
        Ok(Opened {
            state: LiveState {
                given,
                working,
                from_working,
                state,
            },
            note,
        })
    }

    /// The state.
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// The working copy's file.
    #[cfg(test)]
    pub(crate) fn working_path(&self) -> &Path {
        &self.working
    }

    /// Which copy the state came from, for status: "working copy PATH" or "state file PATH".
    pub(crate) fn source(&self) -> String {
        if self.from_working {
            format!("working copy {}", self.working.display())
        } else {
            format!("{} {}", self.given.what, self.given.path.display())
        }
    }

    /// Moves the start forward to `floor` (nothing when it is not later than the start) and
    /// replaces the working copy, wiping its old contents. Returns whether it moved.
    pub(crate) fn advance_to(&mut self, floor: u64) -> Result<bool, String> {
        if floor <= self.state.s0() {
            return Ok(false);
        }
        let moved = self.state.advance(floor).map_err(|e| e.to_string());
        scrub_stack();
        moved?;
        state_file::replace_state(&self.working, &self.state, Perms::secret(None))?;
        scrub_stack();
        Ok(true)
    }

    /// Writes the working copy (at start, so that a restart finds it).
    pub(crate) fn save(&self) -> Result<(), String> {
        state_file::replace_state(&self.working, &self.state, Perms::secret(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, seed: &[u8; 32], s0: u64) {
        let s = State::new(seed, s0).unwrap();
        let _ = std::fs::remove_file(path);
        state_file::create_state(path, &s).unwrap();
    }

    #[test]
    fn newest_of_the_same_root_wins_and_advance_replaces_the_working_copy() {
        let dir = tempfile::tempdir().unwrap();
        let given = dir.path().join("given");
        let seed = [3u8; 32];
        write(&given, &seed, 1_000_000);
        let file = StateFile {
            path: given.clone(),
            what: "state file",
        };
        let mut live = LiveState::open(file.clone(), dir.path(), true, true)
            .unwrap()
            .state;
        assert_eq!(live.state().s0(), 1_000_000);
        assert!(!live.advance_to(999_999).unwrap());
        assert!(live.advance_to(1_500_000).unwrap());
        let working = live.working_path().to_owned();
        drop(live);
        // A restart takes the newer working copy.
        let opened = LiveState::open(file.clone(), dir.path(), true, true).unwrap();
        assert_eq!(opened.state.state().s0(), 1_500_000, "{}", opened.note);
        // A given state newer than the working copy wins.
        write(&given, &seed, 2_000_000);
        let opened = LiveState::open(file.clone(), dir.path(), true, true).unwrap();
        assert_eq!(opened.state.state().s0(), 2_000_000);
        // A working copy of another root is ignored.
        write(&given, &[4u8; 32], 1_000_000);
        let opened = LiveState::open(file, dir.path(), true, true).unwrap();
        assert_eq!(opened.state.state().s0(), 1_000_000);
        assert!(working.exists());
    }
}
