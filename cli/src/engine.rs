//! The TFO key daemon shared by `tofurkey` and `keywheel tfo`: set the keys for now, then wake
//! after every half-interval boundary and set them again. All key arithmetic and text come from
//! the `keywheel` core crate.

use std::os::fd::AsFd;
use std::path::PathBuf;

use keywheel::{Schedule, Slot, TFO_PROCFS_TEXT_LEN, TfoKeys};
use zeroize::Zeroizing;

use crate::os::{self, KeyError};
use crate::utc::{utc, utc_millis};

/// Which program is speaking: messages and failure handling differ, behaviour does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// tofurkey 1.3.4's exact lines; fatal errors print "FATAL: …" and abort().
    Tofurkey,
    /// `keywheel tfo`: fatal errors print "error: …" and exit with status 1.
    Keywheel,
}

/// Where the main key comes from.
#[derive(Debug)]
pub(crate) enum KeySource {
    /// A main key file shared by the cluster (tofurkey -k, keywheel --main-key/--credential).
    File(PathBuf),
    /// A host-local key file, created with random bytes when missing or unreadable (-a).
    Autokey(PathBuf),
}

impl KeySource {
    fn path(&self) -> &std::path::Path {
        match self {
            KeySource::File(p) | KeySource::Autokey(p) => p,
        }
    }
}

/// Everything the engine needs, already validated.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) dialect: Dialect,
    pub(crate) key: KeySource,
    /// Refuse key files that group or others may access (keywheel without
    /// --allow-insecure-key-file).
    pub(crate) check_key_mode: bool,
    pub(crate) procfs: PathBuf,
    pub(crate) schedule: Schedule,
    pub(crate) fake_time: Option<u64>,
    pub(crate) verbose: bool,
    pub(crate) print_keys: bool,
    pub(crate) dry_run: bool,
    pub(crate) once: bool,
}

/// The 72 bytes tofurkey writes to procfs: the 71-character text and a NUL.
const PROCFS_WRITE_LEN: usize = TFO_PROCFS_TEXT_LEN + 1;

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

impl Config {
    fn info(&self, msg: &str) {
        stderr_line("info: ", msg);
    }

    fn verbose(&self, msg: &str) {
        if self.verbose {
            self.info(msg);
        }
    }

    fn error(&self, msg: &str) {
        stderr_line("error: ", msg);
    }

    /// tofurkey's `log_fatal` (abort, by SIGABRT; no core file because RLIMIT_CORE is 0), or
    /// keywheel's runtime error (exit status 1).
    fn fatal(&self, msg: &str) -> ! {
        match self.dialect {
            Dialect::Tofurkey => {
                stderr_line("FATAL: ", msg);
                std::process::abort()
            }
            Dialect::Keywheel => {
                stderr_line("error: ", msg);
                std::process::exit(1)
            }
        }
    }

    fn ok_or_fatal<T>(&self, result: Result<T, String>) -> T {
        result.unwrap_or_else(|msg| self.fatal(&msg))
    }

    fn key_what(&self) -> &'static str {
        match self.key {
            KeySource::File(_) => "main key file",
            KeySource::Autokey(_) => "autokey file",
        }
    }

    /// tofurkey's `autokey_setup`: make sure the autokey file holds a usable key, creating it
    /// with random bytes when it cannot be read.
    fn autokey_setup(&self) {
        let KeySource::Autokey(path) = &self.key else {
            return;
        };
        let p = path.display();
        match self.dialect {
            Dialect::Tofurkey => self.info(&format!(
                "No -k arg given.  Will use a host-local autokey at '{p}'. \
                 This does not allow for cross-host synch!"
            )),
            Dialect::Keywheel => self.info(&format!(
                "using the host-local autokey file {p}: other hosts will not have the same keys"
            )),
        }
        let blocked = self.ok_or_fatal(os::block_all_signals());
        match os::read_main_key(path, self.check_key_mode) {
            Ok(_key) => {} // wiped on drop
            Err(KeyError::Insecure(mode)) => {
                self.fatal(&KeyError::Insecure(mode).keywheel_text("autokey file", path))
            }
            Err(e) => {
                match self.dialect {
                    Dialect::Tofurkey => {
                        self.info(&e.tofurkey_text(path));
                        self.info(&format!(
                            "Could not read autokey file {p}, generating a new random one"
                        ));
                    }
                    Dialect::Keywheel => self.info(&format!(
                        "{}; generating a new random one",
                        e.keywheel_text("autokey file", path)
                    )),
                }
                let written = os::write_new_autokey(path);
                self.ok_or_fatal(written.map_err(|e| match self.dialect {
                    Dialect::Tofurkey => e,
                    Dialect::Keywheel => format!("cannot create the autokey file: {e}"),
                }));
            }
        }
        self.ok_or_fatal(blocked.restore());
    }

    /// tofurkey's `set_keys`: derive and install the keys for `now`; returns the slot (whose
    /// wake time is when to run again). A main key that cannot be read is fatal on the first
    /// call; later, the installed keys are kept and the error is logged.
    fn set_keys(&self, now: u64, first: bool) -> Slot {
        let slot = self.ok_or_fatal(self.schedule.at(now).map_err(|e| e.to_string()));
        match self.dialect {
            Dialect::Tofurkey => self.info(&format!("Setting keys for unix time {now}")),
            Dialect::Keywheel => self.info(&format!(
                "TFO keys for unix time {now}: primary counter {}, backup counter {}",
                slot.primary, slot.backup
            )),
        }
        let path = self.key.path();
        let blocked = self.ok_or_fatal(os::block_all_signals());
        let main = match os::read_main_key(path, self.check_key_mode) {
            Ok(main) => main,
            Err(e) => {
                let text = match self.dialect {
                    Dialect::Tofurkey => {
                        self.info(&e.tofurkey_text(path));
                        format!("Could not read key file {}", path.display())
                    }
                    Dialect::Keywheel => e.keywheel_text(self.key_what(), path),
                };
                if first {
                    self.fatal(&text);
                }
                self.error(&format!(
                    "{text}; keeping the installed keys and retrying at the next wake-up"
                ));
                self.ok_or_fatal(blocked.restore());
                return slot;
            }
        };
        let keys = TfoKeys::for_slot(&main, &slot);
        drop(main);
        let text = keys.procfs_text();
        drop(keys);
        let mut bytes = Zeroizing::new([0u8; PROCFS_WRITE_LEN]);
        bytes[..TFO_PROCFS_TEXT_LEN].copy_from_slice(text.as_bytes());
        let shown = self.print_keys.then(|| concat(&[text.as_str()]));
        drop(text);
        if let Some(keys) = &shown {
            if !(self.dialect == Dialect::Keywheel && self.dry_run) {
                let stamp = format!("[{now}] ");
                self.info(&concat(&[
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
            self.print_plan(&slot, shown.as_ref().map(|k| k.as_str()));
        }
        drop(shown);
        // Fatal only now, with every copy of the keys wiped (as tofurkey wipes before log_fatal).
        self.ok_or_fatal(written.map_err(|e| match self.dialect {
            Dialect::Tofurkey => e,
            Dialect::Keywheel if nix::unistd::geteuid().is_root() => {
                format!("cannot write the TFO keys: {e}")
            }
            Dialect::Keywheel => format!(
                "cannot write the TFO keys: {e} (the kernel's TFO key file needs root; \
                 try --dry-run, or --procfs FILE)"
            ),
        }));
        self.ok_or_fatal(blocked.restore());
        if self.dry_run && self.dialect == Dialect::Tofurkey {
            self.verbose("Did not write to procfs because dry-run (-n) was specified");
        }
        slot
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
        let which = if slot.backup > slot.primary {
            "next"
        } else {
            "previous"
        };
        let (wake_s, wake_ns) = slot.wake_time();
        let after = match self.schedule.at(slot.next_wake) {
            Ok(next) => format!(
                "then primary counter {}, backup counter {}",
                next.primary, next.backup
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
            slot.now,
            utc(slot.now)
        ));
        out.push_str(&format!("  primary key {}\n", range(slot.primary)));
        out.push_str(&format!(
            "  backup key  {} ({which} interval)\n",
            range(slot.backup)
        ));
        out.push_str(&format!(
            "  next write  unix time {wake_s}.{:03} ({}), 2.02 s after the half-interval \
             boundary {}; {after}\n",
            wake_ns / 1_000_000,
            utc_millis(wake_s, wake_ns / 1_000_000),
            slot.next_wake
        ));
        let keys = keys.unwrap_or("not shown (add --print-keys to show them)");
        let out = concat(&[&out, "  keys        ", keys, "\n"]);
        write_unbuffered(std::io::stdout(), out.as_bytes());
    }

    /// Runs: autokey setup, the first write, then (unless one-shot) readiness notification and
    /// the wake-up loop, which never ends.
    pub(crate) fn run(&self) {
        self.autokey_setup();
        let now = match self.fake_time {
            Some(t) => t,
            None => self.ok_or_fatal(os::realtime()),
        };
        let mut slot = self.set_keys(now, true);
        if self.once {
            match self.dialect {
                Dialect::Tofurkey => self.info("Exiting due to one-shot mode (-o flag)"),
                Dialect::Keywheel => self.verbose("exiting: one-shot mode (--once)"),
            }
            return;
        }
        self.ok_or_fatal(os::notify_ready());
        self.verbose(&format!(
            "Will set keys at each half-interval, when unix_time % {} ~= 2",
            self.schedule.interval() / 2
        ));
        loop {
            let (secs, nanos) = slot.wake_time();
            self.verbose(&format!(
                "Sleeping until next half-interval wakeup at {secs}"
            ));
            self.ok_or_fatal(os::sleep_until(secs, nanos));
            let now = self.ok_or_fatal(os::realtime());
            slot = self.set_keys(now, false);
        }
    }
}
