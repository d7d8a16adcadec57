//! The promise of forward-secure mode, checked on a running daemon (FORWARD_SECRECY.md, "Proof
//! obligations"): after the daemon (under the fake clock of debug builds) has rotated past
//! counter n, no byte string of key n, its label key / TFO key material, its leaf, or any tree
//! node covering seconds before the state's new start appears in the daemon's memory (every
//! readable mapping of /proc/PID/mem, read as root) or in any file under its output and working
//! directories. The expected byte strings come from the independent Python reference
//! (tests/cross/forward_independent.py, hashlib only), never from keywheel's code.
//!
//! A positive control makes sure the scan works: the first node of the daemon's current state
//! must be found in its memory.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::daemon::Daemon;
use common::{KEYWHEEL, command, forward_reference, keywheel};

/// Named byte strings computed by the Python reference: `code` must print lines
/// "name hex".
fn python_needles(code: &str) -> Vec<(String, Vec<u8>)> {
    forward_reference(code)
        .lines()
        .map(|l| {
            let (name, hex) = l.rsplit_once(' ').unwrap();
            (name.to_owned(), common::unhex(hex))
        })
        .collect()
}

/// Every readable mapping of process `pid`, concatenated per mapping.
fn process_memory(pid: u32) -> Vec<(String, Vec<u8>)> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let range = f.next().unwrap();
        let perms = f.next().unwrap();
        let name = line
            .split_whitespace()
            .nth(5)
            .unwrap_or("[anon]")
            .to_owned();
        if !perms.starts_with('r') || name.starts_with("[vvar") || name == "[vsyscall]" {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        let mut buf = vec![0u8; usize::try_from(b - a).unwrap()];
        mem.seek(SeekFrom::Start(a)).unwrap();
        match mem.read_exact(&mut buf) {
            Ok(()) => out.push((format!("{name} {range}"), buf)),
            Err(e) => panic!("cannot read mapping {line} of pid {pid}: {e}"),
        }
    }
    assert!(
        out.iter().any(|(n, _)| n.starts_with("[heap]")),
        "no heap read"
    );
    assert!(
        out.iter().any(|(n, _)| n.starts_with("[stack]")),
        "no stack read"
    );
    out
}

fn files_under(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in fs::read_dir(dir).unwrap() {
        let p: PathBuf = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push((p.display().to_string(), fs::read(&p).unwrap()));
        }
    }
}

fn find(hay: &[(String, Vec<u8>)], needle: &[u8]) -> Option<String> {
    find_all(hay, &[needle.to_vec()]).pop().map(|(_, w)| w)
}

/// Every needle (all at least 8 bytes) found anywhere in `hay`, with where: one pass over the
/// haystack, looking up each 8-byte window's needles by their first 8 bytes.
fn find_all(hay: &[(String, Vec<u8>)], needles: &[Vec<u8>]) -> Vec<(usize, String)> {
    let mut by_prefix: std::collections::HashMap<[u8; 8], Vec<usize>> = Default::default();
    for (i, n) in needles.iter().enumerate() {
        by_prefix
            .entry(n[..8].try_into().unwrap())
            .or_default()
            .push(i);
    }
    let mut found = Vec::new();
    let mut seen = vec![false; needles.len()];
    for (name, bytes) in hay {
        for (pos, w) in bytes.windows(8).enumerate() {
            let Some(list) = by_prefix.get(<&[u8; 8]>::try_from(w).unwrap()) else {
                continue;
            };
            for &i in list {
                if !seen[i] && bytes[pos..].starts_with(&needles[i]) {
                    seen[i] = true;
                    found.push((i, format!("{name} at offset {pos:#x}")));
                }
            }
        }
    }
    found
}

const I: u64 = 600;
/// Counter n: the TFO primary key at T0 (first half of its interval: backup n − 1).
const N: u64 = 2_900_000;

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn a_daemon_that_rotated_past_n_holds_nothing_of_n() {
    assert!(
        common::is_root(),
        "this test reads /proc/PID/mem of the daemon: run it as root"
    );
    let dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let work = dir.path().join("work");
    let out = dir.path().join("out");
    fs::create_dir(&work).unwrap();
    fs::create_dir(&out).unwrap();
    let seed_dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let seed_file = seed_dir.path().join("seed");
    // The given state starts a bit before counter n − 1, not on a boundary (many nodes).
    let s_start = (N - 1) * I - 1000;
    let given = dir.path().join("given.state");
    keywheel(&[
        "state",
        "new",
        given.to_str().unwrap(),
        "--start",
        &s_start.to_string(),
        "--write-seed",
        seed_file.to_str().unwrap(),
    ])
    .assert_ok();
    let seed = fs::read(&seed_file).unwrap();
    drop(seed_dir); // the seed is not under the daemon's directories

    let procfs = out.join("tcp_fastopen_key");
    fs::write(&procfs, b"x").unwrap();
    let nginx = out.join("nginx");
    fs::create_dir(&nginx).unwrap();
    let config = dir.path().join("keywheel.toml");
    fs::write(
        &config,
        format!(
            "state = \"{}\"\nstate_dir = \"{}\"\n[tfo]\ninterval = {I}\nprocfs = \"{}\"\n\
             [[stek]]\nformat = \"nginx\"\nlabel = \"www\"\ninterval = {I}\nkeep = 1\n\
             out = \"{}\"\n",
            given.display(),
            work.display(),
            procfs.display(),
            nginx.display()
        ),
    )
    .unwrap();
    let now_file = dir.path().join("now");
    let t0 = N * I + 10;
    let t1 = (N + 3) * I + 10; // primary n + 3, backup n + 2: state start (n + 2) · I
    fs::write(&now_file, t0.to_string()).unwrap();
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", config.to_str().unwrap(), "-v"])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now_file);
    let mut d = Daemon::spawn_command(cmd);
    d.wait_line(Duration::from_secs(20), |l| {
        l.contains(&format!("ticket keys for unix time {t0}"))
    });
    d.wait_line(Duration::from_secs(20), |l| {
        l.contains("advanced the forward-secure state to")
    });
    fs::write(&now_file, t1.to_string()).unwrap();
    d.wait_line(Duration::from_secs(20), |l| {
        l.contains(&format!("ticket keys for unix time {t1}"))
    });
    let floor = (N + 2) * I;
    d.wait_line(Duration::from_secs(20), |l| {
        l.contains(&format!("advanced the forward-secure state to {floor}"))
    });
    std::thread::sleep(Duration::from_millis(300)); // back asleep
    d.assert_running();

    let seed_hex = common::hex(&seed);
    let needles = python_needles(&format!(
        "seed = bytes.fromhex('{seed_hex}')\n\
         I, N, S, F = {I}, {N}, {s_start}, {floor}\n\
         print('seed', seed.hex())\n\
         for n in (N - 1, N, N + 1):\n\
         \x20   print(f'tfo key {{n}}', fi.fs_tfo_key(seed, I, n).hex())\n\
         \x20   print(f'tfo material {{n}}', fi._h(fi.leaf(seed, n * I), I, b'keywheel.fstfo').hex())\n\
         \x20   print(f'leaf {{n}}', fi.leaf(seed, n * I).hex())\n\
         \x20   print(f'label key www {{n}}', fi.fs_label_key(seed, I, n, b'www').hex())\n\
         \x20   k = fi.fs_ticket_key(seed, b'www', I, 'aes256', n)\n\
         \x20   print(f'ticket aes key {{n}}', k.aes.hex())\n\
         \x20   print(f'ticket hmac key {{n}}', k.hmac.hex())\n\
         \x20   for h in range(0, 41):\n\
         \x20       print(f'ancestor ({{h}}, {{(n * I) >> h}}) of leaf {{n}}', fi.node(seed, h, (n * I) >> h).hex())\n\
         for h, p in fi.cover(S):\n\
         \x20   if p << h < F:\n\
         \x20       print(f'given cover node ({{h}}, {{p}})', fi.node(seed, h, p).hex())\n\
         h, p = fi.cover(F)[0]\n\
         print('CONTROL', fi.node(seed, h, p).hex())\n\
         print('FILECONTROL', fi.fs_ticket_key(seed, b'www', I, 'aes256', N + 3).aes.hex())\n\
         t = lambda k: '-'.join(k.hex()[i:i + 8] for i in range(0, 32, 8))\n\
         print('TFOCONTROL', (t(fi.fs_tfo_key(seed, I, N + 3)) + ',' + t(fi.fs_tfo_key(seed, I, N + 2))).encode().hex())\n"
    ));
    let (control, needles): (Vec<_>, Vec<_>) = needles
        .into_iter()
        .partition(|(n, _)| n.ends_with("CONTROL"));
    assert!(needles.len() > 120, "{}", needles.len());

    let pid = d.child.id();
    let memory = process_memory(pid);
    let mut files = Vec::new();
    files_under(&work, &mut files);
    files_under(&out, &mut files);
    assert!(
        files.iter().any(|(n, _)| n.contains("keywheel-fs-")),
        "no working copy: {:?}",
        files.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    // Positive control: the scan finds what the daemon does hold.
    assert!(
        find(&memory, &control[0].1).is_some(),
        "the current state's first node is not found in memory: the scan is broken"
    );
    assert!(
        find(&files, &control[0].1).is_some(),
        "working copy lacks the current state"
    );
    // ... and the reference's ticket key of now is what the daemon wrote for nginx.
    assert!(
        find(&files, &control[1].1).is_some(),
        "the nginx files lack the reference's current ticket key"
    );
    // ... and the TFO keys written are the reference's (primary N + 3, backup N + 2).
    let procfs_text = fs::read(&procfs).unwrap();
    assert!(
        procfs_text.starts_with(&control[2].1),
        "TFO keys {:?} are not the reference's {:?}",
        String::from_utf8_lossy(&procfs_text),
        String::from_utf8_lossy(&control[2].1)
    );

    let bytes: Vec<Vec<u8>> = needles.iter().map(|(_, b)| b.clone()).collect();
    let mut found: Vec<String> = find_all(&memory, &bytes)
        .into_iter()
        .map(|(i, w)| format!("{}: in memory ({w})", needles[i].0))
        .collect();
    found.extend(
        find_all(&files, &bytes)
            .into_iter()
            .map(|(i, w)| format!("{}: in file {w}", needles[i].0)),
    );
    let lines = d.terminate();
    assert!(
        found.is_empty(),
        "after rotating past counter {N}, the daemon still holds:\n{}\nlog: {lines:#?}",
        found.join("\n")
    );
}
