//! Helpers shared by the CLI tests: run the real binaries in a temporary directory, and compute
//! expected keys independently of the code under test (Python's hashlib.blake2b, and the
//! schedule arithmetic of the TFO contract written out again here).
//!
//! Every run passes a temporary procfs file: the tests never write the real /proc.

#![allow(dead_code, clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

pub mod daemon;
pub mod stek;

/// tofurkey's t/test.key.
pub const TEST_KEY_HEX: &str = "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b";
/// tofurkey's itest vector: the procfs text for t/test.key at unix time 1000000, interval 86400.
pub const VECTOR_TEXT: &str =
    "c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577";
/// What the procfs file holds before a run; it must still hold it when nothing is written.
pub const SENTINEL: &[u8] = b"sentinel: nothing written yet\n";

/// tofurkey 1.3.4's usage text (RUNDIR=/run), as printed after every usage error.
pub const TOFURKEY_USAGE: &str = "
Usage: tofurkey [-vno] [-i seconds] [-a /run/tofurkey.autokey] [-k /path/to/main/secret]
  -k Path to long-term main secret file generated and distributed to a
     cluster by the administrator. This file must exist and have at least
     32 bytes of secret high-entropy binary data, and will be re-read every
     time TFO keys are generated. Mutually exclusive with -a. If this option
     is not provided, then the -a autokey mode is the default.
  -a Custom pathname to persist an auto-generated key, defaults to
     '/run/tofurkey.autokey'. This file will be created if it's missing
     and persisted across runs, but perhaps not across reboots at the
     default path, and obviously affords no possibility of distributed
     sync across a cluster. Mutually exclusive with -k.
  -i Interval seconds for key rotation, default is 86400, allowed range
     is 10 - 604800, must be even. Daemon wakes up to rotate keys at
     every half-interval of unix time to manage validity overlaps.
     Intervals *must* match across a cluster to get the same keys!
  -v Verbose output to stderr
  -n Dry-run mode - Data is not actually written to procfs, but everything
     else still happens
  -o One-shot mode - it will calculate the current keys and set them once
     and then exit. Normal mode is to remain running and rotate keys on
     timer intervals forever.

This is tofurkey v1.3.4
tofurkey is a tool for distributed sync of Linux TCP Fastopen key rotations
More info is available at https://github.com/blblack/tofurkey
";
/// Runs `code` in python3 with tests/cross/forward_independent.py imported as `fi` (the
/// forward-secure reference written from SPEC §6 with hashlib alone); its stdout, trimmed.
pub fn forward_reference(code: &str) -> String {
    let cross = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cross");
    let out = Command::new("python3")
        .current_dir(&cross)
        .args([
            "-c",
            &format!(
                "import sys; sys.path.insert(0, '.'); import forward_independent as fi\n{code}"
            ),
        ])
        .output()
        .expect("python3 is needed for the independent reference");
    assert!(
        out.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn test_key() -> Vec<u8> {
    unhex(TEST_KEY_HEX)
}

/// The procfs bytes tofurkey writes for `text`: the text and a NUL.
pub fn procfs_bytes(text: &str) -> Vec<u8> {
    let mut v = text.as_bytes().to_vec();
    v.push(0);
    v
}

/// The TFO contract's schedule, written out independently: (primary, backup, next boundary).
pub fn spec_counters(interval: u64, now: u64) -> (u64, u64, u64) {
    let primary = now / interval;
    let into = now % interval;
    if into >= interval / 2 {
        (primary, primary + 1, (primary + 1) * interval)
    } else {
        (primary, primary - 1, primary * interval + interval / 2)
    }
}

/// Expected procfs texts computed by Python's hashlib.blake2b (key = first 32 bytes of the main
/// key, salt = LE64(counter) || 0^8, person = "tofurkey" || 0^8, 16-byte digest), for each
/// (main key, interval, unix time).
pub fn python_texts(queries: &[(&[u8], u64, u64)]) -> Vec<String> {
    const SCRIPT: &str = r#"
import hashlib, sys
def derive(main, n):
    return hashlib.blake2b(b"", digest_size=16, key=main, salt=n.to_bytes(8, "little") + bytes(8),
                           person=b"tofurkey" + bytes(8)).digest()
def text(b):
    h = b.hex()
    return "-".join(h[i:i + 8] for i in range(0, 32, 8))
for line in sys.stdin:
    key, interval, now = line.split()
    main, interval, now = bytes.fromhex(key)[:32], int(interval), int(now)
    p = now // interval
    b = p + 1 if now % interval >= interval // 2 else p - 1
    print(text(derive(main, p)) + "," + text(derive(main, b)))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the independent key computation");
    let mut input = String::new();
    for (key, interval, now) in queries {
        input.push_str(&format!("{} {interval} {now}\n", hex(key)));
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed");
    let texts: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(texts.len(), queries.len());
    texts
}

pub fn python_text(key: &[u8], interval: u64, now: u64) -> String {
    python_texts(&[(key, interval, now)]).pop().unwrap()
}

/// A temporary directory with a main key file (mode 0600) and a procfs stand-in holding
/// [`SENTINEL`].
pub struct Fixture {
    pub dir: TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        f.write("main.key", &test_key(), 0o600);
        f.write("procfs", SENTINEL, 0o644);
        f
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The path of `name` in the fixture, as a string argument.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    pub fn key(&self) -> String {
        self.arg("main.key")
    }

    pub fn procfs(&self) -> String {
        self.arg("procfs")
    }

    pub fn write(&self, name: &str, bytes: &[u8], mode: u32) -> String {
        let path = self.path(name);
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        self.arg(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap()
    }

    pub fn procfs_content(&self) -> Vec<u8> {
        self.read("procfs")
    }

    /// Asserts that the procfs stand-in was not written.
    pub fn assert_untouched(&self) {
        assert_eq!(
            String::from_utf8_lossy(&self.procfs_content()),
            String::from_utf8_lossy(SENTINEL),
            "the procfs file was written"
        );
    }
}

/// What a finished run did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!((self.code, self.signal), (Some(0), None), "{self:#?}");
        self
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// A command for `binary` with a clean environment for what the program reads.
pub fn command(binary: &str) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_remove("NOTIFY_SOCKET")
        .env_remove("POSIXLY_CORRECT")
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdin(Stdio::null());
    cmd
}

pub fn run(mut cmd: Command) -> Run {
    Run::from(cmd.output().unwrap())
}

pub const TOFURKEY: &str = env!("CARGO_BIN_EXE_tofurkey");
pub const KEYWHEEL: &str = env!("CARGO_BIN_EXE_keywheel");

pub fn tofurkey(args: &[&str]) -> Run {
    let mut cmd = command(TOFURKEY);
    cmd.args(args);
    run(cmd)
}

pub fn keywheel(args: &[&str]) -> Run {
    let mut cmd = command(KEYWHEEL);
    cmd.args(args);
    run(cmd)
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether `path` exists (without following a final symlink).
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}
