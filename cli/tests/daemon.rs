//! The daemons over real time (interval 10: a TFO wake-up every 5 s, a ticket-key rotation
//! every 10 s), as tofurkey's slow itest: wake times (unix time % 5 == 2, 5 s apart; ticket keys
//! at unix time % 10 == 2), keys of every write (Python's hashlib), READY=1 on $NOTIFY_SOCKET
//! after the first write, death by SIGTERM, survival of a vanished main key file, and (`keywheel
//! stek`) a reload command run after every rotation, failures of the reload command and of
//! HAProxy's socket retried without stopping the daemon; `keywheel run` serving TFO and two
//! ticket-key targets from one wake-up loop. The scenarios run in parallel threads of one
//! test, so the whole file takes about 23 s whatever the number of test threads.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::thread;
use std::time::Duration;

use common::daemon::{Daemon, expect_ready, notify_listener};
use common::stek::{FakeHaproxy, Query, Ring, StekFixture, files, lines, reference};
use common::*;

const INTERVAL: u64 = 10;
const RUN_FOR: Duration = Duration::from_secs(23);

/// Parses "... [T] KEYS" key lines and "Sleeping until ... at W" lines, in order.
fn writes_and_wakes(lines: &[String]) -> (Vec<(u64, String)>, Vec<u64>) {
    let mut writes = Vec::new();
    let mut wakes = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("info: Generated ASCII TFO keys for procfs write: [")
        {
            let (t, keys) = rest.split_once("] ").unwrap();
            writes.push((t.parse().unwrap(), keys.to_owned()));
        } else if let Some(w) =
            line.strip_prefix("info: Sleeping until next half-interval wakeup at ")
        {
            wakes.push(w.parse().unwrap());
        }
    }
    (writes, wakes)
}

/// The checks of tofurkey's t/output_checker.py, plus the wake-up arithmetic of the TFO
/// contract: every announced wake is the next half-interval boundary + 2 s, the daemon wakes
/// then, at unix time % 5 == 2, 5 s apart; every key pair is the one hashlib computes.
fn check_schedule_and_keys(lines: &[String], procfs_now: &[u8]) {
    let (writes, wakes) = writes_and_wakes(lines);
    assert!(
        writes.len() >= 5,
        "only {} writes: {lines:#?}",
        writes.len()
    );
    assert!(
        wakes.len() == writes.len(),
        "each write must be followed by a sleep: {lines:#?}"
    );
    for (i, &(t, _)) in writes.iter().enumerate() {
        let (_, _, boundary) = spec_counters(INTERVAL, t);
        assert_eq!(wakes[i], boundary + 2, "wake after the write at {t}");
        if i > 0 {
            assert_eq!(t, wakes[i - 1], "woke at {t}, announced {}", wakes[i - 1]);
            assert_eq!(t % 5, 2, "periodic write at {t}");
            if i > 1 {
                assert_eq!(t - writes[i - 1].0, 5, "periodic writes 5 s apart");
            }
        }
    }
    let key = test_key();
    let queries: Vec<(&[u8], u64, u64)> = writes
        .iter()
        .map(|(t, _)| (&key[..], INTERVAL, *t))
        .collect();
    let expected = python_texts(&queries);
    for ((t, got), want) in writes.iter().zip(&expected) {
        assert_eq!(got, want, "keys at {t}");
    }
    assert_eq!(procfs_now, procfs_bytes(&writes.last().unwrap().1));
}

/// tofurkey's slow itest: `tofurkey -i 10 -k KEY -P FILE -V` for 23 s, READY=1 on an abstract
/// socket.
fn tofurkey_daemon() {
    let f = Fixture::new();
    let name = format!("keywheel-test-{}-tofurkey", std::process::id());
    let (sock, env) = notify_listener(Some(&name), &f.path("unused"));
    let mut d = Daemon::spawn(
        TOFURKEY,
        &["-i", "10", "-k", &f.key(), "-P", &f.procfs(), "-V"],
        &env,
    );
    expect_ready(&sock);
    // READY=1 comes after the first write.
    let first = f.procfs_content();
    assert_ne!(first, SENTINEL, "READY=1 before the first write");
    thread::sleep(RUN_FOR.saturating_sub(d.started.elapsed()));
    d.assert_running();
    let lines = d.terminate();
    // Exact line shapes of tofurkey 1.3.4 -V.
    let t0: u64 = lines[0]
        .strip_prefix("info: Setting keys for unix time ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(lines[1].starts_with(&format!(
        "info: Generated ASCII TFO keys for procfs write: [{t0}] "
    )));
    assert_eq!(
        lines[2],
        "info: Will set keys at each half-interval, when unix_time % 5 ~= 2"
    );
    for pair in lines[3..].chunks(3) {
        assert!(
            pair[0].starts_with("info: Sleeping until next half-interval wakeup at "),
            "{lines:#?}"
        );
        if pair.len() == 3 {
            assert!(
                pair[1].starts_with("info: Setting keys for unix time "),
                "{lines:#?}"
            );
            assert!(pair[2].starts_with("info: Generated ASCII TFO keys for procfs write: ["));
        }
    }
    let (writes, _) = writes_and_wakes(&lines);
    assert!(first == procfs_bytes(&writes[0].1) || first == procfs_bytes(&writes[1].1));
    check_schedule_and_keys(&lines, &f.procfs_content());
}

/// The same daemon through `keywheel tfo`, READY=1 on a socket file.
fn keywheel_daemon() {
    let f = Fixture::new();
    let (sock, env) = notify_listener(None, &f.path("notify.sock"));
    let d = Daemon::spawn(
        KEYWHEEL,
        &[
            "tfo",
            "--interval",
            "10",
            "--main-key",
            &f.key(),
            "--procfs",
            &f.procfs(),
            "--print-keys",
            "--verbose",
        ],
        &env,
    );
    expect_ready(&sock);
    assert_ne!(
        f.procfs_content(),
        SENTINEL,
        "READY=1 before the first write"
    );
    thread::sleep(RUN_FOR.saturating_sub(d.started.elapsed()));
    let lines = d.terminate();
    // Counters in keywheel's own lines follow the spec arithmetic.
    let mut counted = 0;
    for line in &lines {
        if let Some(rest) = line.strip_prefix("info: TFO keys for unix time ") {
            let (t, counters) = rest.split_once(": ").unwrap();
            let (p, b, _) = spec_counters(INTERVAL, t.parse().unwrap());
            assert_eq!(counters, format!("primary counter {p}, backup counter {b}"));
            counted += 1;
        }
    }
    assert!(counted >= 5);
    check_schedule_and_keys(&lines, &f.procfs_content());
}

/// Deleting the main key file while the daemon runs: an error at the next wake, the installed
/// keys stay, the daemon keeps running and recovers when the file is back.
fn vanished_key(binary: &str, args: &[&str], error_line: &dyn Fn(&str) -> String) {
    let f = Fixture::new();
    let (sock, env) = notify_listener(None, &f.path("notify.sock"));
    let key = f.key();
    let procfs = f.procfs();
    // "KEY" and "PROCFS" in `args` stand for the fixture's files.
    let full: Vec<String> = args
        .iter()
        .map(|a| match *a {
            "KEY" => key.clone(),
            "PROCFS" => procfs.clone(),
            other => other.to_owned(),
        })
        .collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let mut d = Daemon::spawn(binary, &full, &env);
    expect_ready(&sock);
    let installed = f.procfs_content();
    assert_eq!(installed.len(), 72);
    fs::remove_file(f.path("main.key")).unwrap();

    let expected_error = error_line(&key);
    d.wait_line(Duration::from_secs(12), |l| l.starts_with("error: "));
    assert_eq!(d.seen.last().unwrap(), &expected_error, "{:#?}", d.seen);
    // Still running, keys unchanged; the next sleep is scheduled.
    d.wait_line(Duration::from_secs(2), |l| {
        l.starts_with("info: Sleeping until ")
    });
    d.assert_running();
    assert_eq!(f.procfs_content(), installed);

    // Put the key back: the next wake installs the keys for its time again.
    f.write("main.key", &test_key(), 0o600);
    let line = d.wait_line(Duration::from_secs(12), |l| {
        l.starts_with("info: Setting keys for unix time ")
            || l.starts_with("info: TFO keys for unix time ")
    });
    let t: u64 = line
        .rsplit_once("unix time ")
        .unwrap()
        .1
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    d.wait_line(Duration::from_secs(5), |l| {
        l.starts_with("info: Sleeping until ")
    });
    assert_eq!(
        f.procfs_content(),
        procfs_bytes(&python_text(&test_key(), INTERVAL, t))
    );
    let lines = d.terminate();
    assert!(!lines.iter().any(|l| l.starts_with("FATAL")), "{lines:#?}");
}

fn tofurkey_vanished_key() {
    vanished_key(
        TOFURKEY,
        &["-v", "-i", "10", "-k", "KEY", "-P", "PROCFS"],
        &|key| {
            format!(
                "error: Could not read key file {key}; keeping the installed keys and retrying \
                 at the next wake-up"
            )
        },
    );
}

fn keywheel_vanished_key() {
    vanished_key(
        KEYWHEEL,
        &[
            "tfo",
            "-v",
            "--interval",
            "10",
            "--main-key",
            "KEY",
            "--procfs",
            "PROCFS",
        ],
        &|key| {
            format!(
                "error: cannot open main key file {key}: No such file or directory; keeping the \
                 installed keys; retrying in 2 s"
            )
        },
    );
}

/// "info: ticket keys for unix time T: current counter C ..." → (T, C).
fn stek_write(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("info: ticket keys for unix time ")?;
    let (t, rest) = rest.split_once(": current counter ")?;
    let c = rest.split(' ').next()?;
    Some((t.parse().ok()?, c.parse().ok()?))
}

/// `keywheel stek` as a daemon: the keys are written at start, READY=1 follows the first
/// write, then rotations happen 2.02 s after every interval boundary (unix time % 10 == 2, one
/// counter further each time), each followed by the reload command; the file always holds the
/// reference keys of the last write.
fn stek_daemon() {
    let f = StekFixture::new();
    let (sock, env) = notify_listener(None, &f.path("notify.sock"));
    let out = f.arg("ats.key");
    let log = f.arg("reload.log");
    let reload = format!("echo \"$KEYWHEEL_COUNTER\" >> {log}");
    let d = Daemon::spawn(
        KEYWHEEL,
        &[
            "stek",
            "--format",
            "ats",
            "--label",
            "www",
            "--main-key",
            &f.key(),
            "--out",
            &out,
            "--interval",
            "10",
            "--keep",
            "2",
            "--reload",
            &reload,
            "--verbose",
        ],
        &env,
    );
    expect_ready(&sock);
    let at_ready = fs::read(&out).expect("READY=1 before the first write");
    thread::sleep(RUN_FOR.saturating_sub(d.started.elapsed()));
    let lines = d.terminate();
    let writes: Vec<(u64, u64)> = lines.iter().filter_map(|l| stek_write(l)).collect();
    let sleeps: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("info: sleeping until unix time "))
        .collect();
    assert!(writes.len() >= 3, "{lines:#?}");
    assert_eq!(sleeps.len(), writes.len(), "{lines:#?}");
    for (i, &(t, c)) in writes.iter().enumerate() {
        assert_eq!(c, t / INTERVAL, "{lines:#?}");
        // Next wake: the next boundary + 2.02 s.
        assert!(
            sleeps[i].starts_with(&format!("{}.020 (", (c + 1) * INTERVAL + 2)),
            "{lines:#?}"
        );
        if i > 0 {
            assert_eq!(t % INTERVAL, 2, "rotation at {t}: {lines:#?}");
            assert_eq!(c, writes[i - 1].1 + 1, "{lines:#?}");
        }
    }
    // The reload command ran once after each write, in order, with the written counter.
    let ran: Vec<u64> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let counters: Vec<u64> = writes.iter().map(|w| w.1).collect();
    assert!(
        ran == counters || ran == counters[..counters.len() - 1],
        "reloads {ran:?}, writes {counters:?}"
    );
    let queries: Vec<Query> = writes
        .iter()
        .map(|&(t, _)| Query::new("ats", "www", INTERVAL, 2, t))
        .collect();
    let want = reference(&queries);
    assert_eq!(at_ready, files(&want[0])[""]);
    assert_eq!(fs::read(&out).unwrap(), files(want.last().unwrap())[""]);
}

/// A daemon whose reload command always fails and whose HAProxy socket is missing at first:
/// both are logged and retried (2 s later), the daemon keeps running, and once HAProxy is there
/// (a fake admin socket holding old keys) it gets exactly [previous, current, next], then one
/// push per rotation.
fn stek_daemon_failures_are_retried() {
    let f = StekFixture::new();
    let (sock, env) = notify_listener(None, &f.path("notify.sock"));
    let out = f.arg("haproxy.keys");
    let admin = f.path("admin.sock");
    let log = f.arg("reload.log");
    let reload = format!("echo x >> {log}; exit 3");
    let mut d = Daemon::spawn(
        KEYWHEEL,
        &[
            "stek",
            "--format",
            "haproxy",
            "--label",
            "www",
            "--main-key",
            &f.key(),
            "--out",
            &out,
            "--interval",
            "10",
            "--haproxy-socket",
            admin.to_str().unwrap(),
            "--reload",
            &reload,
        ],
        &env,
    );
    expect_ready(&sock);
    let refused = format!(
        "error: cannot connect to HAProxy at {}: No such file or directory ({out} is written: \
         HAProxy loads it when it starts or reloads); retrying in 2 s",
        admin.display()
    );
    let failed = format!("error: reload command `{reload}` exited with status 3; retrying in 2 s");
    let first = d.wait_line(Duration::from_secs(5), |l| l.starts_with("error: "));
    assert!(
        first == refused || first.starts_with("error: cannot connect"),
        "{first}"
    );
    // "; retrying in 2 s", or "; retrying at the next rotation" when the daemon started less
    // than 2 s before an interval boundary.
    let failed_prefix = &failed[..failed.find("; retrying").unwrap()];
    d.wait_line(Duration::from_secs(5), |l| l.starts_with(failed_prefix));
    // A retry of both, 2 s later (or the next rotation, whichever comes first).
    d.wait_line(Duration::from_secs(12), |l| {
        l.starts_with("error: cannot connect")
    });
    d.assert_running();

    // HAProxy appears, holding keys of long ago.
    let old = lines(&reference(&[Query::new("haproxy", "www", INTERVAL, 1, 1_000_000)])[0]);
    let fake = FakeHaproxy::start(&admin, vec![Ring::new(&out, &old)]);
    let synced = d.wait_line(Duration::from_secs(12), |l| {
        l.starts_with("info: HAProxy at ")
    });
    assert!(
        synced.ends_with("(previous, current, next); pushed 3 keys"),
        "{synced}"
    );
    // Then a rotation pushes one key.
    let rotated = d.wait_line(Duration::from_secs(12), |l| {
        l.starts_with("info: HAProxy at ") && l.ends_with("pushed 1 key")
    });
    // The reload command runs (and fails) after the push; wait for its report.
    d.wait_line(Duration::from_secs(5), |l| {
        l.starts_with(&failed[..failed.find("; retrying").unwrap()])
    });
    let lines = d.terminate();
    let (t, _) = lines
        .iter()
        .rev()
        .filter_map(|l| stek_write(l))
        .next()
        .unwrap();
    let want = lines_at(t);
    assert_eq!(fake.held(0), want, "{rotated}");
    assert_eq!(fs::read_to_string(&out).unwrap(), want.join("\n") + "\n");
    // Every run of the reload command was reported, and it was retried within an interval:
    // more runs than counters written.
    let runs = fs::read_to_string(&log).unwrap().lines().count();
    let reported = lines
        .iter()
        .filter(|l| l.starts_with(&failed[..failed.find("; retrying").unwrap()]))
        .count();
    let mut counters: Vec<u64> = lines
        .iter()
        .filter_map(|l| stek_write(l))
        .map(|w| w.1)
        .collect();
    counters.dedup();
    assert_eq!(runs, reported, "{lines:#?}");
    assert!(
        runs > counters.len(),
        "{runs} reload runs for {counters:?}: {lines:#?}"
    );
    // After the start, retries never fall between a boundary and the rotation 2.02 s after it.
    for (t, _) in lines.iter().filter_map(|l| stek_write(l)).skip(1) {
        assert!(t % INTERVAL >= 2, "write at {t}: {lines:#?}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("FATAL")));
}

fn lines_at(t: u64) -> [String; 3] {
    lines(&reference(&[Query::new("haproxy", "www", INTERVAL, 1, t)])[0])
}

/// The main key vanishes under a running `keywheel stek`: the error is logged, the installed
/// keys stay, and 2 s later (the retry) the keys are written again once the file is back.
fn stek_vanished_key() {
    let f = StekFixture::new();
    let (sock, env) = notify_listener(None, &f.path("notify.sock"));
    let out = f.arg("openssl.key");
    let key = f.key();
    let mut d = Daemon::spawn(
        KEYWHEEL,
        &[
            "stek",
            "--format",
            "openssl",
            "--label",
            "www",
            "--main-key",
            &key,
            "--out",
            &out,
            "--interval",
            "10",
        ],
        &env,
    );
    expect_ready(&sock);
    let installed = fs::read(&out).unwrap();
    fs::remove_file(&key).unwrap();
    let error = d.wait_line(Duration::from_secs(12), |l| l.starts_with("error: "));
    assert_eq!(
        error,
        format!(
            "error: cannot open main key file {key}: No such file or directory; keeping the \
             installed keys; retrying in 2 s"
        )
    );
    assert_eq!(fs::read(&out).unwrap(), installed);
    d.assert_running();
    f.write_key("main.key", &test_key(), 0o600);
    let line = d.wait_line(Duration::from_secs(5), |l| stek_write(l).is_some());
    let (t, _) = stek_write(&line).unwrap();
    let want = reference(&[Query::new("openssl", "www", INTERVAL, 1, t)]);
    assert_eq!(fs::read(&out).unwrap(), files(&want[0])[""]);
    d.terminate();
}

/// Every datagram until one has a "READY=1" line (`keywheel run` adds STATUS= lines).
fn expect_ready_line(sock: &UnixDatagram) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).expect("no READY=1 on NOTIFY_SOCKET");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let ready = text.lines().any(|l| l == "READY=1");
        got.push(text);
        if ready {
            return got;
        }
    }
}

/// "info: NAME: ticket keys for unix time T: current counter C ..." → (NAME, T, C).
fn run_stek_write(line: &str) -> Option<(String, u64, u64)> {
    let rest = line.strip_prefix("info: ")?;
    let (name, rest) = rest.split_once(": ")?;
    let (t, c) = stek_write(&format!("info: {rest}"))?;
    Some((name.to_owned(), t, c))
}

/// `keywheel run` with TFO (interval 10: writes at unix time % 5 == 2) and two ticket-key
/// targets (interval 10: rotations at unix time % 10 == 2) in one process: READY=1 once all
/// have keys, one sleep per wake-up until the earliest target's wake time, every write's keys
/// those of the reference, metrics that say so.
fn run_daemon_real_time() {
    let f = StekFixture::new();
    let (sock, env) = notify_listener(None, &f.path("notify.sock"));
    let procfs = f.write_key("procfs", SENTINEL, 0o600);
    fs::create_dir(f.path("nginx")).unwrap();
    let config = f.path("keywheel.toml");
    fs::write(
        &config,
        format!(
            "main_key = \"{key}\"\nmetrics_file = \"{metrics}\"\n[tfo]\ninterval = 10\n\
             procfs = \"{procfs}\"\n[[stek]]\nformat = \"nginx\"\nlabel = \"www\"\n\
             interval = 10\nout = \"{nginx}\"\n[[stek]]\nname = \"ats-www\"\n\
             format = \"ats\"\nlabel = \"www\"\ninterval = 10\nkeep = 2\nout = \"{ats}\"\n",
            key = f.key(),
            metrics = f.arg("keywheel.prom"),
            nginx = f.arg("nginx"),
            ats = f.arg("ats.key"),
        ),
    )
    .unwrap();
    let d = Daemon::spawn(
        KEYWHEEL,
        &["run", "--config", config.to_str().unwrap(), "--verbose"],
        &env,
    );
    let notes = expect_ready_line(&sock);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("STATUS=3 targets up to date")),
        "{notes:?}"
    );
    assert_ne!(
        fs::read(&procfs).unwrap(),
        SENTINEL,
        "READY=1 before TFO keys"
    );
    assert!(f.path("ats.key").exists() && f.path("nginx/nginx.conf").exists());
    thread::sleep(RUN_FOR.saturating_sub(d.started.elapsed()));
    let lines = d.terminate();
    let metrics = fs::read_to_string(f.path("keywheel.prom")).unwrap();
    // One wake-up loop: every sleep is to a TFO wake time (unix time % 5 == 2, 2.02 s after a
    // half-interval boundary), and names the targets due then.
    let sleeps: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("info: sleeping until unix time "))
        .collect();
    assert!(sleeps.len() >= 4, "{lines:#?}");
    for s in &sleeps {
        let secs: u64 = s.split('.').next().unwrap().parse().unwrap();
        assert_eq!(secs % 5, 2, "{s}");
        assert!(s.contains(".020 ("), "{s}");
        let due = s.rsplit_once(" for ").unwrap().1;
        if secs % 10 == 2 {
            assert_eq!(due, "tfo, nginx, ats-www", "{s}");
        } else {
            assert_eq!(due, "tfo", "{s}");
        }
    }
    // TFO: the keys of every write, as in the tofurkey daemon tests.
    let tfo_writes: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("info: tfo: TFO keys for unix time "))
        .map(|r| r.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert!(tfo_writes.len() >= 4, "{lines:#?}");
    for (i, t) in tfo_writes.iter().enumerate().skip(1) {
        assert_eq!(t % 5, 2, "TFO write at {t}");
        if i > 1 {
            assert_eq!(t - tfo_writes[i - 1], 5, "{lines:#?}");
        }
    }
    let last_tfo = *tfo_writes.last().unwrap();
    assert_eq!(
        fs::read(&procfs).unwrap(),
        procfs_bytes(&python_text(&test_key(), INTERVAL, last_tfo))
    );
    // Ticket keys: rotations at unix time % 10 == 2, one counter further each time.
    for name in ["nginx", "ats-www"] {
        let writes: Vec<(u64, u64)> = lines
            .iter()
            .filter_map(|l| run_stek_write(l))
            .filter(|(n, _, _)| n == name)
            .map(|(_, t, c)| (t, c))
            .collect();
        assert!(writes.len() >= 2, "{name}: {lines:#?}");
        for (i, &(t, c)) in writes.iter().enumerate() {
            assert_eq!(c, t / INTERVAL);
            if i > 0 {
                assert_eq!(t % INTERVAL, 2, "{name} rotation at {t}");
                assert_eq!(c, writes[i - 1].1 + 1);
            }
        }
        let (t, c) = *writes.last().unwrap();
        let (format, keep) = if name == "nginx" {
            ("nginx", 1)
        } else {
            ("ats", 2)
        };
        let want = files(&reference(&[Query::new(format, "www", INTERVAL, keep, t)])[0]);
        if name == "nginx" {
            for (rel, bytes) in &want {
                let rel = rel.replace(&format!("keys.{c}/"), "current/");
                assert_eq!(&fs::read(f.path("nginx").join(rel)).unwrap(), bytes);
            }
        } else {
            assert_eq!(fs::read(f.path("ats.key")).unwrap(), want[""]);
        }
        // Metrics at the end: up, counter, next rotation of the last write.
        for line in [
            format!("keywheel_target_up{{target=\"{name}\"}} 1"),
            format!("keywheel_current_counter{{target=\"{name}\"}} {c}"),
            format!(
                "keywheel_next_rotation_time_seconds{{target=\"{name}\"}} {}",
                (c + 1) * INTERVAL
            ),
            format!("keywheel_errors_total{{target=\"{name}\",kind=\"write\"}} 0"),
        ] {
            assert!(metrics.lines().any(|l| l == line), "no {line}:\n{metrics}");
        }
    }
    assert!(metrics.contains("keywheel_ready 1\n"), "{metrics}");
    assert!(!lines.iter().any(|l| l.starts_with("error")), "{lines:#?}");
}

#[test]
fn daemons_over_23_seconds() {
    let scenarios: [(&str, fn()); 8] = [
        ("run_daemon_real_time", run_daemon_real_time),
        ("tofurkey_daemon", tofurkey_daemon),
        ("keywheel_daemon", keywheel_daemon),
        ("tofurkey_vanished_key", tofurkey_vanished_key),
        ("keywheel_vanished_key", keywheel_vanished_key),
        ("stek_daemon", stek_daemon),
        (
            "stek_daemon_failures_are_retried",
            stek_daemon_failures_are_retried,
        ),
        ("stek_vanished_key", stek_vanished_key),
    ];
    let handles: Vec<_> = scenarios
        .into_iter()
        .map(|(name, f)| {
            (
                name,
                thread::Builder::new().name(name.into()).spawn(f).unwrap(),
            )
        })
        .collect();
    let failed: Vec<&str> = handles
        .into_iter()
        .filter_map(|(name, h)| h.join().is_err().then_some(name))
        .collect();
    assert!(failed.is_empty(), "failed scenarios: {failed:?}");
}
