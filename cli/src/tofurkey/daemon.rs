//! `tofurkey`'s own daemon loop ([`Config::run`]), kept apart from the `keywheel` daemon so
//! that it stays byte-compatible with tofurkey 1.3.4 (its lines, and its abort on any runtime
//! error).

use std::path::{Path, PathBuf};

use keywheel::Slot;

use crate::sys::log::stderr_line;
use crate::sys::main_key::{read_main_key, tofurkey_text};
use crate::sys::os;
use crate::targets::procfs::{Dialect, TfoOutput, autokey_setup};

/// Where the main key comes from.
#[derive(Debug)]
pub(crate) enum KeySource {
    /// A main key file shared by the cluster (tofurkey -k, keywheel --main-key/--credential).
    File(PathBuf),
    /// A host-local key file, created with random bytes when missing or unreadable (-a).
    Autokey(PathBuf),
}

impl KeySource {
    fn path(&self) -> &Path {
        match self {
            KeySource::File(p) | KeySource::Autokey(p) => p,
        }
    }
}

/// `tofurkey`'s configuration, already validated.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) key: KeySource,
    pub(crate) out: TfoOutput,
    pub(crate) fake_time: Option<u64>,
    pub(crate) once: bool,
}

impl Config {
    /// tofurkey's `log_fatal`: "FATAL: …", then abort (SIGABRT; no core file: RLIMIT_CORE is 0).
    fn fatal(&self, msg: &str) -> ! {
        stderr_line("FATAL: ", msg);
        std::process::abort()
    }

    fn ok_or_fatal<T>(&self, result: Result<T, String>) -> T {
        result.unwrap_or_else(|msg| self.fatal(&msg))
    }

    /// tofurkey's `set_keys`: derive and install the keys for `now`; returns the slot (whose
    /// wake time is when to run again). A main key that cannot be read is fatal on the first
    /// call; later, the installed keys are kept and the error is logged.
    fn set_keys(&self, now: u64, first: bool) -> Slot {
        let slot = self.ok_or_fatal(self.out.schedule.at(now).map_err(|e| e.to_string()));
        self.out.head(now, &slot);
        let path = self.key.path();
        let blocked = self.ok_or_fatal(os::block_all_signals());
        let main = match read_main_key(path, false) {
            Ok(main) => main,
            Err(e) => {
                self.out.log.info(&tofurkey_text(&e, path));
                let text = format!("Could not read key file {}", path.display());
                if first {
                    self.fatal(&text);
                }
                self.out.log.error(&format!(
                    "{text}; keeping the installed keys and retrying at the next wake-up"
                ));
                self.ok_or_fatal(blocked.restore());
                return slot;
            }
        };
        let installed = self.out.install(&main, &slot);
        drop(main);
        // Fatal only now, with every copy of the keys wiped (as tofurkey wipes before log_fatal).
        self.ok_or_fatal(installed);
        self.ok_or_fatal(blocked.restore());
        slot
    }

    /// Runs: autokey setup, the first write, then (unless one-shot) readiness notification and
    /// the wake-up loop, which never ends.
    pub(crate) fn run(&self) {
        if let KeySource::Autokey(path) = &self.key {
            self.ok_or_fatal(autokey_setup(Dialect::Tofurkey, path, false, &self.out.log));
        }
        let now = match self.fake_time {
            Some(t) => t,
            None => self.ok_or_fatal(os::realtime()),
        };
        let mut slot = self.set_keys(now, true);
        if self.once {
            self.out.log.info("Exiting due to one-shot mode (-o flag)");
            return;
        }
        self.ok_or_fatal(os::notify("READY=1"));
        self.out.log.verbose(&format!(
            "Will set keys at each half-interval, when unix_time % {} ~= 2",
            self.out.schedule.interval() / 2
        ));
        loop {
            let (secs, nanos) = slot.wake_time();
            self.out.log.verbose(&format!(
                "Sleeping until next half-interval wakeup at {secs}"
            ));
            self.ok_or_fatal(os::sleep_until(secs, nanos));
            let now = self.ok_or_fatal(os::realtime());
            slot = self.set_keys(now, false);
        }
    }
}
