//! The `tofurkey` front end: tofurkey 1.3.4's command line, byte for byte ([`getopt`] is
//! glibc's option scanner), and its own daemon loop ([`daemon`]).

mod daemon;
mod getopt;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use keywheel::{DEFAULT_INTERVAL, MAX_INTERVAL, MAX_TIME, MIN_INTERVAL, MIN_TIME, Schedule};

use crate::sys::log::{Log, stderr_line};
use crate::sys::os;
use crate::targets::procfs::{DEFAULT_PROCFS, Dialect, TfoOutput};
use daemon::{Config, KeySource};
use getopt::{Getopt, Item};

/// tofurkey's RUNDIR (its Makefile default).
const RUNDIR: &str = "/run";

fn default_autokey() -> String {
    format!("{RUNDIR}/tofurkey.autokey")
}

/// tofurkey's usage text, printed after every usage error.
pub(crate) fn usage_text() -> String {
    let autokey = default_autokey();
    format!(
        "\n\
Usage: tofurkey [-vno] [-i seconds] [-a {autokey}] [-k /path/to/main/secret]\n\
\x20 -k Path to long-term main secret file generated and distributed to a\n\
\x20    cluster by the administrator. This file must exist and have at least\n\
\x20    32 bytes of secret high-entropy binary data, and will be re-read every\n\
\x20    time TFO keys are generated. Mutually exclusive with -a. If this option\n\
\x20    is not provided, then the -a autokey mode is the default.\n\
\x20 -a Custom pathname to persist an auto-generated key, defaults to\n\
\x20    '{autokey}'. This file will be created if it's missing\n\
\x20    and persisted across runs, but perhaps not across reboots at the\n\
\x20    default path, and obviously affords no possibility of distributed\n\
\x20    sync across a cluster. Mutually exclusive with -k.\n\
\x20 -i Interval seconds for key rotation, default is {DEFAULT_INTERVAL}, allowed range\n\
\x20    is {MIN_INTERVAL} - {MAX_INTERVAL}, must be even. Daemon wakes up to rotate keys at\n\
\x20    every half-interval of unix time to manage validity overlaps.\n\
\x20    Intervals *must* match across a cluster to get the same keys!\n\
\x20 -v Verbose output to stderr\n\
\x20 -n Dry-run mode - Data is not actually written to procfs, but everything\n\
\x20    else still happens\n\
\x20 -o One-shot mode - it will calculate the current keys and set them once\n\
\x20    and then exit. Normal mode is to remain running and rotate keys on\n\
\x20    timer intervals forever.\n\
\n\
This is tofurkey v1.3.4\n\
tofurkey is a tool for distributed sync of Linux TCP Fastopen key rotations\n\
More info is available at https://github.com/blblack/tofurkey\n"
    )
}

/// C's `strtoull(s, NULL, 10)` with glibc's errno: leading white space, an optional sign (a
/// minus negates modulo 2^64), then decimal digits up to the first other byte. `None` where
/// glibc sets ERANGE (the magnitude overflows). No digits gives `Some(0)`.
fn strtoull(s: &[u8]) -> Option<u64> {
    let mut rest = s;
    while let [b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r', tail @ ..] = rest {
        rest = tail;
    }
    let negative = match rest {
        [b'-', tail @ ..] => {
            rest = tail;
            true
        }
        [b'+', tail @ ..] => {
            rest = tail;
            false
        }
        _ => false,
    };
    let mut value: u64 = 0;
    for &b in rest.iter().take_while(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A usage error: the message after "error: " (raw bytes, as argv may hold any bytes).
struct UsageError(Vec<u8>);

impl UsageError {
    fn new(parts: &[&[u8]]) -> Self {
        UsageError(parts.concat())
    }
}

fn parse(args: &[OsString], posix: bool) -> Result<Config, UsageError> {
    let mut verbose = false;
    let mut print_keys = false;
    let mut dry_run = false;
    let mut once = false;
    let mut mainkey: Option<OsString> = None;
    let mut autokey: Option<OsString> = None;
    let mut procfs: Option<OsString> = None;
    let mut interval: Option<Schedule> = None;
    let mut fake_time: Option<u64> = None;

    let mut getopt = Getopt::new(args, ":k:i:P:T:a:vVno", posix);
    for item in getopt.by_ref() {
        match item {
            Item::Opt(b'v', _) => verbose = true,
            Item::Opt(b'n', _) => dry_run = true,
            Item::Opt(b'o', _) => once = true,
            Item::Opt(b'V', _) => {
                verbose = true;
                print_keys = true;
            }
            Item::Opt(b'k', arg) => mainkey = arg,
            Item::Opt(b'a', arg) => autokey = arg,
            Item::Opt(b'P', arg) => procfs = arg,
            Item::Opt(b'i', Some(arg)) => {
                let schedule = strtoull(arg.as_bytes()).map(Schedule::new);
                match schedule {
                    Some(Ok(s)) => interval = Some(s),
                    _ => {
                        return Err(UsageError::new(&[
                            b"Interval value '",
                            arg.as_bytes(),
                            b"' unparseable, out of range, or odd",
                        ]));
                    }
                }
            }
            Item::Opt(b'T', Some(arg)) => match strtoull(arg.as_bytes()) {
                Some(t) if (MIN_TIME..=MAX_TIME).contains(&t) => {
                    fake_time = Some(t);
                    once = true;
                }
                _ => {
                    return Err(UsageError::new(&[
                        b"Faketime value '",
                        arg.as_bytes(),
                        b"' unparseable or out of range",
                    ]));
                }
            },
            Item::Invalid(c) => {
                return Err(UsageError::new(&[b"Invalid Option '-", &[c], b"'"]));
            }
            Item::MissingArgument(c) => {
                return Err(UsageError::new(&[b"Missing argument for '-", &[c], b"'"]));
            }
            Item::Opt(..) => {
                return Err(UsageError::new(&[b"Unknown error processing CLI options"]));
            }
        }
    }
    if getopt.operands() != 0 {
        return Err(UsageError::new(&[
            b"Excess unknown CLI arguments after options",
        ]));
    }
    let schedule = match interval {
        Some(s) => s,
        None => Schedule::new(DEFAULT_INTERVAL)
            .map_err(|e| UsageError::new(&[e.to_string().as_bytes()]))?,
    };
    if mainkey.is_some() && autokey.is_some() {
        return Err(UsageError::new(&[b"Cannot set both -k and -a"]));
    }
    let path = mainkey
        .clone()
        .or(autokey)
        .unwrap_or_else(|| default_autokey().into());
    match path.as_bytes().last() {
        None => {
            return Err(UsageError::new(&[
                b"Key path arguments cannot be empty strings",
            ]));
        }
        Some(b'/') => {
            return Err(UsageError::new(&[
                b"Key path arguments cannot have a trailing slash",
            ]));
        }
        Some(_) => {}
    }
    let path = PathBuf::from(path);
    Ok(Config {
        key: if mainkey.is_some() {
            KeySource::File(path)
        } else {
            KeySource::Autokey(path)
        },
        out: TfoOutput {
            dialect: Dialect::Tofurkey,
            procfs: procfs.map_or_else(|| DEFAULT_PROCFS.into(), PathBuf::from),
            schedule,
            print_keys,
            dry_run,
            log: Log::new(verbose),
        },
        fake_time,
        once,
    })
}

/// `tofurkey`'s `main`: harden, parse argv, run. Usage errors exit 2 after the usage text;
/// runtime failures print "FATAL: …" and abort, as tofurkey 1.3.4 does.
pub fn main() {
    if let Err(msg) = os::harden() {
        stderr_line("FATAL: ", &msg);
        std::process::abort();
    }
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let posix = std::env::var_os("POSIXLY_CORRECT").is_some();
    match parse(&args, posix) {
        Ok(config) => config.run(),
        Err(UsageError(msg)) => {
            let mut out = b"error: ".to_vec();
            out.extend_from_slice(&msg);
            out.push(b'\n');
            out.extend_from_slice(usage_text().as_bytes());
            let _ = std::io::Write::write_all(&mut std::io::stderr(), &out);
            std::process::exit(2);
        }
    }
}

/// One fuzz input (the in-tree fuzzer's and AFL's `tofurkey_args` target): NUL-separated
/// arguments after a first byte whose low bit selects POSIXLY_CORRECT. Must never panic.
#[cfg(any(test, feature = "fuzz"))]
pub(crate) fn fuzz_target(bytes: &[u8]) {
    use std::os::unix::ffi::OsStringExt;
    let posix = bytes.first().is_some_and(|b| b & 1 == 1);
    let args: Vec<OsString> = bytes
        .get(1..)
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    let _ = parse(&args, posix);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tofurkey's command line (NUL-separated arguments; the first byte's low bit selects
    /// POSIXLY_CORRECT) never panics.
    #[test]
    fn fuzz_command_line() {
        let dict: &[&[u8]] = &[
            b"\0-k",
            b"\0-a",
            b"\0-i",
            b"\0-v",
            b"\0-n",
            b"\0-o",
            b"\0-P",
            b"\0-T",
            b"\0--",
            b"\0-",
            b"10",
            b"86400",
            b"604800",
            b"18446744073709551616",
            b"-vno",
        ];
        crate::sys::fuzz::fuzz("tofurkey_args", &[], dict, fuzz_target);
    }

    #[test]
    fn strtoull_like_glibc() {
        assert_eq!(strtoull(b"10"), Some(10));
        assert_eq!(strtoull(b"10abc"), Some(10));
        assert_eq!(strtoull(b" \t+86400"), Some(86400));
        assert_eq!(strtoull(b""), Some(0));
        assert_eq!(strtoull(b"x1"), Some(0));
        assert_eq!(strtoull(b"0x10"), Some(0));
        assert_eq!(strtoull(b"-1"), Some(u64::MAX));
        assert_eq!(strtoull(b"-18446744073709551606"), Some(10));
        assert_eq!(strtoull(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(strtoull(b"18446744073709551616"), None);
    }

    #[test]
    fn usage_mentions_defaults() {
        let u = usage_text();
        assert!(u.starts_with("\nUsage: tofurkey [-vno] [-i seconds] [-a /run/tofurkey.autokey]"));
        assert!(u.contains("default is 86400, allowed range\n     is 10 - 604800, must be even."));
        assert!(u.ends_with("https://github.com/blblack/tofurkey\n"));
    }
}
