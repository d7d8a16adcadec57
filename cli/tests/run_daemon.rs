//! `keywheel run` under a fake clock (the debug-build hook KEYWHEEL_FAKE_NOW_FILE: the daemon
//! reads "now" from a file the test rewrites), so that hours of rotations, faults and clock
//! steps take seconds: the main key vanishing and coming back, a key file removed, a reload
//! command that fails, an output directory that becomes read-only (a read-only bind mount in
//! the daemon's own mount namespace when root, a mode 0555 directory otherwise), a clock
//! stepped back and
//! forward, a target that cannot get its first keys (READY=1 held back), a missing HAProxy
//! socket; `status`, `check` and the metrics file must show each breakage. Expected keys come
//! from the independent Python references (hashlib), never from keywheel.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::daemon::{Daemon, notify_listener};
use common::stek::{Query, StekFixture, files, reference};
use common::*;
use serde_json::Value;

/// A multiple of 3600 (and so of 60 and 20): the fake clock starts near it.
const BASE: u64 = 1_700_006_400;
const TFO_INTERVAL: u64 = 20;
const STEK_INTERVAL: u64 = 60;

/// The fake clock: a file holding the unix time, replaced atomically.
struct FakeNow {
    path: PathBuf,
}

impl FakeNow {
    fn new(dir: &Path, t: u64) -> FakeNow {
        let n = FakeNow {
            path: dir.join("now"),
        };
        n.set(t);
        n
    }

    fn set(&self, t: u64) {
        let tmp = self.path.with_extension("tmp");
        fs::write(&tmp, format!("{t}\n")).unwrap();
        fs::rename(&tmp, &self.path).unwrap();
    }
}

/// Every datagram until one holds `line` (returned: all datagrams seen).
fn notes_until(sock: &UnixDatagram, line: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let mut buf = [0u8; 512];
        let n = sock
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {line:?} on NOTIFY_SOCKET ({e}); got {got:?}"));
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let found = text.lines().any(|l| l == line || l.starts_with(line));
        got.push(text);
        if found {
            return got;
        }
    }
}

/// `keywheel ARGS` with a clean environment: (exit code, stdout, stderr).
fn kw(args: &[&str]) -> (i32, String, String) {
    let r = keywheel(args);
    (r.code.unwrap_or(-1), r.stdout, r.stderr)
}

fn status_json(config: &Path, t: u64) -> Value {
    let (code, out, err) = kw(&[
        "status",
        "--config",
        config.to_str().unwrap(),
        "--json",
        "--time",
        &t.to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn target<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name} in {status}"))
}

fn check(config: &Path, t: u64, extra: &[&str]) -> (i32, String) {
    let t = t.to_string();
    let mut args = vec!["check", "--config", config.to_str().unwrap(), "--time", &t];
    args.extend_from_slice(extra);
    let (code, out, err) = kw(&args);
    assert_eq!(err, "", "check writes one line on stdout only");
    assert_eq!(out.lines().count(), 1, "{out}");
    (code, out)
}

/// Waits until the metrics file has every line of `want`.
fn wait_metrics(path: &Path, want: &[String]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if want.iter().all(|w| text.lines().any(|l| l == w)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "metrics lack {:?}:\n{text}",
            want.iter()
                .filter(|w| !text.lines().any(|l| l == *w))
                .collect::<Vec<_>>()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// The fingerprint of a TFO primary key, by Python's hashlib (the recipe of
/// core/src/fingerprint.rs): blake2b(key16, digest_size=8, person=b"keywheel.tfofp").
fn python_tfo_fingerprint(procfs_text: &str) -> String {
    let script = "import hashlib,sys; t=sys.argv[1]; k=bytes.fromhex(t[:35].replace('-',''));\
                  print(hashlib.blake2b(k, digest_size=8, person=b'keywheel.tfofp').hexdigest())";
    let out = Command::new("python3")
        .args(["-c", script, procfs_text])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The node of the fault scenario: TFO, nginx (with a reload command that fails while FLAG
/// exists) and Traffic Server (in a directory that can be made read-only).
struct Node {
    f: StekFixture,
    config: PathBuf,
    procfs: String,
}

impl Node {
    fn new() -> Node {
        let f = StekFixture::new();
        let procfs = f.write_key("procfs", SENTINEL, 0o600);
        fs::create_dir(f.path("nginx")).unwrap();
        fs::create_dir(f.path("ro")).unwrap();
        let config = f.path("keywheel.toml");
        let reload = format!(
            "[ ! -e {flag} ] && echo \"$KEYWHEEL_COUNTER\" >> {log}",
            flag = f.arg("FLAG"),
            log = f.arg("reload.log")
        );
        fs::write(
            &config,
            format!(
                "main_key = \"{key}\"\nmetrics_file = \"{metrics}\"\n\
                 [tfo]\ninterval = {TFO_INTERVAL}\nprocfs = \"{procfs}\"\n\
                 [[stek]]\nformat = \"nginx\"\nlabel = \"www\"\ninterval = {STEK_INTERVAL}\n\
                 out = \"{nginx}\"\nreload = '{reload}'\n\
                 [[stek]]\nformat = \"ats\"\nlabel = \"www\"\ninterval = {STEK_INTERVAL}\n\
                 keep = 2\nout = \"{ats}\"\n",
                key = f.key(),
                metrics = f.arg("keywheel.prom"),
                nginx = f.arg("nginx"),
                ats = f.arg("ro/ats.key"),
            ),
        )
        .unwrap();
        Node { f, config, procfs }
    }

    fn metrics(&self) -> PathBuf {
        self.f.path("keywheel.prom")
    }

    /// Asserts every target holds the reference keys of time `t` (TFO: of `tfo_t`).
    fn assert_keys(&self, t: u64, tfo_t: u64) {
        let tfo = python_text(&test_key(), TFO_INTERVAL, tfo_t);
        assert_eq!(
            String::from_utf8_lossy(&fs::read(&self.procfs).unwrap()),
            String::from_utf8_lossy(&procfs_bytes(&tfo)),
            "TFO keys of {tfo_t}"
        );
        let want = reference(&[
            Query::new("nginx", "www", STEK_INTERVAL, 1, t),
            Query::new("ats", "www", STEK_INTERVAL, 2, t),
        ]);
        let c = t / STEK_INTERVAL;
        for (rel, bytes) in files(&want[0]) {
            let rel = rel.replace(&format!("keys.{c}/"), "current/");
            assert_eq!(
                fs::read(self.f.path("nginx").join(&rel)).unwrap(),
                bytes,
                "nginx {rel} of {t}"
            );
        }
        assert_eq!(
            fs::read(self.f.path("ro/ats.key")).unwrap(),
            files(&want[1])[""],
            "ats keys of {t}"
        );
    }

    fn reloads(&self) -> Vec<u64> {
        fs::read_to_string(self.f.path("reload.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect()
    }
}

/// Makes the directory `dir` read-only for the daemon `pid`: a read-only bind mount in the
/// daemon's private mount namespace (root), or mode 0555 (others). Returns how to undo it.
fn make_read_only(pid: u32, dir: &Path) -> Box<dyn Fn()> {
    let d = dir.to_str().unwrap().to_owned();
    if is_root() {
        let ns = |args: &[&str]| {
            let pid = pid.to_string();
            let mut full = vec!["-t", pid.as_str(), "-m", "--"];
            full.extend_from_slice(args);
            let out = Command::new("nsenter").args(&full).output().unwrap();
            assert!(out.status.success(), "nsenter {full:?}: {out:?}");
        };
        ns(&["mount", "--bind", &d, &d]);
        ns(&["mount", "-o", "remount,bind,ro", &d]);
        Box::new(move || {
            let pid = pid.to_string();
            let out = Command::new("nsenter")
                .args(["-t", &pid, "-m", "--", "umount", &d])
                .output()
                .unwrap();
            assert!(out.status.success(), "umount: {out:?}");
        })
    } else {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
        let dir = dir.to_owned();
        Box::new(move || fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap())
    }
}

/// The daemon of `node` under the fake clock, as root in its own mount namespace.
fn spawn(node: &Node, now: &FakeNow, notify: &str) -> Daemon {
    let mut cmd = if is_root() {
        let mut c = command("unshare");
        c.args(["-m", "--propagation", "private", "--", KEYWHEEL]);
        c
    } else {
        command(KEYWHEEL)
    };
    cmd.args([
        "run",
        "--config",
        node.config.to_str().unwrap(),
        "--verbose",
    ])
    .env("KEYWHEEL_FAKE_NOW_FILE", &now.path)
    .env("NOTIFY_SOCKET", notify)
    .stdout(Stdio::null());
    Daemon::spawn_command(cmd)
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn faults_and_clock_steps_are_survived_and_seen() {
    let node = Node::new();
    let f = &node.f;
    let (sock, env) = notify_listener(None, &f.path("notify.sock"));
    let t0 = BASE + 30;
    let now = FakeNow::new(f.dir.path(), t0);
    let mut d = spawn(&node, &now, &env);
    let key = f.key();
    let config = node.config.as_path();
    let c0 = t0 / STEK_INTERVAL;

    // a. The first keys of every target, then READY=1 (with a STATUS= line).
    let notes = notes_until(&sock, "READY=1");
    assert!(
        notes.concat().contains("STATUS=3 targets up to date"),
        "{notes:?}"
    );
    node.assert_keys(t0, t0);
    assert_eq!(node.reloads(), [c0]);
    let st = status_json(config, t0);
    let nginx_name = hex(&files(
        &reference(&[Query::new("nginx", "www", STEK_INTERVAL, 1, t0)])[0],
    )[&format!("keys.{c0}/0.key")][..16]);
    for name in ["tfo", "nginx", "ats"] {
        assert_eq!(target(&st, name)["state"], "fresh", "{st}");
        assert_eq!(
            target(&st, name)["fingerprint"],
            target(&st, name)["expected_fingerprint"]
        );
    }
    assert_eq!(target(&st, "nginx")["fingerprint"], nginx_name.as_str());
    assert_eq!(
        target(&st, "tfo")["fingerprint"],
        python_tfo_fingerprint(&python_text(&test_key(), TFO_INTERVAL, t0)).as_str()
    );
    let (code, out) = check(config, t0, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("KEYWHEEL OK - 3 of 3 targets fresh (tfo, nginx, ats) | "),
        "{out}"
    );
    wait_metrics(
        &node.metrics(),
        &[
            "keywheel_ready 1".into(),
            "keywheel_target_up{target=\"tfo\"} 1".into(),
            "keywheel_target_up{target=\"nginx\"} 1".into(),
            format!("keywheel_current_counter{{target=\"nginx\"}} {c0}"),
            format!(
                "keywheel_next_rotation_time_seconds{{target=\"ats\"}} {}",
                (c0 + 1) * STEK_INTERVAL
            ),
        ],
    );

    // b. The main key vanishes before a rotation: every target keeps its keys, says so and
    //    retries in 2 s; check is CRITICAL, the metrics count the errors.
    fs::remove_file(&key).unwrap();
    let t1 = BASE + STEK_INTERVAL + 3;
    now.set(t1);
    for name in ["tfo", "nginx", "ats"] {
        let want = format!(
            "error: {name}: cannot open main key file {key}: No such file or directory; \
             keeping the installed keys; retrying in 2 s"
        );
        d.wait_line(Duration::from_secs(10), |l| l == want);
    }
    node.assert_keys(t0, t0);
    let st = status_json(config, t1);
    assert!(
        st["main_key"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot open main key file")
    );
    let (code, out) = check(config, t1, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with("KEYWHEEL CRITICAL - 0 of 3 targets OK; main key: cannot open"),
        "{out}"
    );
    wait_metrics(
        &node.metrics(),
        &[
            "keywheel_errors_total{target=\"nginx\",kind=\"main_key\"} 1".into(),
            "keywheel_errors_total{target=\"tfo\",kind=\"main_key\"} 1".into(),
            "keywheel_target_up{target=\"ats\"} 0".into(),
            "keywheel_target_has_keys{target=\"ats\"} 1".into(),
        ],
    );
    d.assert_running();

    // c. It comes back: the retry 2 s later installs the keys of that time.
    f.write_key("main.key", &test_key(), 0o600);
    now.set(t1 + 2);
    d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with(&format!("info: ats: ticket keys for unix time {}:", t1 + 2))
    });
    node.assert_keys(t1 + 2, t1 + 2);
    wait_metrics(
        &node.metrics(),
        &["keywheel_target_up{target=\"nginx\"} 1".into()],
    );
    assert_eq!(node.reloads(), [c0, c0 + 1]);

    // Someone removes a key file: check is CRITICAL at once; the next rotation writes it
    // again (below).
    fs::remove_file(f.path("ro/ats.key")).unwrap();
    let (code, out) = check(config, t1 + 2, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("; ats CRITICAL: key file missing | "), "{out}");
    assert_eq!(
        target(&status_json(config, t1 + 2), "ats")["state"],
        "missing"
    );

    // d. The reload command fails: reported, retried, counted; the keys are written anyway.
    fs::write(f.path("FLAG"), "").unwrap();
    let t2 = BASE + 2 * STEK_INTERVAL + 3;
    now.set(t2);
    d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with(&format!("info: ats: ticket keys for unix time {t2}:"))
    });
    node.assert_keys(t2, t2);
    let failed = d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with("error: nginx: reload")
    });
    assert!(
        failed.ends_with("exited with status 1; retrying in 2 s"),
        "{failed}"
    );
    wait_metrics(
        &node.metrics(),
        &[
            "keywheel_errors_total{target=\"nginx\",kind=\"reload\"} 1".into(),
            "keywheel_target_up{target=\"nginx\"} 0".into(),
        ],
    );
    fs::remove_file(f.path("FLAG")).unwrap();
    now.set(t2 + 2);
    d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with("info: nginx: reload command") && l.ends_with("succeeded")
    });
    assert_eq!(node.reloads(), [c0, c0 + 1, c0 + 2]);

    // e. The Traffic Server directory becomes read-only: that target keeps its keys and
    //    retries; nginx and TFO go on; check warns, then (past the grace period) is critical.
    let undo = make_read_only(d.child.id(), &f.path("ro"));
    let t3 = BASE + 3 * STEK_INTERVAL + 3;
    now.set(t3);
    let error = d.wait_line(Duration::from_secs(10), |l| l.starts_with("error: ats: "));
    let why = if is_root() {
        "Read-only file system"
    } else {
        "Permission denied"
    };
    assert!(
        error.contains(why) && error.ends_with("; keeping the installed keys; retrying in 2 s"),
        "{error}"
    );
    d.wait_seen(Duration::from_secs(10), |l| {
        l.starts_with(&format!("info: nginx: ticket keys for unix time {t3}:"))
    });
    // Half a minute later (TFO rotated, the directory is still read-only): the next retry
    // fails too.
    now.set(t3 + 30);
    d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with("error: ats: ") && l.ends_with("retrying in 4 s")
    });
    let st = status_json(config, t3 + 30);
    assert_eq!(target(&st, "ats")["state"], "stale", "{st}");
    assert_eq!(target(&st, "ats")["stale_seconds"], 33);
    assert_eq!(target(&st, "nginx")["state"], "fresh");
    assert_eq!(target(&st, "tfo")["state"], "fresh");
    let (code, out) = check(config, t3 + 30, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(
            "KEYWHEEL WARNING - 2 of 3 targets OK; ats WARNING: keys stale for 33 s (rotation \
             overdue) | "
        ),
        "{out}"
    );
    assert!(out.contains("'ats_stale'=33s;10;300;0"), "{out}");
    let (code, out) = check(config, t3 + 30, &["--grace", "20"]);
    assert_eq!(code, 2, "{out}");
    wait_metrics(
        &node.metrics(),
        &[
            "keywheel_errors_total{target=\"ats\",kind=\"write\"} 2".into(),
            "keywheel_target_up{target=\"ats\"} 0".into(),
            "keywheel_target_up{target=\"nginx\"} 1".into(),
        ],
    );
    undo();
    now.set(t3 + 40);
    d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with(&format!(
            "info: ats: ticket keys for unix time {}:",
            t3 + 40
        ))
    });
    node.assert_keys(t3 + 40, t3 + 40);

    // f. The clock is stepped back (to t0): every target is recomputed at once.
    now.set(t0);
    d.wait_line(Duration::from_secs(10), |l| {
        l == format!(
            "info: the clock was stepped (now unix time {t0}): recomputing the keys of every \
             target"
        )
    });
    d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with(&format!("info: ats: ticket keys for unix time {t0}:"))
    });
    node.assert_keys(t0, t0);
    wait_metrics(&node.metrics(), &["keywheel_clock_steps_total 1".into()]);

    // g. And forward by two hours: every target is due at once.
    let t4 = t0 + 7200;
    now.set(t4);
    d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with(&format!("info: ats: ticket keys for unix time {t4}:"))
    });
    node.assert_keys(t4, t4);
    let (code, out) = check(config, t4, &[]);
    assert_eq!(code, 0, "{out}");
    let lines = d.terminate();
    assert!(!lines.iter().any(|l| l.contains("FATAL")), "{lines:#?}");
}

/// A target whose first keys cannot be written (its directory is missing) is retried; the
/// others are served at once; READY=1 waits for it (STATUS= says why), and comes when the
/// directory appears. `run --once` fails meanwhile.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn ready_waits_for_every_target() {
    let f = StekFixture::new();
    let (sock, env) = notify_listener(None, &f.path("notify.sock"));
    let procfs = f.write_key("procfs", SENTINEL, 0o600);
    let config = f.path("keywheel.toml");
    fs::write(
        &config,
        format!(
            "main_key = \"{key}\"\n[tfo]\ninterval = 20\nprocfs = \"{procfs}\"\n\
             [[stek]]\nname = \"late\"\nformat = \"openssl\"\nlabel = \"www\"\ninterval = 60\n\
             out = \"{out}\"\n",
            key = f.key(),
            out = f.arg("later/openssl.key"),
        ),
    )
    .unwrap();
    let t0 = BASE + 10;
    let now = FakeNow::new(f.dir.path(), t0);
    let (code, _, err) = kw(&["run", "--config", config.to_str().unwrap(), "--once"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error: late: "), "{err}");
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", config.to_str().unwrap()])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now.path)
        .env("NOTIFY_SOCKET", &env);
    let mut d = Daemon::spawn_command(cmd);
    let error = d.wait_line(Duration::from_secs(10), |l| l.starts_with("error: late: "));
    assert!(
        error.contains(&format!(
            "output directory {} does not exist or cannot be reached (out {})",
            f.arg("later"),
            f.arg("later/openssl.key")
        )) && error.ends_with("; retrying in 2 s"),
        "{error}"
    );
    assert_eq!(
        fs::read(&procfs).unwrap(),
        procfs_bytes(&python_text(&test_key(), 20, t0)),
        "the TFO target is served meanwhile"
    );
    let notes = notes_until(&sock, "STATUS=");
    assert_eq!(
        notes,
        ["STATUS=waiting for the first keys of late (retrying; see the log)"]
    );
    fs::create_dir(f.path("later")).unwrap();
    now.set(t0 + 2);
    let notes = notes_until(&sock, "READY=1");
    assert_eq!(notes, ["READY=1\nSTATUS=2 targets up to date"]);
    let want = reference(&[Query::new("openssl", "www", 60, 1, t0 + 2)]);
    assert_eq!(
        fs::read(f.path("later/openssl.key")).unwrap(),
        files(&want[0])[""]
    );
    d.terminate();
}

/// A HAProxy target whose admin socket is missing: the file is written (READY=1 is sent:
/// HAProxy reads the file when it starts), the push is retried and counted, status reports
/// the socket error and check warns.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn missing_haproxy_socket_is_retried_and_reported() {
    let f = StekFixture::new();
    let (sock, env) = notify_listener(None, &f.path("notify.sock"));
    let config = f.path("keywheel.toml");
    let admin = f.arg("admin.sock");
    fs::write(
        &config,
        format!(
            "main_key = \"{key}\"\nmetrics_file = \"{m}\"\n[[stek]]\nformat = \"haproxy\"\n\
             label = \"www\"\ninterval = 60\nout = \"{out}\"\nhaproxy_socket = \"{admin}\"\n",
            key = f.key(),
            m = f.arg("m.prom"),
            out = f.arg("haproxy.keys"),
        ),
    )
    .unwrap();
    let t0 = BASE + 10;
    let now = FakeNow::new(f.dir.path(), t0);
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", config.to_str().unwrap()])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now.path)
        .env("NOTIFY_SOCKET", &env);
    let mut d = Daemon::spawn_command(cmd);
    let error = d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with("error: haproxy: ")
    });
    assert!(
        error.starts_with(&format!(
            "error: haproxy: cannot connect to HAProxy at {admin}: No such file or directory"
        )) && error.ends_with("; retrying in 2 s"),
        "{error}"
    );
    let notes = notes_until(&sock, "READY=1");
    assert_eq!(
        notes,
        ["READY=1\nSTATUS=keys installed; failing, retrying: haproxy (haproxy)"]
    );
    now.set(t0 + 2);
    d.wait_line(Duration::from_secs(10), |l| {
        l.starts_with("error: haproxy: cannot connect")
    });
    wait_metrics(
        &f.path("m.prom"),
        &["keywheel_errors_total{target=\"haproxy\",kind=\"haproxy\"} 2".into()],
    );
    let st = status_json(&config, t0 + 2);
    let h = target(&st, "haproxy");
    assert_eq!(h["state"], "fresh");
    assert!(
        h["haproxy"]["error"]
            .as_str()
            .unwrap()
            .contains("No such file"),
        "{h}"
    );
    let (code, out) = check(&config, t0 + 2, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("haproxy WARNING: cannot check HAProxy: cannot connect"),
        "{out}"
    );
    d.terminate();
}

/// lighttpd takes keys on its own clock: the daemon wakes at keywheel's publication times
/// (SPEC §4.4: W(n) = 64·floor((n·I − 60) / 64) − 32), not at the boundary, and writes the
/// next key there, with that time as its mtime; at the boundary it writes nothing.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn lighttpd_daemon_wakes_at_its_publication_times() {
    use std::os::unix::fs::MetadataExt;
    let f = StekFixture::new();
    let interval = 3600;
    let t0 = BASE + 100; // interval c = BASE / 3600, early
    let c = t0 / interval;
    let answer = &reference(&[Query::new("lighttpd", "www", interval, 1, t0)])[0];
    let publish = answer["publish"].as_u64().unwrap();
    let after = &reference(&[Query::new("lighttpd", "www", interval, 1, publish)])[0];
    let publish_next = (((c + 2) * interval - 60) / 64 * 64) - 32;
    assert_eq!(publish, ((c + 1) * interval - 60) / 64 * 64 - 32);
    let now = FakeNow::new(f.dir.path(), t0);
    let out = f.path("lighttpd.stek");
    let mut cmd = command(KEYWHEEL);
    cmd.args([
        "stek",
        "--format",
        "lighttpd",
        "--label",
        "www",
        "--main-key",
        &f.key(),
        "--out",
        out.to_str().unwrap(),
        "--verbose",
    ])
    .env("KEYWHEEL_FAKE_NOW_FILE", &now.path)
    .stdout(Stdio::null());
    let mut d = Daemon::spawn_command(cmd);
    let sleep = |t: u64| format!("info: sleeping until unix time {t}.000 ");
    let within = Duration::from_secs(20);
    let line = sleep(publish);
    d.wait_line(within, |l| l.starts_with(&line));
    assert_eq!(fs::read(&out).unwrap(), files(answer)[""]);
    // At W(c + 1): key c + 1, mtime W(c + 1), then sleep until W(c + 2).
    now.set(publish);
    let line = sleep(publish_next);
    d.wait_line(within, |l| l.starts_with(&line));
    assert_eq!(
        fs::read(&out).unwrap(),
        unhex(after["next"].as_str().unwrap())
    );
    let mtime = fs::metadata(&out).unwrap().mtime();
    assert_eq!(u64::try_from(mtime).unwrap(), publish);
    let lines = d.terminate();
    let writes = lines.iter().filter(|l| l.contains("; wrote ")).count();
    assert_eq!(writes, 2, "{lines:#?}");
}
