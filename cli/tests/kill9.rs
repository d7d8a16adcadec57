//! kill -9 during rotations (issue 14): a `keywheel run` daemon under the fake clock rotates an
//! nginx directory, a single-file format (ats), a HAProxy socket (the fake HAProxy) and TFO
//! into a fake procfs file, and is killed with SIGKILL at random points, then restarted, many
//! times (`KEYWHEEL_KILL9_ROUNDS`, 40 by default; 1000 in the long run of docs/operations.md).
//! A reader loop checks all along that it never sees a torn, mixed or empty key set; after
//! every restart's first round no temporary of a dead writer is left; the last start installs
//! the right keys. Expected keys come from the Python references, never from keywheel.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::stek::{FakeHaproxy, Query, Ring, StekFixture, files, lines, reference};
use common::*;

/// A multiple of 3600: the fake clock cycles through CYCLE intervals after it.
const BASE: u64 = 1_700_006_400;
const INTERVAL: u64 = 10;
const CYCLE: u64 = 40;

/// The fake time of step `k`: 3 s after a boundary, so that every step is a rotation.
fn fake_time(k: u64) -> u64 {
    BASE + (k % CYCLE) * INTERVAL + 3
}

fn set_now(path: &Path, t: u64) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, format!("{t}\n")).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// Every key set a reader may see: by counter, the nginx files and the ats file; and every
/// procfs text.
struct Expected {
    nginx: BTreeMap<u64, BTreeMap<String, Vec<u8>>>,
    ats: BTreeSet<Vec<u8>>,
    procfs: BTreeSet<Vec<u8>>,
}

fn expected() -> Expected {
    let times: Vec<u64> = (0..CYCLE).map(fake_time).collect();
    let mut queries = Vec::new();
    for &t in &times {
        queries.push(Query::new("nginx", "www", INTERVAL, 1, t));
        queries.push(Query::new("ats", "www", INTERVAL, 2, t));
    }
    let answers = reference(&queries);
    let mut e = Expected {
        nginx: BTreeMap::new(),
        ats: BTreeSet::new(),
        procfs: BTreeSet::new(),
    };
    for (i, &t) in times.iter().enumerate() {
        let c = t / INTERVAL;
        let nginx: BTreeMap<String, Vec<u8>> = files(&answers[2 * i])
            .into_iter()
            .map(|(k, v)| (k.replace(&format!("keys.{c}/"), ""), v))
            .collect();
        e.nginx.insert(c, nginx);
        e.ats.insert(files(&answers[2 * i + 1])[""].clone());
    }
    // TFO (interval 10): every second of the cycle, as the daemon may be killed anywhere.
    let key = test_key();
    let q: Vec<(&[u8], u64, u64)> = (BASE..BASE + CYCLE * INTERVAL + INTERVAL)
        .map(|t| (&key[..], INTERVAL, t))
        .collect();
    for text in python_texts(&q) {
        e.procfs.insert(procfs_bytes(&text));
    }
    e
}

/// What the reader sees wrong right now, if anything.
fn problem(dir: &Path, e: &Expected) -> Option<String> {
    let nginx = dir.join("nginx");
    if let Ok(target) = fs::read_link(nginx.join("current")) {
        let name = target.to_str().unwrap().to_owned();
        let c: u64 = name.strip_prefix("keys.")?.parse().ok()?;
        let want = e.nginx.get(&c)?;
        let mut got = BTreeMap::new();
        for entry in fs::read_dir(nginx.join(&name)).ok()? {
            let entry = entry.unwrap();
            let n = entry.file_name().into_string().unwrap();
            got.insert(n, fs::read(entry.path()).unwrap_or_default());
        }
        // A set retired while it was being read is not a problem of the published state:
        // look again at what `current` names now.
        if &got != want && fs::read_link(nginx.join("current")).ok()? == target {
            return Some(format!(
                "nginx current -> {name} holds {:?}",
                got.keys().collect::<Vec<_>>()
            ));
        }
        if let Ok(conf) = fs::read_to_string(nginx.join("nginx.conf")) {
            for line in conf.lines() {
                let path = line
                    .strip_prefix("ssl_session_ticket_key ")
                    .and_then(|l| l.strip_suffix(';'))?;
                if !Path::new(path).is_file() {
                    return Some(format!("nginx.conf names {path}, which is missing"));
                }
            }
        }
    }
    if let Ok(ats) = fs::read(dir.join("ats.key")) {
        if !e.ats.contains(&ats) {
            return Some(format!("ats.key is torn or foreign ({} bytes)", ats.len()));
        }
    }
    // The procfs stand-in is a regular file written in place (one 72-byte write(2), as the
    // kernel's file is): a read racing the write may see a mix, which the kernel's own file
    // never shows. A bad content that is still there a moment later is a real problem.
    let bad = |p: &Vec<u8>| p.as_slice() != SENTINEL && !e.procfs.contains(p);
    let mut procfs = fs::read(dir.join("procfs")).unwrap();
    if bad(&procfs) {
        std::thread::sleep(Duration::from_millis(20));
        procfs = fs::read(dir.join("procfs")).unwrap();
    }
    if bad(&procfs) {
        return Some(format!(
            "procfs holds {:?}",
            String::from_utf8_lossy(&procfs)
        ));
    }
    None
}

/// Dead writers' temporaries in `dir` (keywheel's names: `.keywheel-<pid>-…`).
fn dead_temporaries(dir: &Path, live: u32) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".keywheel-") && n.ends_with(".tmp"))
        .filter(|n| !n.starts_with(&format!(".keywheel-{live}-")))
        .collect()
}

#[test]
fn kill_9_at_random_points_never_exposes_a_bad_key_set() {
    let rounds: u64 = std::env::var("KEYWHEEL_KILL9_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let f = StekFixture::new();
    let dir = f.dir.path().to_owned();
    fs::write(f.path("procfs"), SENTINEL).unwrap();
    let e = Arc::new(expected());
    let sock = f.path("haproxy.sock");
    let ring_keys = lines(&reference(&[Query::new("haproxy", "www", INTERVAL, 1, BASE - 100)])[0]);
    let haproxy = FakeHaproxy::start(&sock, vec![Ring::new(&f.arg("haproxy.keys"), &ring_keys)]);
    let config = f.path("keywheel.toml");
    fs::write(
        &config,
        format!(
            "main_key = \"{key}\"\n[tfo]\ninterval = {INTERVAL}\nprocfs = \"{procfs}\"\n\
             [[stek]]\nformat = \"nginx\"\nlabel = \"www\"\ninterval = {INTERVAL}\nout = \"{nginx}\"\n\
             [[stek]]\nformat = \"ats\"\nlabel = \"www\"\ninterval = {INTERVAL}\nkeep = 2\n\
             out = \"{ats}\"\n\
             [[stek]]\nformat = \"haproxy\"\nlabel = \"www\"\ninterval = {INTERVAL}\n\
             out = \"{hk}\"\nhaproxy_socket = \"{sock}\"\n",
            key = f.key(),
            procfs = f.arg("procfs"),
            nginx = f.arg("nginx"),
            ats = f.arg("ats.key"),
            hk = f.arg("haproxy.keys"),
            sock = sock.display(),
        ),
    )
    .unwrap();
    let now = f.path("now");
    let step = Arc::new(AtomicU64::new(0));
    set_now(&now, fake_time(0));

    // The fake clock: one rotation every 30 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let clock = {
        let (stop, step, now) = (stop.clone(), step.clone(), now.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let k = step.fetch_add(1, Ordering::SeqCst) + 1;
                set_now(&now, fake_time(k));
                std::thread::sleep(Duration::from_millis(30));
            }
        })
    };
    // The reader: never a torn, mixed or empty set.
    let seen: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (stop, e, dir, seen, reads) = (
            stop.clone(),
            e.clone(),
            dir.clone(),
            seen.clone(),
            reads.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(p) = problem(&dir, &e) {
                    seen.lock().unwrap().push(p);
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let mut rng = 0x2545_f491_4f6c_dd1du64 ^ u64::from(std::process::id());
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let started = Instant::now();
    let mut leftovers = Vec::new();
    for round in 0..rounds {
        let mut cmd = command(KEYWHEEL);
        cmd.args(["run", "--config", config.to_str().unwrap()])
            .env("KEYWHEEL_FAKE_NOW_FILE", &now)
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        // Every 5th round: let the first round finish, then check the dead writers'
        // temporaries are gone.
        if round % 5 == 4 {
            let ok = (0..200).any(|_| {
                std::thread::sleep(Duration::from_millis(10));
                fs::read(f.path("procfs")).is_ok_and(|p| p != SENTINEL)
                    && f.path("ats.key").exists()
                    && f.path("nginx/current").exists()
                    && dead_temporaries(&dir, pid).is_empty()
                    && dead_temporaries(&f.path("nginx"), pid).is_empty()
            });
            if !ok {
                leftovers.push(format!(
                    "round {round}: {:?} {:?}",
                    dead_temporaries(&dir, pid),
                    dead_temporaries(&f.path("nginx"), pid)
                ));
            }
        }
        std::thread::sleep(Duration::from_micros(next() % 120_000));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap();
    }
    // The last start: the right keys for the time it reads, and no temporaries.
    stop.store(true, Ordering::Relaxed);
    clock.join().unwrap();
    let t = fake_time(step.load(Ordering::SeqCst));
    set_now(&now, t);
    let (sock_n, env) = common::daemon::notify_listener(None, &f.path("notify"));
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", config.to_str().unwrap()])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now)
        .env("NOTIFY_SOCKET", &env);
    let daemon = common::daemon::Daemon::spawn_command(cmd);
    let mut buf = [0u8; 256];
    let n = sock_n
        .recv(&mut buf)
        .expect("no READY=1 after the last start");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    let pid = daemon.child.id();
    let c = t / INTERVAL;
    let want = reference(&[
        Query::new("nginx", "www", INTERVAL, 1, t),
        Query::new("ats", "www", INTERVAL, 2, t),
        Query::new("haproxy", "www", INTERVAL, 1, t),
    ]);
    for (rel, bytes) in files(&want[0]) {
        let rel = rel.replace(&format!("keys.{c}/"), "current/");
        assert_eq!(
            fs::read(f.path("nginx").join(&rel)).unwrap(),
            bytes,
            "nginx {rel}"
        );
    }
    assert_eq!(fs::read(f.path("ats.key")).unwrap(), files(&want[1])[""]);
    assert_eq!(haproxy.held(0), lines(&want[2]), "HAProxy's ring");
    assert_eq!(
        fs::read(f.path("procfs")).unwrap(),
        procfs_bytes(&python_text(&test_key(), INTERVAL, t))
    );
    let left: Vec<String> = dead_temporaries(&dir, pid)
        .into_iter()
        .chain(dead_temporaries(&f.path("nginx"), pid))
        .collect();
    daemon.terminate();
    reader.join().unwrap();
    let seen = seen.lock().unwrap();
    eprintln!(
        "kill -9: {rounds} kills in {:.1} s, {} reads, {} problems, {} rounds with leftovers",
        started.elapsed().as_secs_f64(),
        reads.load(Ordering::Relaxed),
        seen.len(),
        leftovers.len()
    );
    assert!(
        seen.is_empty(),
        "{} bad reads: {:#?}",
        seen.len(),
        &seen[..seen.len().min(10)]
    );
    assert!(
        leftovers.is_empty(),
        "temporaries survived a start: {leftovers:#?}"
    );
    assert!(
        left.is_empty(),
        "temporaries after the last start: {left:?}"
    );
}
