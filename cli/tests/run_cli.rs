//! The operations commands without a long-running daemon: `check-config` (errors naming file,
//! line, key and allowed values), `run --once`, main-key rollover (decrypt-only keys of the
//! previous/next main key in nginx and Traffic Server files, none for HAProxy), `status`
//! agreement across two nodes (fingerprints) without key bytes, `check` exit codes, and
//! `gen-secret`. Expected keys come from the independent Python references.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::stek::{Query, StekFixture, files, reference};
use common::*;
use serde_json::Value;

const T: u64 = 1_700_006_430;

fn kw(args: &[&str]) -> (i32, String, String) {
    let r = keywheel(args);
    (r.code.unwrap_or(-1), r.stdout, r.stderr)
}

fn other_key(byte: u8) -> Vec<u8> {
    (0..32u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(byte))
        .collect()
}

fn write_config(f: &StekFixture, text: &str) -> String {
    let path = f.path("keywheel.toml");
    fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn check_config_names_file_line_key_and_allowed_values() {
    let f = StekFixture::new();
    let key = f.key();
    let cases: Vec<(String, String)> = vec![
        (
            format!("main_key = \"{key}\"\n[tfo]\ninterval = 86401\n"),
            "keywheel.toml:3: tfo.interval: interval 86401 is odd; it must be even and in \
             10..=604800"
                .to_owned(),
        ),
        (
            format!("main_key = \"{key}\"\n[tfo]\nintervall = 10\n"),
            "keywheel.toml:3: unknown field `intervall`, expected `interval` or `procfs`"
                .to_owned(),
        ),
        (
            format!("main_key = \"{key}\"\nmain_keys = 1\n[tfo]\n"),
            "keywheel.toml:2: unknown field `main_keys`, expected one of `main_key`, \
             `main_key_credential`, `previous_main_key`, `previous_main_key_credential`, \
             `next_main_key`, `next_main_key_credential`, `state`, `state_credential`, \
             `previous_state`, `previous_state_credential`, `next_state`, \
             `next_state_credential`, `state_dir`, `allow_insecure_key_file`, \
             `metrics_file`, `tfo`, `stek`"
                .to_owned(),
        ),
        (
            format!(
                "main_key = \"{key}\"\n\n[[stek]]\nformat = \"haproxy\"\nlabel = \"w\"\n\
                 out = \"/run/x.keys\"\nkeep = 3\n"
            ),
            "keywheel.toml:7: stek[0].keep: keep 3 does not fit format haproxy: HAProxy uses \
             exactly 3 keys (previous, current, next), so keep must be 1"
                .to_owned(),
        ),
        (
            format!(
                "main_key = \"{key}\"\n[[stek]]\nformat = \"ats\"\nlabel = \"w\"\n\
                 out = \"/run/x.key\"\ninterval = 86400\nkeep = 7\n"
            ),
            "keywheel.toml:7: stek[0].keep: keep 7 with interval 86400 accepts tickets up to \
             691200 s old; (keep + 1) * interval must be at most 604800 (7 days, RFC 8446), so \
             keep must be in 0..=6"
                .to_owned(),
        ),
        (
            format!(
                "main_key = \"{key}\"\n[[stek]]\nformat = \"ats\"\nlabel = \"w\"\n\
                 out = \"/run/x.key\"\nhaproxy_socket = \"/run/h.sock\"\n"
            ),
            "keywheel.toml:6: stek[0].haproxy_socket: haproxy_socket needs format haproxy or \
             haproxy48, not ats"
                .to_owned(),
        ),
        (
            format!(
                "main_key = \"{key}\"\n[[stek]]\nformat = \"ats\"\nlabel = \"\"\nout = \"/x\"\n"
            ),
            "keywheel.toml:4: stek[0].label: label is 0 bytes; it must be 1..=64 bytes of UTF-8"
                .to_owned(),
        ),
        (
            format!("main_key = \"{key}\"\n[[stek]]\nformat = \"ats\"\nlabel = \"w\"\n"),
            "keywheel.toml:2: missing field `out`".to_owned(),
        ),
        (
            format!(
                "main_key = \"{key}\"\n[[stek]]\nformat = \"ats\"\nlabel = \"w\"\nout = \"/x\"\n\
                 group = \"no-such-group-kw\"\n"
            ),
            "keywheel.toml:6: stek[0].group: group 'no-such-group-kw' does not exist".to_owned(),
        ),
        (
            format!("main_key = \"{key}\"\nmain_key_credential = \"kw\"\n[tfo]\n"),
            "keywheel.toml:2: main_key_credential: set only one of main_key (a file) and \
             main_key_credential (a systemd credential)"
                .to_owned(),
        ),
        (
            format!("main_key = \"{key}\"\nprevious_main_key = \"{key}\"\n[tfo]\n"),
            "keywheel.toml: previous_main_key is the same as main_key; during a rollover it \
             names the other key"
                .to_owned(),
        ),
        (
            format!("main_key = \"{key}\"\n[tfo]\ninterval = \"ten\"\n"),
            "keywheel.toml:3: invalid type: string \"ten\", expected i64".to_owned(),
        ),
    ];
    for (text, want) in cases {
        let path = write_config(&f, &text);
        let (code, out, err) = kw(&["check-config", &path]);
        assert_eq!(code, 2, "{text}\n{err}");
        assert_eq!(out, "");
        let dir = f.dir.path().to_str().unwrap();
        assert_eq!(err, format!("error: {dir}/{want}\n"), "{text}");
        // `run` refuses it the same way, before doing anything.
        let (code, _, err2) = kw(&["run", "--config", &path, "--once"]);
        assert_eq!((code, &err2), (2, &err));
        // `check` says UNKNOWN.
        let (code, out, _) = kw(&["check", "--config", &path]);
        assert_eq!(code, 3);
        assert_eq!(out, format!("KEYWHEEL UNKNOWN - {dir}/{want}\n"));
    }
    let (code, _, err) = kw(&["check-config", &f.arg("missing.toml")]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "error: cannot read the configuration file {}: No such file or directory\n",
            f.arg("missing.toml")
        )
    );
    let (code, out, _) = kw(&["check", "--config", &f.arg("missing.toml"), "--bogus"]);
    assert_eq!(
        code, 3,
        "a monitoring plugin's usage error is UNKNOWN: {out}"
    );
}

#[test]
fn check_config_summarises_a_valid_file() {
    let f = StekFixture::new();
    let path = write_config(
        &f,
        &format!(
            "main_key = \"{}\"\nprevious_main_key = \"/etc/keywheel/old.key\"\n[tfo]\n\
             [[stek]]\nformat = \"haproxy\"\nlabel = \"www\"\nout = \"/run/keywheel/h.keys\"\n\
             haproxy_socket = \"/run/haproxy/admin.sock\"\n",
            f.key()
        ),
    );
    let (code, out, err) = kw(&["check-config", &path]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "{path}: ok, 2 targets\n  main key           file {}\n  previous main key  file \
             /etc/keywheel/old.key (decrypt only)\n  tfo                interval 86400 s, \
             /proc/sys/net/ipv4/tcp_fastopen_key\n  haproxy            haproxy label \"www\", \
             interval 3600 s, keep 1, /run/keywheel/h.keys, HAProxy socket \
             /run/haproxy/admin.sock (rollover: HAProxy holds exactly 3 keys (previous, \
             current, next), so tickets made with the other main key are not resumed here \
             (clients make one full handshake))\n",
            f.key()
        )
    );
}

/// The files of `format` for `main` at T, renumbered for nginx from `first`.
fn expected(format: &str, main: &[u8], keep: u64, first: usize) -> Vec<(String, Vec<u8>)> {
    let mut q = Query::new(format, "www", 3600, keep, T);
    q.main = main.to_vec();
    let c = T / 3600;
    files(&reference(&[q])[0])
        .into_iter()
        .map(|(rel, bytes)| {
            let rel = match rel.strip_prefix(&format!("keys.{c}/")) {
                Some(file) => {
                    let i: usize = file.strip_suffix(".key").unwrap().parse().unwrap();
                    format!("current/{}.key", first + i)
                }
                None => rel,
            };
            (rel, bytes)
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn rollover_adds_decrypt_only_keys_where_the_format_can_hold_them() {
    let f = StekFixture::new();
    let new = test_key();
    let old = other_key(1);
    let next = other_key(2);
    let old_path = f.write_key("old.key", &old, 0o600);
    let next_path = f.write_key("next.key", &next, 0o600);
    fs::create_dir(f.path("nginx")).unwrap();
    let path = write_config(
        &f,
        &format!(
            "main_key = \"{}\"\nprevious_main_key = \"{old_path}\"\n\
             next_main_key = \"{next_path}\"\n\
             [[stek]]\nformat = \"nginx\"\nlabel = \"www\"\nout = \"{}\"\n\
             [[stek]]\nformat = \"ats\"\nlabel = \"www\"\nkeep = 2\nout = \"{}\"\n\
             [[stek]]\nformat = \"haproxy\"\nlabel = \"www\"\nout = \"{}\"\n",
            f.key(),
            f.arg("nginx"),
            f.arg("ats.key"),
            f.arg("haproxy.keys")
        ),
    );
    let mut cmd = command(KEYWHEEL);
    let now = f.path("now");
    fs::write(&now, T.to_string()).unwrap();
    cmd.args(["run", "--config", &path, "--once"])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now);
    let r = run(cmd);
    r.assert_ok();
    // HAProxy's 3-key ring and TFO cannot hold another main key's keys: said at start.
    assert!(
        r.stderr.contains(
            "info: haproxy: the previous main key is not used for format haproxy: HAProxy \
             holds exactly 3 keys (previous, current, next), so tickets made with the other \
             main key are not resumed here (clients make one full handshake)\n"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(
        "info: nginx: ticket keys for unix time 1700006430: current counter 472224 (accepted \
         472223..=472225 and the same window of the previous and next main key (decrypt \
         only)); wrote"
    ));
    // nginx: the main key's files first (0.key encrypts), then the previous key's window,
    // then the next key's; nginx.conf names all nine.
    let mut want = expected("nginx", &new, 1, 0);
    want.extend(expected("nginx", &old, 1, 3));
    want.extend(expected("nginx", &next, 1, 6));
    for (rel, bytes) in &want {
        assert_eq!(
            &fs::read(f.path("nginx").join(rel)).unwrap(),
            bytes,
            "{rel}"
        );
    }
    let conf = fs::read_to_string(f.path("nginx/nginx.conf")).unwrap();
    let lines: Vec<String> = (0..9)
        .map(|i| format!("ssl_session_ticket_key {}/current/{i}.key;", f.arg("nginx")))
        .collect();
    assert_eq!(conf, lines.join("\n") + "\n");
    assert!(!f.path("nginx/current/9.key").exists());
    // Traffic Server: the main key's records (the first encrypts), then the others'.
    let mut ats = expected("ats", &new, 2, 0)[0].1.clone();
    ats.extend(expected("ats", &old, 2, 0)[0].1.clone());
    ats.extend(expected("ats", &next, 2, 0)[0].1.clone());
    assert_eq!(fs::read(f.path("ats.key")).unwrap(), ats);
    // HAProxy: the main key's ring only.
    assert_eq!(
        fs::read(f.path("haproxy.keys")).unwrap(),
        expected("haproxy", &new, 1, 0)[0].1
    );
    // status sees the rollover keys (public names, with which main key) and calls it fresh.
    let (code, out, err) = kw(&[
        "status",
        "--config",
        &path,
        "--json",
        "--time",
        &T.to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let st: Value = serde_json::from_str(&out).unwrap();
    let nginx = &st["targets"][0];
    assert_eq!(nginx["state"], "fresh", "{st}");
    let mains: Vec<&str> = nginx["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["main_key"].as_str().unwrap())
        .collect();
    assert_eq!(
        mains,
        [
            "main", "main", "main", "previous", "previous", "previous", "next", "next", "next"
        ]
    );
    assert_eq!(nginx["fingerprint"], hex(&want[0].1[..16]).as_str());
    assert!(st["previous_main_key"]["fingerprint"].is_string());
    // `keywheel stek --previous-main-key` does the same for one target.
    let r = stek_cli(
        &f,
        "ats",
        &["--keep", "2", "--previous-main-key", &old_path],
    );
    let mut ats = expected("ats", &new, 2, 0)[0].1.clone();
    ats.extend(expected("ats", &old, 2, 0)[0].1.clone());
    assert_eq!(fs::read(f.path("stek-ats.key")).unwrap(), ats, "{r:?}");
    // A previous main key that cannot be read: nothing is written (run: exit 1 at start).
    fs::remove_file(&old_path).unwrap();
    let (code, _, err) = {
        let mut cmd = command(KEYWHEEL);
        cmd.args(["run", "--config", &path, "--once"])
            .env("KEYWHEEL_FAKE_NOW_FILE", &now);
        let r = run(cmd);
        (r.code.unwrap(), r.stdout, r.stderr)
    };
    assert_eq!(code, 1);
    let errors: Vec<&str> = err.lines().filter(|l| !l.starts_with("info: ")).collect();
    assert_eq!(
        errors,
        [format!(
            "error: cannot open previous main key file {old_path}: No such file or directory"
        )]
    );
    assert!(!err.contains("ticket keys for"), "{err}");
}

fn stek_cli(f: &StekFixture, format: &str, extra: &[&str]) -> Run {
    let out = f.arg(&format!("stek-{format}.key"));
    let mut args = vec!["stek", "--format", format, "--label", "www", "--main-key"];
    let key = f.key();
    args.push(&key);
    args.extend_from_slice(&["--out", &out, "--time", "1700006430"]);
    args.extend_from_slice(extra);
    let r = keywheel(&args);
    r.assert_ok();
    r
}

/// A node: a main key, TFO and nginx outputs, its config; keys written at T by `run --once`.
struct Node {
    f: StekFixture,
    config: String,
}

fn node(main: &[u8]) -> Node {
    let f = StekFixture::new();
    f.write_key("main.key", main, 0o600);
    f.write_key("procfs", SENTINEL, 0o600);
    fs::create_dir(f.path("nginx")).unwrap();
    let config = write_config(
        &f,
        &format!(
            "main_key = \"{}\"\n[tfo]\ninterval = 60\nprocfs = \"{}\"\n[[stek]]\n\
             format = \"nginx\"\nlabel = \"www\"\nout = \"{}\"\n",
            f.key(),
            f.arg("procfs"),
            f.arg("nginx")
        ),
    );
    let now = f.path("now");
    fs::write(&now, T.to_string()).unwrap();
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", &config, "--once"])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now);
    run(cmd).assert_ok();
    Node { f, config }
}

fn fingerprint_line(config: &str, t: u64) -> String {
    let (code, out, err) = kw(&["status", "--config", config, "--time", &t.to_string()]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .find(|l| l.starts_with("fingerprint "))
        .unwrap()
        .to_owned()
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn status_tells_whether_nodes_agree_and_never_shows_keys() {
    let a = node(&test_key());
    let b = node(&test_key());
    let c = node(&other_key(9));
    let fa = fingerprint_line(&a.config, T);
    assert_eq!(fa, fingerprint_line(&b.config, T), "same key, same keys");
    assert_ne!(fa, fingerprint_line(&c.config, T), "another main key");
    assert!(fa.starts_with("fingerprint tfo="), "{fa}");
    // A node far behind (its files are those of two hours earlier): it disagrees, and status
    // says why.
    let before = node(&test_key());
    let mut cmd = command(KEYWHEEL);
    let now = before.f.path("now");
    fs::write(&now, (T - 7200).to_string()).unwrap();
    cmd.args(["run", "--config", &before.config, "--once"])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now);
    run(cmd).assert_ok();
    let fb = fingerprint_line(&before.config, T);
    assert_ne!(fa, fb);
    let (code, out, _) = kw(&[
        "status",
        "--config",
        &before.config,
        "--time",
        &T.to_string(),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("nginx: WRONG; nginx label \"www\""), "{out}");
    // The same files one interval later than written are "stale" (rotation overdue).
    let (_, out, _) = kw(&[
        "status",
        "--config",
        &a.config,
        "--time",
        &(T + 3600 - 30 + 100).to_string(),
    ]);
    assert!(out.contains("nginx: STALE (for 100 s)"), "{out}");
    // No key bytes anywhere in the human or JSON output: only names (the first 16 bytes).
    let (_, json, _) = kw(&[
        "status",
        "--config",
        &a.config,
        "--json",
        "--time",
        &T.to_string(),
    ]);
    let (_, text, _) = kw(&["status", "--config", &a.config, "--time", &T.to_string()]);
    let key_files = expected("nginx", &test_key(), 1, 0);
    for (_, record) in &key_files {
        if record.len() == 80 {
            let secret = hex(&record[16..]);
            for chunk in secret.as_bytes().chunks(16) {
                let chunk = std::str::from_utf8(chunk).unwrap();
                assert!(
                    !json.contains(chunk) && !text.contains(chunk),
                    "key bytes shown"
                );
            }
        }
    }
    let tfo = python_text(&test_key(), 60, T);
    for group in tfo.split([',', '-']) {
        assert!(
            !json.contains(group) && !text.contains(group),
            "TFO key shown"
        );
    }
    let st: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        st["fingerprint"].as_str().unwrap(),
        fa.strip_prefix("fingerprint ").unwrap()
    );
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn check_reports_missing_keys_as_critical() {
    let a = node(&test_key());
    fs::remove_file(a.f.path("nginx/current/1.key")).unwrap();
    let (code, out, _) = kw(&["check", "--config", &a.config, "--time", &T.to_string()]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        out,
        "KEYWHEEL CRITICAL - 1 of 2 targets OK; nginx CRITICAL: key file missing | \
         'targets_ok'=1;;;0;2 'tfo_stale'=0s;10;300;0 'nginx_stale'=U;10;300;0\n"
    );
    // A corrupted file is wrong, also critical.
    let b = node(&test_key());
    fs::write(b.f.path("procfs"), b"0000").unwrap();
    let (code, out, _) = kw(&["check", "--config", &b.config, "--time", &T.to_string()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("tfo CRITICAL: installed keys are wrong"),
        "{out}"
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Python's hashlib fingerprint of a main key file (blake2b, key = its first 32 bytes,
/// person = "keywheel.mainfp", 8 bytes).
fn python_main_fingerprint(path: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; k=open(sys.argv[1],'rb').read()[:32]; \
             print(hashlib.blake2b(b'', digest_size=8, key=k, person=b'keywheel.mainfp').hexdigest())",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn gen_secret_writes_32_random_bytes_0600_and_never_overwrites() {
    let f = StekFixture::new();
    let path = f.path("new.key");
    // Even with a permissive umask the file is 0600.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 000; exec \"$0\" gen-secret \"$1\"", KEYWHEEL])
        .arg(&path);
    let r = run(cmd);
    r.assert_ok();
    let key = fs::read(&path).unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        r.stderr,
        format!(
            "info: wrote a new main key to {} (32 random bytes, mode 0600); fingerprint {}\n",
            path.display(),
            python_main_fingerprint(&path)
        )
    );
    assert!(!r.stderr.contains(&hex(&key)) && r.stdout.is_empty());
    // Refuses to overwrite; the key is untouched.
    let (code, _, err) = kw(&["gen-secret", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "error: {} exists; refusing to overwrite a main key (pass --force to replace it)\n",
            path.display()
        )
    );
    assert_eq!(fs::read(&path).unwrap(), key);
    // --force replaces it (a new random key), atomically: no temporary file is left.
    let (code, _, err) = kw(&["gen-secret", "--force", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let new = fs::read(&path).unwrap();
    assert_eq!(new.len(), 32);
    assert_ne!(new, key);
    assert_eq!(mode(&path), 0o600);
    let names: Vec<String> = fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".keywheel"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
    // Never through a symlink, never into a missing directory.
    std::os::unix::fs::symlink(f.path("elsewhere"), f.path("link.key")).unwrap();
    let (code, _, err) = kw(&["gen-secret", f.arg("link.key").as_str()]);
    assert_eq!(code, 1, "{err}");
    assert!(!f.path("elsewhere").exists());
    let (code, _, err) = kw(&["gen-secret", f.arg("no/such/dir.key").as_str()]);
    assert_eq!(code, 1);
    assert!(err.contains("No such file or directory"), "{err}");
    let (code, _, _) = kw(&["gen-secret"]);
    assert_eq!(code, 2);
}

/// `check` run as a user who can read the main key but not the installed key files (e.g. an
/// NRPE user): UNKNOWN (3), naming the error; `status` says "unknown", not "missing".
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn check_is_unknown_for_key_files_it_cannot_read() {
    if !is_root() {
        eprintln!("skipped: running `check` as another user needs root (setpriv)");
        return;
    }
    let a = node(&test_key());
    fs::set_permissions(a.f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&a.config, fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(a.f.key(), Some(65534), Some(65534)).unwrap();
    let as_nobody = |args: &[&str]| {
        let mut cmd = command("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", KEYWHEEL])
            .args(args);
        run(cmd)
    };
    let t = T.to_string();
    let r = as_nobody(&["check", "--config", &a.config, "--time", &t]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(
        r.stdout.starts_with(
            "KEYWHEEL UNKNOWN - 0 of 2 targets OK; tfo UNKNOWN: cannot compare the installed \
             keys: cannot read: Permission denied; nginx UNKNOWN: cannot compare the installed \
             keys: cannot stat: Permission denied"
        ),
        "{r:?}"
    );
    let r = as_nobody(&["status", "--config", &a.config, "--time", &t]);
    assert!(r.stdout.contains("tfo: UNKNOWN;"), "{r:?}");
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "KEYWHEEL_FAKE_NOW_FILE is a hook of debug builds; run without --release"
)]
fn lighttpd_and_h2o_targets_are_written_and_read_back() {
    let f = StekFixture::new();
    let config = write_config(
        &f,
        &format!(
            "main_key = \"{}\"\n\
             [[stek]]\nformat = \"lighttpd\"\nlabel = \"www\"\nout = \"{}\"\n\
             [[stek]]\nformat = \"h2o\"\nlabel = \"www\"\nout = \"{}\"\nkeep = 2\n",
            f.key(),
            f.arg("lighttpd.stek"),
            f.arg("h2o.yaml"),
        ),
    );
    let queries = [
        Query::new("lighttpd", "www", 3600, 1, T),
        Query::new("h2o", "www", 3600, 2, T),
    ];
    let answers = reference(&queries);
    let now = f.path("now");
    fs::write(&now, T.to_string()).unwrap();
    let mut cmd = command(KEYWHEEL);
    cmd.args(["run", "--config", &config, "--once"])
        .env("KEYWHEEL_FAKE_NOW_FILE", &now);
    run(cmd).assert_ok();
    assert_eq!(
        fs::read(f.path("lighttpd.stek")).unwrap(),
        files(&answers[0])[""]
    );
    assert_eq!(
        fs::read(f.path("h2o.yaml")).unwrap(),
        files(&answers[1])[""]
    );

    // status reads each file back: fresh, with the names of the keys in file order (the
    // record's name; h2o's entries, newest first), and which of them encrypts.
    let (code, json, err) = kw(&[
        "status",
        "--config",
        &config,
        "--json",
        "--time",
        &T.to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let st: Value = serde_json::from_str(&json).unwrap();
    let targets = st["targets"].as_array().unwrap();
    // The reference's names: the record's bytes 12..28; h2o's `- name:` lines (c+1 ..= c-2).
    let lighttpd_name = hex(&files(&answers[0])[""][12..28]);
    let h2o_text = String::from_utf8(files(&answers[1])[""].clone()).unwrap();
    let h2o_names: Vec<Value> = h2o_text
        .lines()
        .filter_map(|l| l.strip_prefix("- name: "))
        .map(|n| Value::from(n.to_owned()))
        .collect();
    assert_eq!(h2o_names.len(), 4);
    assert_eq!(targets[0]["format"], "lighttpd");
    assert_eq!(targets[0]["state"], "fresh", "{json}");
    assert_eq!(
        targets[0]["installed_names"],
        Value::from(vec![lighttpd_name.clone()])
    );
    assert_eq!(targets[0]["fingerprint"], Value::from(lighttpd_name));
    assert_eq!(targets[1]["format"], "h2o");
    assert_eq!(targets[1]["state"], "fresh", "{json}");
    assert_eq!(
        targets[1]["installed_names"],
        Value::from(h2o_names.clone())
    );
    assert_eq!(targets[1]["fingerprint"], h2o_names[1]);
    // One interval later with nothing rewritten: stale; a damaged file: wrong, and check fails.
    let later = (T + 3600).to_string();
    let (_, text, _) = kw(&["status", "--config", &config, "--time", &later]);
    assert!(text.contains("h2o: STALE"), "{text}");
    fs::write(f.path("h2o.yaml"), "- name: x\n").unwrap();
    let (_, text, _) = kw(&["status", "--config", &config, "--time", &T.to_string()]);
    assert!(text.contains("h2o: WRONG"), "{text}");
    let (code, _, _) = kw(&["check", "--config", &config, "--time", &T.to_string()]);
    assert_ne!(code, 0);
}
