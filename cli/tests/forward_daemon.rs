//! Forward-secure mode in the daemon (docs/forward-secrecy.md): a clock behind the state keeps
//! the installed keys, logs it, counts it in the metrics and makes `check` CRITICAL, and a
//! one-shot run exits 1 with the message; seed rollover appends the previous state's keys as
//! decrypt-only keys. Expected keys come from the independent Python reference
//! (tests/cross/forward_independent.py).

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::daemon::Daemon;
use common::{KEYWHEEL, command, keywheel, run};

const I: u64 = 600;
const N: u64 = 2_900_000;

/// The nginx record (name, HMAC, AES) of the reference's forward-secure key `n` of label "www".
fn nginx_record(seed: &[u8], n: u64) -> Vec<u8> {
    common::unhex(&common::forward_reference(&format!(
        "k = fi.fs_ticket_key(bytes.fromhex('{}'), b'www', {I}, 'aes256', {n})\n\
         print((k.name + k.hmac + k.aes).hex())",
        common::hex(seed)
    )))
}

/// A new state at `start` (and its seed, for the reference).
fn new_state(path: &Path, start: u64) -> Vec<u8> {
    let seed_dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let seed_file = seed_dir.path().join("seed");
    keywheel(&[
        "state",
        "new",
        path.to_str().unwrap(),
        "--start",
        &start.to_string(),
        "--write-seed",
        seed_file.to_str().unwrap(),
    ])
    .assert_ok();
    fs::read(&seed_file).unwrap()
}

fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn a_clock_behind_the_state_keeps_the_keys_and_is_reported() {
    let dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let work = dir.path().join("work");
    let nginx = dir.path().join("nginx");
    fs::create_dir(&nginx).unwrap();
    let given = dir.path().join("given.state");
    let seed = new_state(&given, (N - 1) * I - 1000);
    let metrics = dir.path().join("keywheel.prom");
    let config = dir.path().join("keywheel.toml");
    fs::write(
        &config,
        format!(
            "state = \"{}\"\nstate_dir = \"{}\"\nmetrics_file = \"{}\"\n\
             [[stek]]\nname = \"web\"\nformat = \"nginx\"\nlabel = \"www\"\ninterval = {I}\n\
             keep = 1\nout = \"{}\"\n",
            given.display(),
            work.display(),
            metrics.display(),
            nginx.display()
        ),
    )
    .unwrap();
    let now_file = dir.path().join("now");
    let t1 = (N + 3) * I + 10;
    let t0 = N * I + 10;
    fs::write(&now_file, t1.to_string()).unwrap();
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", config.to_str().unwrap(), "-v"])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now_file);
    let mut d = Daemon::spawn_command(cmd);
    d.wait_line(Duration::from_secs(20), |l| {
        l.contains(&format!(
            "advanced the forward-secure state to {}",
            (N + 2) * I
        ))
    });
    // The keys written are the reference's keys of N + 3 (current first, next, previous).
    let conf = fs::read_to_string(nginx.join("nginx.conf")).unwrap();
    for (i, n) in [N + 3, N + 4, N + 2].into_iter().enumerate() {
        let file = nginx.join(format!("current/{i}.key"));
        assert_eq!(
            fs::read(&file).unwrap(),
            nginx_record(&seed, n),
            "{}",
            file.display()
        );
        assert!(conf.contains(&format!("{};", file.display())), "{conf}");
    }
    let installed = read_tree(&nginx);
    // The clock steps back behind the state's start.
    fs::write(&now_file, t0.to_string()).unwrap();
    let line = d.wait_line(Duration::from_secs(20), |l| l.contains("cannot derive"));
    assert!(
        line.contains(&format!(
            "the key for counter {} (interval {I}) starts at {}",
            N - 1,
            (N - 1) * I
        )) && line.contains("it was punctured")
            && line.contains("the clock is behind the state")
            && line.contains("keeping the installed keys"),
        "{line}"
    );
    std::thread::sleep(Duration::from_millis(500));
    d.assert_running();
    assert_eq!(read_tree(&nginx), installed, "the installed keys changed");
    let prom = fs::read_to_string(&metrics).unwrap();
    assert!(
        prom.contains("keywheel_errors_total{target=\"web\",kind=\"state\"} 1"),
        "{prom}"
    );
    // check: CRITICAL, with the reason.
    let mut cmd = command(KEYWHEEL);
    cmd.args([
        "check",
        "--config",
        config.to_str().unwrap(),
        "--time",
        &t0.to_string(),
    ]);
    let r = run(cmd);
    assert_eq!(r.code, Some(2), "{r:#?}");
    assert!(
        r.stdout.starts_with("KEYWHEEL CRITICAL - ") && r.stdout.contains("it was punctured"),
        "{}",
        r.stdout
    );
    // status: root id and start of the working copy.
    let mut cmd = command(KEYWHEEL);
    cmd.args([
        "status",
        "--config",
        config.to_str().unwrap(),
        "--time",
        &t0.to_string(),
    ]);
    let r = run(cmd);
    let id = common::forward_reference(&format!(
        "print(fi.root_id(bytes.fromhex('{}')).hex())",
        common::hex(&seed)
    ));
    assert!(
        r.stdout.contains(&format!(
            "forward-secure state root id {id}, start {} (",
            (N + 2) * I
        )) && r.stdout.contains("from the working copy"),
        "{}",
        r.stdout
    );
    // The JSON form: the states, and no main key (there is none in forward-secure mode).
    let mut cmd = command(KEYWHEEL);
    cmd.args([
        "status",
        "--json",
        "--config",
        config.to_str().unwrap(),
        "--time",
        &t0.to_string(),
    ]);
    let r = run(cmd);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("status --json");
    assert_eq!(doc["states"][0]["root_id"], serde_json::json!(id), "{doc}");
    assert!(doc.get("main_key").is_none(), "{doc}");
    d.terminate();
    // A one-shot run at that time: exit 1 with the message, nothing written.
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", config.to_str().unwrap(), "--once"])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now_file);
    let r = run(cmd);
    assert_eq!(r.code, Some(1), "{r:#?}");
    assert!(r.stderr.contains("it was punctured"), "{}", r.stderr);
    assert_eq!(read_tree(&nginx), installed);
}

#[test]
fn seed_rollover_appends_the_previous_states_keys() {
    let dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let new = dir.path().join("new.state");
    let old = dir.path().join("old.state");
    let s = (N - 2) * I;
    let new_seed = new_state(&new, s);
    let old_seed = new_state(&old, s);
    let out = dir.path().join("nginx");
    fs::create_dir(&out).unwrap();
    let t = N * I + 10;
    let r = keywheel(&[
        "stek",
        "--format",
        "nginx",
        "--label",
        "www",
        "--interval",
        &I.to_string(),
        "--state",
        new.to_str().unwrap(),
        "--previous-state",
        old.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--time",
        &t.to_string(),
    ]);
    r.assert_ok();
    let window = [N, N + 1, N - 1];
    for (i, n) in window.into_iter().enumerate() {
        let f = out.join(format!("current/{i}.key"));
        assert_eq!(fs::read(&f).unwrap(), nginx_record(&new_seed, n), "{i}");
        let f = out.join(format!("current/{}.key", i + 3));
        assert_eq!(
            fs::read(&f).unwrap(),
            nginx_record(&old_seed, n),
            "{}",
            i + 3
        );
    }
    assert!(!out.join("current/6.key").exists());
    // --previous-state without a state is a usage error.
    let r = keywheel(&[
        "stek",
        "--format",
        "nginx",
        "--label",
        "www",
        "--main-key",
        new.to_str().unwrap(),
        "--previous-state",
        old.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--once",
    ]);
    assert_eq!(r.code, Some(2), "{r:#?}");
}
