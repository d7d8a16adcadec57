//! TCP Fast Open keys: deriving and writing "primary,backup" to the kernel's procfs file
//! ([`TfoOutput`], shared by `tofurkey` and the `keywheel` daemon's TFO target), with the
//! wording of either program ([`Dialect`]), and the host-local autokey file. All key
//! arithmetic and text come from the `keywheel` core crate.

use std::path::{Path, PathBuf};

use keywheel::{MainKey, Schedule, Slot, TFO_PROCFS_TEXT_LEN, TfoKeys};
use zeroize::Zeroizing;

use crate::sys::log::{Log, concat, write_unbuffered};
use keywheel::KeyFileError;

use crate::sys::main_key::{keywheel_text, read_main_key, tofurkey_text};
use crate::sys::os;
use crate::sys::utc::{utc, utc_millis};

/// The kernel's TFO key file.
pub(crate) const DEFAULT_PROCFS: &str = "/proc/sys/net/ipv4/tcp_fastopen_key";

/// Which program is speaking: messages and failure handling differ, behaviour does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// tofurkey 1.3.4's exact lines; fatal errors print "FATAL: …" and abort().
    Tofurkey,
    /// `keywheel`: errors are "error: …" lines; the daemon decides what is fatal.
    Keywheel,
}

/// The 72 bytes tofurkey writes to procfs: the 71-character text and a NUL.
const PROCFS_WRITE_LEN: usize = TFO_PROCFS_TEXT_LEN + 1;

/// The kernel's TFO key file and how to fill it.
#[derive(Debug)]
pub(crate) struct TfoOutput {
    pub(crate) dialect: Dialect,
    pub(crate) procfs: PathBuf,
    pub(crate) schedule: Schedule,
    pub(crate) print_keys: bool,
    pub(crate) dry_run: bool,
    pub(crate) log: Log,
}

impl TfoOutput {
    /// The line announcing the keys of `now` (always shown).
    pub(crate) fn head(&self, now: u64, slot: &Slot) {
        match self.dialect {
            Dialect::Tofurkey => self.log.info(&format!("Setting keys for unix time {now}")),
            Dialect::Keywheel => self.log.info(&format!(
                "TFO keys for unix time {now}: primary counter {}, backup counter {}",
                slot.primary(),
                slot.backup()
            )),
        }
    }

    /// The procfs text of `slot` (71 characters) followed by a NUL, wiped on drop.
    pub(crate) fn expected(main: &MainKey, slot: &Slot) -> Zeroizing<[u8; PROCFS_WRITE_LEN]> {
        let keys = TfoKeys::new(main, slot);
        let text = keys.procfs_text();
        drop(keys);
        let mut bytes = Zeroizing::new([0u8; PROCFS_WRITE_LEN]);
        bytes[..TFO_PROCFS_TEXT_LEN].copy_from_slice(text.as_bytes());
        bytes
    }

    /// tofurkey's `set_keys` after the key is read: derive the keys of `slot`, show them (with
    /// --print-keys), write them to procfs (or, for a keywheel dry run, describe them on
    /// stdout). Every copy of the keys is wiped before this returns. The error is the text of
    /// the line to log.
    pub(crate) fn install(&self, main: &MainKey, slot: &Slot) -> Result<(), String> {
        let bytes = Self::expected(main, slot);
        let text = std::str::from_utf8(&bytes[..TFO_PROCFS_TEXT_LEN]).unwrap_or_default();
        let shown = self.print_keys.then(|| concat(&[text]));
        if let Some(keys) = &shown {
            if !(self.dialect == Dialect::Keywheel && self.dry_run) {
                let stamp = format!("[{}] ", slot.now());
                self.log.info(&concat(&[
                    "Generated ASCII TFO keys for procfs write: ",
                    &stamp,
                    keys.as_str(),
                ]));
            }
        }
        let written = if self.dry_run {
            Ok(())
        } else {
            os::write_procfs(&self.procfs, &bytes[..])
        };
        drop(bytes);
        if self.dry_run && self.dialect == Dialect::Keywheel {
            self.print_plan(slot, shown.as_ref().map(|k| k.as_str()));
        }
        drop(shown);
        written.map_err(|e| match self.dialect {
            Dialect::Tofurkey => e,
            Dialect::Keywheel if nix::unistd::geteuid().is_root() => {
                format!("cannot write the TFO keys: {e}")
            }
            Dialect::Keywheel => format!(
                "cannot write the TFO keys: {e} (the kernel's TFO key file needs root; \
                 try --dry-run, or --procfs FILE)"
            ),
        })?;
        if self.dry_run && self.dialect == Dialect::Tofurkey {
            self.log
                .verbose("Did not write to procfs because dry-run (-n) was specified");
        }
        Ok(())
    }

    /// keywheel's dry-run report on stdout: what would be written where, which intervals the
    /// keys cover and when the next write would be. Key bytes only with --print-keys.
    fn print_plan(&self, slot: &Slot, keys: Option<&str>) {
        let interval = self.schedule.interval();
        let range = |counter: u64| {
            let start = counter.saturating_mul(interval);
            let end = start.saturating_add(interval);
            format!(
                "counter {counter}, covers unix time {start}..{end} ({}..{})",
                utc(start),
                utc(end)
            )
        };
        let which = if slot.backup() > slot.primary() {
            "next"
        } else {
            "previous"
        };
        let (wake_s, wake_ns) = slot.wake_time();
        let after = match self.schedule.at(slot.next_wake()) {
            Ok(next) => format!(
                "then primary counter {}, backup counter {}",
                next.primary(),
                next.backup()
            ),
            Err(e) => format!("then out of range: {e}"),
        };
        let mut out = String::new();
        out.push_str(&format!(
            "dry run: nothing written to {}\n",
            self.procfs.display()
        ));
        out.push_str(&format!(
            "  time        {} ({}), interval {interval} s\n",
            slot.now(),
            utc(slot.now())
        ));
        out.push_str(&format!("  primary key {}\n", range(slot.primary())));
        out.push_str(&format!(
            "  backup key  {} ({which} interval)\n",
            range(slot.backup())
        ));
        out.push_str(&format!(
            "  next write  unix time {wake_s}.{:03} ({}), 2.02 s after the half-interval \
             boundary {}; {after}\n",
            wake_ns / 1_000_000,
            utc_millis(wake_s, wake_ns / 1_000_000),
            slot.next_wake()
        ));
        let keys = keys.unwrap_or("not shown (add --print-keys to show them)");
        let out = concat(&[&out, "  keys        ", keys, "\n"]);
        write_unbuffered(std::io::stdout(), out.as_bytes());
    }
}

/// tofurkey's `autokey_setup`: make sure the autokey file holds a usable key, creating it with
/// random bytes when it cannot be read. The error is the text of the fatal line.
pub(crate) fn autokey_setup(
    dialect: Dialect,
    path: &Path,
    check_mode: bool,
    log: &Log,
) -> Result<(), String> {
    let p = path.display();
    match dialect {
        Dialect::Tofurkey => log.info(&format!(
            "No -k arg given.  Will use a host-local autokey at '{p}'. \
             This does not allow for cross-host synch!"
        )),
        Dialect::Keywheel => log.info(&format!(
            "using the host-local autokey file {p}: other hosts will not have the same keys"
        )),
    }
    let blocked = os::block_all_signals()?;
    match read_main_key(path, check_mode) {
        Ok(_key) => {} // wiped on drop
        Err(e @ KeyFileError::Insecure(_)) => {
            return Err(keywheel_text(&e, "autokey file", path));
        }
        Err(e) => {
            match dialect {
                Dialect::Tofurkey => {
                    log.info(&tofurkey_text(&e, path));
                    log.info(&format!(
                        "Could not read autokey file {p}, generating a new random one"
                    ));
                }
                Dialect::Keywheel => log.info(&format!(
                    "{}; generating a new random one",
                    keywheel_text(&e, "autokey file", path)
                )),
            }
            os::write_new_autokey(path).map_err(|e| match dialect {
                Dialect::Tofurkey => e,
                Dialect::Keywheel => format!("cannot create the autokey file: {e}"),
            })?;
        }
    }
    blocked.restore()
}
