//! `keywheel state new/advance/show` against the independent Python reference of forward-secure
//! mode (tests/cross/forward_independent.py, hashlib only): the state files written are byte
//! for byte the reference's, the root id printed is the reference's; every bad value and every
//! malformed state file is refused with a clear message and nothing written.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::keywheel;
use tempfile::TempDir;

/// A fresh directory on tmpfs (/dev/shm), as the state commands want.
fn shm() -> TempDir {
    tempfile::tempdir_in("/dev/shm").expect("/dev/shm (tmpfs) is needed")
}

/// Runs `expr` in Python with tests/cross on the path and `forward_independent` imported as
/// `fi`; returns its stdout, trimmed.
fn reference_state(seed: &[u8], s0: u64) -> Vec<u8> {
    hex_decode(&common::forward_reference(&format!(
        "print(fi.state_file(bytes.fromhex('{}'), {s0}).hex())",
        common::hex(seed)
    )))
}

fn reference_root_id(seed: &[u8]) -> String {
    common::forward_reference(&format!(
        "print(fi.root_id(bytes.fromhex('{}')).hex())",
        common::hex(seed)
    ))
}

fn hex_decode(s: &str) -> Vec<u8> {
    common::unhex(s)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn new_and_advance_write_the_reference_bytes() {
    let dir = shm();
    let state = dir.path().join("fs.state");
    let seed_file = dir.path().join("seed");
    let s0 = 1_749_978_000;
    let run = keywheel(&[
        "state",
        "new",
        arg(&state),
        "--start",
        &s0.to_string(),
        "--write-seed",
        arg(&seed_file),
    ]);
    run.assert_ok();
    let seed = fs::read(&seed_file).unwrap();
    assert_eq!(seed.len(), 32);
    assert_ne!(seed, vec![0u8; 32]);
    assert_eq!(run.stdout.trim(), reference_root_id(&seed));
    assert_eq!(fs::read(&state).unwrap(), reference_state(&seed, s0));
    for f in [&state, &seed_file] {
        assert_eq!(fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(
        !run.stderr.contains(&common::hex(&seed)),
        "the seed was printed"
    );

    // Forward, twice, then the same time again (nothing to do).
    for s1 in [1_749_999_600u64, 1_750_000_001, 1_750_000_001] {
        keywheel(&["state", "advance", arg(&state), "--to", &s1.to_string()]).assert_ok();
        assert_eq!(
            fs::read(&state).unwrap(),
            reference_state(&seed, s1),
            "advanced to {s1}"
        );
        assert_eq!(
            fs::metadata(&state).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            names(dir.path()),
            ["fs.state", "seed"],
            "a temporary file was left"
        );
    }
    // --before, against a fixed now.
    keywheel(&[
        "state",
        "advance",
        arg(&state),
        "--before",
        "1d",
        "--time",
        "1750200000",
    ])
    .assert_ok();
    assert_eq!(
        fs::read(&state).unwrap(),
        reference_state(&seed, 1_750_200_000 - 86_400)
    );

    // Show: public facts only.
    let show = keywheel(&["state", "show", arg(&state)]);
    show.assert_ok();
    assert!(
        show.stdout
            .contains(&format!("root id {}", reference_root_id(&seed))),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout
            .contains("start 1750113600 (2025-06-16T22:40:00Z)"),
        "{}",
        show.stdout
    );
    let nodes = common::forward_reference("print(len(fi.cover(1750113600)))");
    assert!(
        show.stdout.contains(&format!("nodes {nodes} (")),
        "{}",
        show.stdout
    );

    // Which configured targets it can serve at a given time: TFO (interval 600) needs keys
    // from (primary - 1) * 600, tickets (interval 3600, keep 2) from (c - 2) * 3600.
    let config = dir.path().join("k.toml");
    fs::write(
        &config,
        format!(
            "state = \"{}\"\n[tfo]\ninterval = 600\nprocfs = \"/dev/null\"\n\
             [[stek]]\nname = \"web\"\nformat = \"nginx\"\nlabel = \"www\"\nkeep = 2\n\
             out = \"/run/x\"\n",
            state.display()
        ),
    )
    .unwrap();
    let at = |t: u64| {
        let r = keywheel(&[
            "state",
            "show",
            arg(&state),
            "--config",
            arg(&config),
            "--time",
            &t.to_string(),
        ]);
        r.assert_ok();
        r.stdout
    };
    // At 1750121000 (primary 2916868, current ticket 486144): TFO from 1750120200 (serves),
    // tickets from 1750111200, before the start; they can at 486145 * 3600 = 1750122000.
    let out = at(1_750_121_000);
    assert!(
        out.contains("  tfo: can serve (its oldest key starts at 1750120200, "),
        "{out}"
    );
    assert!(
        out.contains("  stek web: cannot serve: its oldest key starts at 1750111200 (2025-06-16T22:00:00Z), before the state's start; it can from 2025-06-17T01:00:00Z on"),
        "{out}"
    );
    let out = at(1_750_122_000);
    assert!(
        out.contains("  stek web: can serve (its oldest key starts at 1750114800, "),
        "{out}"
    );
}

#[test]
fn new_without_write_seed_keeps_no_seed_and_differs_each_time() {
    let dir = shm();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let ra = keywheel(&["state", "new", arg(&a), "--start", "1749978000"]);
    let rb = keywheel(&["state", "new", arg(&b), "--start", "1749978000"]);
    ra.assert_ok();
    rb.assert_ok();
    assert_eq!(names(dir.path()), ["a", "b"]);
    assert_ne!(ra.stdout, rb.stdout, "two new seeds have the same root id");
    assert_eq!(ra.stdout.trim().len(), 16);
}

#[test]
fn backwards_and_bad_values_write_nothing() {
    let dir = shm();
    let state = dir.path().join("fs.state");
    keywheel(&["state", "new", arg(&state), "--start", "1749999600"]).assert_ok();
    let before = fs::read(&state).unwrap();
    let check = |what: &str| {
        assert_eq!(
            fs::read(&state).unwrap(),
            before,
            "{what}: the state changed"
        );
        assert_eq!(names(dir.path()), ["fs.state"], "{what}: a file was left");
    };

    let r = keywheel(&["state", "advance", arg(&state), "--to", "1749978000"]);
    assert_eq!(r.code, Some(1), "{r:#?}");
    assert!(
        r.stderr.contains("starts at 1749999600 (2025-06-15T15:00:00Z); refusing to go backwards to 1749978000 (2025-06-15T09:00:00Z)"),
        "{}",
        r.stderr
    );
    check("backwards");

    let r = keywheel(&["state", "new", arg(&state), "--start", "1749999600"]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr
            .contains("exists; refusing to overwrite a state file"),
        "{}",
        r.stderr
    );
    check("new over an existing state");

    for (args, needle) in [
        (vec!["--to", "12"], "'12'"),
        (vec!["--to", "x"], "'x' is not a unix time"),
        (vec!["--before", "1x"], "'1x' is not a duration"),
        (
            vec!["--to", "1749999700", "--before", "1d"],
            "cannot be used with",
        ),
        (vec![], "--to"),
    ] {
        let mut a = vec!["state", "advance", arg(&state)];
        a.extend(&args);
        let r = keywheel(&a);
        assert_eq!(r.code, Some(2), "{args:?}: {r:#?}");
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        check(&format!("{args:?}"));
    }
    let other = dir.path().join("other");
    for args in [
        vec!["--start", "5"],
        vec!["--before", "-1d"],
        vec!["--start", "1749999600", "--before", "1d"],
    ] {
        let mut a = vec!["state", "new", arg(&other)];
        a.extend(&args);
        let r = keywheel(&a);
        assert_eq!(r.code, Some(2), "{args:?}: {r:#?}");
        check(&format!("new {args:?}"));
    }
    // A seed file that exists: neither the state nor the seed is written.
    let seed = dir.path().join("seed");
    fs::write(&seed, b"keep me").unwrap();
    let r = keywheel(&["state", "new", arg(&other), "--write-seed", arg(&seed)]);
    assert_eq!(r.code, Some(1), "{r:#?}");
    assert!(
        r.stderr.contains("refusing to overwrite a seed file"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(&seed).unwrap(), b"keep me");
    fs::remove_file(&seed).unwrap();
    check("new with an existing seed file");

    // A state file group or others may read is refused by advance.
    fs::set_permissions(&state, fs::Permissions::from_mode(0o640)).unwrap();
    let r = keywheel(&["state", "advance", arg(&state), "--to", "1749999700"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("has mode 0640"), "{}", r.stderr);
    check("insecure mode");
}

/// A directory on persistent storage (the build directory): `state new` refuses it.
fn persistent_dir() -> TempDir {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let fs = nix::sys::statfs::statfs(dir.path()).unwrap();
    assert_ne!(
        fs.filesystem_type(),
        nix::sys::statfs::TMPFS_MAGIC,
        "this test needs the build directory on persistent storage"
    );
    dir
}

#[test]
fn persistent_storage_is_refused_unless_allowed() {
    let dir = persistent_dir();
    let state = dir.path().join("fs.state");
    let r = keywheel(&["state", "new", arg(&state)]);
    assert_eq!(r.code, Some(1), "{r:#?}");
    assert!(r.stderr.contains("not tmpfs or ramfs"), "{}", r.stderr);
    assert!(names(dir.path()).is_empty());
    keywheel(&[
        "state",
        "new",
        arg(&state),
        "--allow-persistent",
        "--start",
        "1749978000",
    ])
    .assert_ok();
    let r = keywheel(&["state", "advance", arg(&state), "--to", "1749999600"]);
    assert_eq!(r.code, Some(1), "{r:#?}");
    assert!(r.stderr.contains("not tmpfs or ramfs"), "{}", r.stderr);
    keywheel(&[
        "state",
        "advance",
        arg(&state),
        "--to",
        "1749999600",
        "--allow-persistent",
    ])
    .assert_ok();
}

/// Every malformed state file: each field wrong, truncated at every length, extended, and a bit
/// flipped in every byte. `advance` and `show` refuse each one naming the problem (the variant
/// the independent reader of the reference names), and nothing is written.
#[test]
fn malformed_state_files_are_refused_and_nothing_is_written() {
    let dir = shm();
    let seed: Vec<u8> = (0u8..32).collect();
    let good = reference_state(&seed, 1_749_978_000);
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for len in [0, 3, 4, 24, 25, 26, 100, good.len() - 16, good.len() - 1] {
        cases.push((format!("truncated to {len}"), good[..len].to_vec()));
    }
    let mut long = good.clone();
    long.push(0);
    cases.push(("one byte added".into(), long));
    let mut huge = good.clone();
    huge.resize(5000, 7);
    cases.push(("5000 bytes".into(), huge));
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 1 << (i % 8);
        cases.push((format!("bit {} of byte {i} flipped", i % 8), bad));
    }
    // Expected problem per case, by the reference reader.
    let script = String::from(
        "import sys\nfor line in sys.stdin:\n    d = bytes.fromhex(line.strip())\n    print(fi.file_problem(d))\n",
    );
    let input: String = cases.iter().map(|(_, b)| common::hex(b) + "\n").collect();
    let cross = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cross");
    let mut child = Command::new("python3")
        .current_dir(&cross)
        .args([
            "-c",
            &format!(
                "import sys; sys.path.insert(0, '.'); import forward_independent as fi\n{script}"
            ),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let problems: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(problems.len(), cases.len());
    let words = |p: &str| -> &str {
        match p {
            "Magic" => "bad magic",
            "TruncatedHeader" => "header",
            "Version" => "version",
            "Depth" => "depth",
            "Flags" => "flags",
            "Start" => "start",
            "NodeCount" => "node",
            "Truncated" => "truncated",
            "Trailing" => "trailing",
            "Checksum" => "checksum mismatch",
            other => panic!("the reference accepted a malformed file: {other}"),
        }
    };
    let path: PathBuf = dir.path().join("fs.state");
    for ((what, bytes), problem) in cases.iter().zip(&problems) {
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let r = keywheel(&["state", "advance", arg(&path), "--to", "1749999600"]);
        assert_eq!(r.code, Some(1), "{what}: {r:#?}");
        let msg = r.stderr.to_lowercase();
        assert!(
            r.stderr.contains(&format!("state file {}", path.display())),
            "{what}: {}",
            r.stderr
        );
        assert!(
            msg.contains(words(problem)),
            "{what}: expected {problem}: {}",
            r.stderr
        );
        assert_eq!(&fs::read(&path).unwrap(), bytes, "{what}: the file changed");
        assert_eq!(names(dir.path()), ["fs.state"], "{what}: a file was left");
        if what.contains("byte 30") || what.starts_with("truncated") {
            let r = keywheel(&["state", "show", arg(&path)]);
            assert_eq!(r.code, Some(1), "{what}: {r:#?}");
            assert!(r.stdout.is_empty());
        }
    }
}
