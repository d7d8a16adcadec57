//! The daemons over real time (interval 10: a TFO wake-up every 5 s, a ticket-key rotation
//! every 10 s), as tofurkey's slow itest: wake times (unix time % 5 == 2, 5 s apart; ticket keys
//! at unix time % 10 == 2), keys of every write (Python's hashlib), READY=1 on $NOTIFY_SOCKET
//! after the first write, death by SIGTERM, survival of a vanished main key file, and (`keywheel
//! stek`) a reload command run after every rotation, failures of the reload command and of
//! HAProxy's socket retried without stopping the daemon. The scenarios run in parallel threads
//! of one test, so the whole file takes about 23 s whatever the number of test threads.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use common::stek::{FakeHaproxy, Query, Ring, StekFixture, files, lines, reference};
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const INTERVAL: u64 = 10;
const RUN_FOR: Duration = Duration::from_secs(23);
const SIGTERM: i32 = 15;

/// A running daemon with its stderr lines arriving on a channel.
struct Daemon {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    started: Instant,
}

impl Daemon {
    fn spawn(binary: &str, args: &[&str], notify_socket: &str) -> Daemon {
        let mut cmd = command(binary);
        cmd.args(args)
            .env("NOTIFY_SOCKET", notify_socket)
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Daemon {
            child,
            lines: rx,
            seen: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Collects lines until one satisfies `pred` (returned), failing after `within`.
    fn wait_line(&mut self, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(e) => panic!("no expected line ({e}); stderr so far: {:#?}", self.seen),
            }
        }
    }

    fn assert_running(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "daemon exited; stderr: {:#?}",
            self.seen
        );
    }

    /// Sends SIGTERM, checks the daemon died by it, and returns all its stderr lines.
    fn terminate(mut self) -> Vec<String> {
        self.assert_running();
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                self.child.wait().unwrap();
                panic!("SIGTERM did not end the daemon; stderr: {:#?}", self.seen);
            }
            thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.signal(), Some(SIGTERM), "{status:?}");
        let rest: Vec<String> = self.lines.iter().collect();
        self.seen.extend(rest);
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Daemon {
    /// A failed scenario must not leave its daemon running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A datagram socket bound where $NOTIFY_SOCKET will point.
fn notify_listener(abstract_name: Option<&str>, path: &std::path::Path) -> (UnixDatagram, String) {
    let (sock, env) = match abstract_name {
        Some(name) => {
            let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            (UnixDatagram::bind_addr(&addr).unwrap(), format!("@{name}"))
        }
        None => (
            UnixDatagram::bind(path).unwrap(),
            path.to_str().unwrap().to_owned(),
        ),
    };
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    (sock, env)
}

fn expect_ready(sock: &UnixDatagram) {
    let mut buf = [0u8; 64];
    let n = sock.recv(&mut buf).expect("no READY=1 on NOTIFY_SOCKET");
    assert_eq!(&buf[..n], b"READY=1");
}

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
    d.wait_line(Duration::from_secs(5), |l| l == failed);
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

#[test]
fn daemons_over_23_seconds() {
    let scenarios: [(&str, fn()); 7] = [
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
