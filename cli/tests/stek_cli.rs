//! `keywheel stek` (one-shot runs): every format's bytes against an independent Python
//! implementation (common/stek_reference.py), JSON, file modes, atomic replacement, the tmpfs
//! rule, dry runs, every bad input, the reload command and HAProxy's runtime API (a fake
//! admin socket with HAProxy 2.6's ring semantics).

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::stek::*;
use common::*;
use serde_json::Value;

/// A fake unix time in the middle of an hour: 2023-11-14T22:13:20Z.
const T: u64 = 1_700_000_000;

fn stek(args: &[&str]) -> Run {
    let mut all = vec!["stek"];
    all.extend_from_slice(args);
    keywheel(&all)
}

/// `--format F --label L --main-key K --out OUT` plus `extra`.
fn run_stek(f: &StekFixture, format: &str, label: &str, out: &str, extra: &[&str]) -> Run {
    let key = f.key();
    let mut args = vec![
        "--format",
        format,
        "--label",
        label,
        "--main-key",
        &key,
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    stek(&args)
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Where a format's output goes in a fixture.
fn out_name(format: &str) -> &'static str {
    match format {
        "nginx" | "nginx48" => "nginx",
        "haproxy" | "haproxy48" => "haproxy.keys",
        _ => "keys.bin",
    }
}

/// Checks the output of one run against the reference: bytes, modes, and (nginx) the whole
/// directory: `current` -> keys.<c>, the files, nginx.conf, nothing else.
fn check_output(f: &StekFixture, q: &Query, answer: &Value) {
    let want = files(answer);
    let out = f.path(out_name(&q.format));
    let c = q.now / q.interval;
    if q.format.starts_with("nginx") {
        let mut listing = vec![
            ".keywheel.lock".to_owned(),
            format!("current -> keys.{c}"),
            format!("keys.{c}/"),
            "nginx.conf".to_owned(),
        ];
        listing.extend(want.keys().cloned());
        listing.sort();
        // The set `current` named before stays one more rotation (a reader that followed
        // `current` just before the switch still finds its files); older ones are removed.
        let own = format!("keys.{c}/");
        let (previous, got): (Vec<String>, Vec<String>) = f
            .listing("nginx")
            .into_iter()
            .partition(|e| e.starts_with("keys.") && !e.starts_with(&own));
        let previous_dirs = previous.iter().filter(|e| e.ends_with('/')).count();
        assert!(previous_dirs <= 1, "older sets left: {previous:?}");
        assert_eq!(got, listing, "{q:?}");
        for (name, bytes) in &want {
            assert_eq!(&fs::read(out.join(name)).unwrap(), bytes, "{name} {q:?}");
            assert_eq!(mode(&out.join(name)), 0o600);
            let via_current = name.replace(&format!("keys.{c}/"), "current/");
            assert_eq!(&fs::read(out.join(via_current)).unwrap(), bytes);
        }
        assert_eq!(mode(&out.join(format!("keys.{c}"))), 0o700);
        let conf: String = (0..want.len())
            .map(|i| {
                format!(
                    "ssl_session_ticket_key {}/current/{i}.key;\n",
                    out.display()
                )
            })
            .collect();
        assert_eq!(fs::read_to_string(out.join("nginx.conf")).unwrap(), conf);
        assert_eq!(mode(&out.join("nginx.conf")), 0o600);
    } else {
        assert_eq!(fs::read(&out).unwrap(), want[""], "{q:?}");
        assert_eq!(mode(&out), 0o600);
    }
}

#[test]
fn every_format_matches_the_reference() {
    let long_label = "x".repeat(64);
    let mut queries = Vec::new();
    for format in SERVER_FORMATS {
        let haproxy = format.starts_with("haproxy");
        queries.push(Query::new(format, "www", 3600, 1, T));
        queries.push(Query::new(
            format,
            "ünïcode λ",
            86400,
            if haproxy { 1 } else { 3 },
            1_000_000,
        ));
        queries.push(Query::new(
            format,
            &long_label,
            10,
            if haproxy { 1 } else { 0 },
            100_000_000_000,
        ));
        // Key material longer than 32 bytes: only the first 32 count.
        let mut other = Query::new(format, "www", 7200, 1, T + 5000);
        other.main = (0u8..40).map(|i| i.wrapping_mul(37)).collect();
        queries.push(other);
    }
    let answers = reference(&queries);
    for (q, answer) in queries.iter().zip(&answers) {
        let f = StekFixture::new();
        let key = f.write_key("main.key", &q.main, 0o600);
        let out = f.arg(out_name(&q.format));
        let (interval, keep, now) = (
            q.interval.to_string(),
            q.keep.to_string(),
            q.now.to_string(),
        );
        let r = stek(&[
            "--format",
            &q.format,
            "--label",
            &q.label,
            "--main-key",
            &key,
            "--out",
            &out,
            "--interval",
            &interval,
            "--keep",
            &keep,
            "--time",
            &now,
        ]);
        r.assert_ok();
        let c = q.now / q.interval;
        let window = if matches!(q.format.as_str(), "apache" | "openssl") {
            format!("{c} only")
        } else {
            format!("{}..={}", c - q.keep, c + 1)
        };
        assert!(
            r.stderr.starts_with(&format!(
                "info: ticket keys for unix time {now}: current counter {c} (accepted {window}); \
                 wrote "
            )),
            "{r:#?}"
        );
        assert_eq!(r.stdout, "");
        check_output(&f, q, answer);
    }
}

#[test]
fn nginx_rotation_replaces_the_set_and_removes_older_ones() {
    let f = StekFixture::new();
    let out = f.arg("nginx");
    for (i, now) in [T, T + 3600, T + 3 * 3600, T + 3 * 3600].iter().enumerate() {
        let now_s = now.to_string();
        let keep = if i == 3 { "2" } else { "1" };
        run_stek(
            &f,
            "nginx48",
            "www",
            &out,
            &["--time", &now_s, "--keep", keep],
        )
        .assert_ok();
        let q = Query::new("nginx48", "www", 3600, keep.parse().unwrap(), *now);
        check_output(&f, &q, &reference1(&q));
    }
    // A relative --out still gives absolute paths in nginx.conf.
    let r = {
        let mut cmd = command(KEYWHEEL);
        cmd.current_dir(f.dir.path()).args([
            "stek",
            "--format",
            "nginx",
            "--label",
            "www",
            "--main-key",
            "main.key",
            "--out",
            "rel",
            "--time",
            "1700000000",
        ]);
        run(cmd)
    };
    r.assert_ok();
    assert_eq!(
        fs::read_to_string(f.path("rel/nginx.conf")).unwrap(),
        (0..3)
            .map(|i| format!(
                "ssl_session_ticket_key {}/current/{i}.key;\n",
                f.path("rel").display()
            ))
            .collect::<String>()
    );
}

#[test]
fn json_matches_the_reference() {
    let f = StekFixture::new();
    let q = Query::new("json", "api \"eu\"\n", 600, 4, T);
    let mut want = reference1(&q);
    let now = T.to_string();
    let common_args = ["--interval", "600", "--keep", "4", "--time", &now];

    let mut args = common_args.to_vec();
    args.push("--print-keys");
    let r = run_stek(&f, "json", "api \"eu\"\n", "-", &args);
    r.assert_ok();
    let got: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(got, want);

    // Without --print-keys: the same document without key bytes, anywhere.
    let secrets: Vec<String> = want["keys"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|k| {
            ["aes256", "aes128"].into_iter().flat_map(move |s| {
                ["aes_key", "hmac_key"].map(|f| k[s][f].as_str().unwrap().to_owned())
            })
        })
        .collect();
    for k in want["keys"].as_array_mut().unwrap() {
        for s in ["aes256", "aes128"] {
            let o = k[s].as_object_mut().unwrap();
            o.remove("aes_key");
            o.remove("hmac_key");
        }
    }
    let out = f.arg("keys.json");
    let r = run_stek(&f, "json", "api \"eu\"\n", &out, &common_args);
    r.assert_ok();
    let text = fs::read_to_string(&out).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), want);
    assert_eq!(mode(Path::new(&out)), 0o600);
    for s in &secrets {
        assert!(!text.contains(s.as_str()) && !r.stderr.contains(s.as_str()));
    }
    let r = run_stek(&f, "json", "api \"eu\"\n", "-", &common_args);
    r.assert_ok();
    assert_eq!(serde_json::from_str::<Value>(&r.stdout).unwrap(), want);
}

#[test]
fn keys_are_printed_only_with_print_keys() {
    let f = StekFixture::new();
    for format in ["ats", "haproxy"] {
        let q = Query::new(format, "www", 3600, 1, T);
        let answer = reference1(&q);
        let shown: Vec<String> = if format == "haproxy" {
            lines(&answer).to_vec()
        } else {
            files(&answer)[""].chunks(48).map(hex).collect()
        };
        let out = f.arg(out_name(format));
        let quiet = run_stek(&f, format, "www", &out, &["--time", "1700000000", "-v"]);
        quiet.assert_ok();
        let loud = run_stek(
            &f,
            format,
            "www",
            &out,
            &["--time", "1700000000", "--print-keys"],
        );
        loud.assert_ok();
        for s in &shown {
            assert!(!quiet.stderr.contains(s.as_str()), "{quiet:#?}");
            assert!(loud.stderr.contains(s.as_str()), "{loud:#?}");
        }
    }
}

#[test]
fn group_makes_files_0640_and_directories_0750() {
    let f = StekFixture::new();
    let gid = if is_root() {
        4242
    } else {
        nix::unistd::getegid().as_raw()
    };
    let g = gid.to_string();
    run_stek(
        &f,
        "ats",
        "www",
        &f.arg("ats.key"),
        &["--time", "1700000000", "--group", &g],
    )
    .assert_ok();
    let meta = fs::metadata(f.path("ats.key")).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.gid()), (0o640, gid));
    run_stek(
        &f,
        "nginx",
        "www",
        &f.arg("nginx"),
        &["--time", "1700000000", "--group", &g],
    )
    .assert_ok();
    for (path, want) in [
        ("nginx", 0o750),
        ("nginx/keys.472222", 0o750),
        ("nginx/keys.472222/0.key", 0o640),
        ("nginx/keys.472222/2.key", 0o640),
        ("nginx/nginx.conf", 0o640),
    ] {
        let meta = fs::metadata(f.path(path)).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.gid()), (want, gid), "{path}");
    }
    // Without --group: owner only.
    run_stek(
        &f,
        "nginx",
        "www",
        &f.arg("nginx2"),
        &["--time", "1700000000"],
    )
    .assert_ok();
    assert_eq!(mode(&f.path("nginx2")), 0o700);
    assert_eq!(mode(&f.path("nginx2/keys.472222")), 0o700);
    assert_eq!(mode(&f.path("nginx2/keys.472222/1.key")), 0o600);
}

fn on_tmpfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).unwrap().filesystem_type() == nix::sys::statfs::TMPFS_MAGIC
}

#[test]
fn keys_stay_on_tmpfs_unless_allow_persistent() {
    let f = StekFixture::new();
    assert!(on_tmpfs(f.dir.path()), "/dev/shm is not tmpfs");
    // Accepted on /dev/shm without --allow-persistent (as every other test does).
    run_stek(
        &f,
        "apache",
        "www",
        &f.arg("a.key"),
        &["--time", "1700000000"],
    )
    .assert_ok();

    let disk = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    if on_tmpfs(disk.path()) {
        eprintln!(
            "note: {} is on tmpfs; refusal not tested",
            disk.path().display()
        );
        return;
    }
    for format in ["apache", "nginx", "json"] {
        let out = disk.path().join("out");
        let out_s = out.to_str().unwrap();
        let r = run_stek(&f, format, "www", out_s, &["--time", "1700000000"]);
        assert_eq!(r.code, Some(1), "{r:#?}");
        let line = r.stderr.lines().next().unwrap();
        let prefix = format!("error: output directory {} is on ", disk.path().display());
        assert!(line.starts_with(&prefix), "{line}");
        assert!(
            line.ends_with(
                "(not tmpfs or ramfs), so the keys would reach persistent storage; use a \
                 directory on tmpfs such as /run/keywheel or /dev/shm, or pass \
                 --allow-persistent"
            ),
            "{line}"
        );
        // The filesystem is named (e.g. "ext4 (statfs f_type 0xef53)").
        assert!(line.contains("statfs f_type 0x"), "{line}");
        assert_eq!(r.stderr.lines().count(), 1);
        assert_eq!(
            fs::read_dir(disk.path()).unwrap().count(),
            0,
            "{format} wrote"
        );

        let r = run_stek(
            &f,
            format,
            "www",
            out_s,
            &["--time", "1700000000", "--allow-persistent"],
        );
        r.assert_ok();
        assert!(out.exists());
        if out.is_dir() {
            fs::remove_dir_all(&out).unwrap();
        } else {
            fs::remove_file(&out).unwrap();
        }
    }
}

#[test]
fn dry_run_writes_nothing_and_shows_no_key_bytes() {
    let names = reference1(&Query::new("json", "www", 3600, 1, T));
    let answers: std::collections::HashMap<&str, Value> = SERVER_FORMATS
        .iter()
        .zip(reference(
            &SERVER_FORMATS.map(|f| Query::new(f, "www", 3600, 1, T)),
        ))
        .map(|(f, a)| (*f, a))
        .collect();
    let f = StekFixture::new();
    let before = f.listing("");
    let mark = f.arg("reloaded");
    for format in SERVER_FORMATS.iter().copied().chain(["json"]) {
        let strength = if matches!(format, "nginx" | "haproxy" | "openssl" | "json") {
            "aes256"
        } else {
            "aes128"
        };
        let out = f.arg(out_name(format));
        let reload = format!("touch {mark}");
        let r = run_stek(
            &f,
            format,
            "www",
            &out,
            &["--dry-run", "--time", "1700000000", "--reload", &reload],
        );
        r.assert_ok();
        assert_eq!(f.listing(""), before, "{format}: dry run wrote");
        assert!(r.stdout.starts_with("dry run: nothing written\n"), "{r:#?}");
        assert!(r.stdout.contains(&out), "{r:#?}");
        assert!(
            r.stdout
                .contains(&format!("then run       /bin/sh -c \"touch {mark}\""))
        );
        let c = T / 3600;
        let counters: Vec<u64> = match format {
            "apache" | "openssl" => vec![c],
            _ => vec![c - 1, c, c + 1],
        };
        for k in names["keys"].as_array().unwrap() {
            let counter = k["counter"].as_u64().unwrap();
            let shown = format!(
                "counter {counter}, name {}",
                k[strength]["name"].as_str().unwrap()
            );
            assert_eq!(
                r.stdout.contains(&shown),
                counters.contains(&counter),
                "{format} {shown}: {}",
                r.stdout
            );
        }
        if format != "json" {
            let answer = &answers[format];
            let records: Vec<String> = if format.starts_with("haproxy") {
                lines(answer).to_vec()
            } else {
                files(answer)
                    .values()
                    .flat_map(|b| b.chunks(q_record_len(format)).map(hex).collect::<Vec<_>>())
                    .collect()
            };
            for rec in &records {
                assert!(!r.stdout.contains(rec.as_str()) && !r.stderr.contains(rec.as_str()));
            }
            let shown = run_stek(
                &f,
                format,
                "www",
                &out,
                &["--dry-run", "--time", "1700000000", "--print-keys"],
            );
            shown.assert_ok();
            for rec in &records {
                assert!(
                    shown.stdout.contains(rec.as_str()),
                    "{format}: {}",
                    shown.stdout
                );
            }
            assert_eq!(f.listing(""), before);
        }
    }
}

fn q_record_len(format: &str) -> usize {
    match format {
        "nginx" | "openssl" | "haproxy" => 80,
        _ => 48,
    }
}

/// A bad invocation: status, the first stderr line, nothing on stdout, nothing written.
fn bad(f: &StekFixture, args: &[&str], status: i32, first_line: &str) {
    let before = f.listing("");
    let r = stek(args);
    assert_eq!((r.code, r.signal), (Some(status), None), "{args:?}: {r:#?}");
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.starts_with("info: "))
        .collect();
    assert_eq!(errors[0], format!("error: {first_line}"), "{args:?}");
    if status == 1 {
        assert_eq!(errors.len(), 1, "{r:#?}");
    }
    assert_eq!(r.stdout, "");
    assert_eq!(f.listing(""), before, "{args:?} wrote something");
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_nothing_written() {
    let f = StekFixture::new();
    let key = f.key();
    let out = f.arg("out.key");
    let with = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--format",
            "ats",
            "--label",
            "www",
            "--main-key",
            &key,
            "--out",
            &out,
        ]
        .map(String::from)
        .to_vec();
        // A later --format/--label/--main-key replaces the default one.
        for pair in extra.chunks(2) {
            if let Some(i) = v.iter().position(|a| a == pair[0]) {
                if pair.len() == 2 {
                    v[i + 1] = pair[1].to_owned();
                    continue;
                }
            }
            v.extend(pair.iter().map(|s| s.to_string()));
        }
        v
    };
    let check = |extra: &[&str], status: i32, line: &str| {
        let args = with(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bad(&f, &args, status, line);
    };
    let usage = |extra: &[&str], line: &str| check(extra, 2, line);

    usage(
        &["--format", "nginx80"],
        "invalid value 'nginx80' for '--format <FORMAT>': format 'nginx80' is unknown; it must \
         be one of nginx, nginx48, haproxy, haproxy48, apache, ats, openssl, lighttpd, h2o, go, go-json, caddy, json",
    );
    usage(
        &["--label", ""],
        "invalid value '' for '--label <LABEL>': label is 0 bytes; it must be 1..=64 bytes of UTF-8",
    );
    let long = "é".repeat(32) + "x"; // 65 bytes
    usage(
        &["--label", &long],
        &format!(
            "invalid value '{long}' for '--label <LABEL>': label is 65 bytes; it must be 1..=64 \
             bytes of UTF-8"
        ),
    );
    for (value, why) in [
        (
            "11",
            "interval 11 is odd; it must be even and in 10..=604800",
        ),
        (
            "8",
            "interval 8 is out of range; it must be even and in 10..=604800",
        ),
        (
            "604802",
            "interval 604802 is out of range; it must be even and in 10..=604800",
        ),
    ] {
        usage(
            &["--interval", value],
            &format!("invalid value '{value}' for '--interval <SECS>': {why}"),
        );
    }
    let r = stek(
        &with(&["--interval", "hour"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.starts_with(
        "error: invalid value 'hour' for '--interval <SECS>': 'hour' is not a number"
    ));
    usage(
        &["--keep", "168"],
        "keep 168 with interval 3600 accepts tickets up to 608400 s old; (keep + 1) * interval \
         must be at most 604800 (7 days, RFC 8446), so keep must be in 0..=167",
    );
    usage(
        &["--keep", "1", "--interval", "604800"],
        "keep 1 with interval 604800 accepts tickets up to 1209600 s old; (keep + 1) * interval \
         must be at most 604800 (7 days, RFC 8446), so keep must be in 0..=0",
    );
    for keep in ["0", "2"] {
        usage(
            &["--format", "haproxy", "--keep", keep],
            &format!(
                "keep {keep} does not fit format haproxy: HAProxy uses exactly 3 keys (previous, \
                 current, next), so keep must be 1"
            ),
        );
    }
    usage(
        &["--keep", "three"],
        "invalid value 'three' for '--keep <N>': 'three' is not a number of previous keys \
         (invalid digit found in string)",
    );
    for (value, why) in [
        (
            "999999",
            "time 999999 is out of range; it must be in 1000000..=100000000000",
        ),
        (
            "100000000001",
            "time 100000000001 is out of range; it must be in 1000000..=100000000000",
        ),
    ] {
        usage(
            &["--time", value],
            &format!("invalid value '{value}' for '--time <UNIX>': {why}"),
        );
    }
    usage(
        &["--haproxy-socket", "/run/haproxy.sock"],
        "--haproxy-socket needs --format haproxy or haproxy48, not ats",
    );
    usage(
        &["--out", "-"],
        "--out - (stdout) is only for --format json; --format ats writes key files",
    );
    usage(
        &["--group", "no-such-group-kw"],
        "invalid value 'no-such-group-kw' for '--group <GROUP>': group 'no-such-group-kw' does not exist",
    );
    usage(
        &["--credential", "c"],
        "the argument '--main-key <FILE>' cannot be used with '--credential <NAME>'",
    );
    let r = stek(&["--format", "ats", "--main-key", &key, "--out", &out]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("--label <LABEL>"), "{r:#?}");

    // Runtime errors (status 1).
    let runtime = |extra: &[&str], line: &str| check(extra, 1, line);
    let missing = f.arg("missing.key");
    runtime(
        &["--main-key", &missing, "--time", "1700000000"],
        &format!("cannot open main key file {missing}: No such file or directory"),
    );
    let short = f.write_key("short.key", &[7u8; 31], 0o600);
    runtime(
        &["--main-key", &short, "--time", "1700000000"],
        &format!(
            "main key file {short} is too short: main key is 31 bytes; it must be at least 32 bytes"
        ),
    );
    let open = f.write_key("open.key", &test_key(), 0o640);
    runtime(
        &["--main-key", &open, "--time", "1700000000"],
        &format!(
            "main key file {open} has mode 0640, so group or others can access it; fix it with \
             `chmod 600 {open}` (or pass --allow-insecure-key-file)"
        ),
    );
    let nodir = f.arg("no/such/dir/out.key");
    runtime(
        &["--out", &nodir],
        &format!(
            "output directory {} does not exist or cannot be reached (--out {nodir}): No such \
             file or directory",
            f.arg("no/such/dir")
        ),
    );
    let nodir = f.arg("no/nginx");
    runtime(
        &["--format", "nginx", "--out", &nodir],
        &format!(
            "output directory {} does not exist or cannot be reached (--out {nodir}): No such \
             file or directory",
            f.arg("no")
        ),
    );
    let dir = f.dir.path().to_str().unwrap();
    runtime(
        &["--out", dir],
        &format!("--out {dir} is a directory; --format ats writes one file (e.g. {dir}/ats.key)"),
    );
    runtime(
        &["--format", "nginx", "--out", &key],
        &format!("--out {key} is not a directory; --format nginx writes a directory of key files"),
    );
}

#[test]
fn insecure_key_accepted_with_flag_and_credentials_work() {
    let f = StekFixture::new();
    let open = f.write_key("open.key", &test_key(), 0o644);
    let out = f.arg("a.key");
    let r = stek(&[
        "--format",
        "apache",
        "--label",
        "www",
        "--main-key",
        &open,
        "--out",
        &out,
        "--time",
        "1700000000",
        "--allow-insecure-key-file",
    ]);
    r.assert_ok();
    let want = files(&reference1(&Query::new("apache", "www", 3600, 1, T)));
    assert_eq!(fs::read(&out).unwrap(), want[""]);

    // --credential NAME reads $CREDENTIALS_DIRECTORY/NAME.
    let out2 = f.arg("b.key");
    let mut cmd = command(KEYWHEEL);
    cmd.env("CREDENTIALS_DIRECTORY", f.dir.path()).args([
        "stek",
        "--format",
        "apache",
        "--label",
        "www",
        "--credential",
        "main.key",
        "--out",
        &out2,
        "--time",
        "1700000000",
    ]);
    run(cmd).assert_ok();
    assert_eq!(fs::read(&out2).unwrap(), want[""]);
    let r = stek(&[
        "--format",
        "apache",
        "--label",
        "www",
        "--credential",
        "main.key",
        "--out",
        &out2,
        "--time",
        "1700000000",
    ]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr
            .starts_with("error: --credential main.key: $CREDENTIALS_DIRECTORY is not set")
    );
}

/// A directory the CLI cannot write: run it as an unprivileged user (setpriv) when root.
#[test]
fn unwritable_output_is_an_error_and_leaves_nothing() {
    let f = StekFixture::new();
    let ro = f.path("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    let mut prefix: Vec<String> = Vec::new();
    if is_root() {
        if std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("note: setpriv missing; unwritable output not tested as root");
            return;
        }
        fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(f.path("main.key"), Some(65534), Some(65534)).unwrap();
        prefix = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            KEYWHEEL,
        ]
        .map(String::from)
        .to_vec();
    } else {
        prefix.push(KEYWHEEL.to_owned());
    }
    for (format, out) in [("ats", ro.join("ats.key")), ("nginx", ro.join("nginx"))] {
        let mut cmd = command(&prefix[0]);
        cmd.args(&prefix[1..]).args([
            "stek",
            "--format",
            format,
            "--label",
            "www",
            "--main-key",
            &f.key(),
            "--out",
            out.to_str().unwrap(),
            "--time",
            "1700000000",
        ]);
        let r = run(cmd);
        assert_eq!(r.code, Some(1), "{r:#?}");
        let line = r.stderr.lines().next().unwrap();
        let head = "error: ticket keys for unix time 1700000000: current counter 472222 (accepted 472221..=472223): cannot create ";
        assert!(line.starts_with(head), "{line}");
        assert!(line.ends_with(": Permission denied"), "{line}");
        assert!(line.contains(ro.to_str().unwrap()), "{line}");
        assert_eq!(r.stderr.lines().count(), 1, "{r:#?}");
        assert_eq!(fs::read_dir(&ro).unwrap().count(), 0);
    }
}

/// Readers never see a partial file: a reader loop runs while the file is rewritten for
/// alternating intervals (rename) and, for nginx, alternating main keys in the same interval
/// (directory exchange).
#[test]
fn readers_never_see_a_partial_set() {
    let f = StekFixture::new();
    let other = f.write_key("other.key", &[0x5a; 32], 0o600);
    let times = [T, T + 3600];
    let mut ats_want = Vec::new();
    let mut nginx_want = Vec::new();
    for now in times {
        ats_want.push(files(&reference1(&Query::new("ats", "www", 3600, 2, now)))[""].clone());
    }
    for main in [test_key(), vec![0x5a; 32]] {
        let mut q = Query::new("nginx", "www", 3600, 1, T);
        q.main = main;
        nginx_want.push(files(&reference1(&q)));
    }
    let ats = f.path("ats.key");
    let nginx = f.path("nginx");
    let key = f.key();
    run_stek(
        &f,
        "ats",
        "www",
        ats.to_str().unwrap(),
        &["--time", "1700000000", "--keep", "2"],
    )
    .assert_ok();
    run_stek(
        &f,
        "nginx",
        "www",
        nginx.to_str().unwrap(),
        &["--time", "1700000000"],
    )
    .assert_ok();

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let (ats, nginx) = (ats.clone(), nginx.clone());
        let (ats_want, nginx_want) = (ats_want.clone(), nginx_want.clone());
        thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let got = fs::read(&ats).expect("the ats file is always there");
                assert!(
                    ats_want.contains(&got),
                    "partial or foreign ats file ({} bytes)",
                    got.len()
                );
                for i in 0..3 {
                    let got = fs::read(nginx.join(format!("current/{i}.key")))
                        .expect("current/N.key always resolves");
                    let name = format!("keys.472222/{i}.key");
                    assert!(
                        nginx_want.iter().any(|w| w[&name] == got),
                        "partial or foreign {name} ({} bytes)",
                        got.len()
                    );
                }
                reads += 1;
            }
            reads
        })
    };
    for i in 0..30 {
        let now = times[i % 2].to_string();
        run_stek(
            &f,
            "ats",
            "www",
            ats.to_str().unwrap(),
            &["--time", &now, "--keep", "2"],
        )
        .assert_ok();
        let k = if i % 2 == 0 {
            other.as_str()
        } else {
            key.as_str()
        };
        let r = stek(&[
            "--format",
            "nginx",
            "--label",
            "www",
            "--main-key",
            k,
            "--out",
            nginx.to_str().unwrap(),
            "--time",
            "1700000000",
        ]);
        r.assert_ok();
    }
    stop.store(true, Ordering::SeqCst);
    let reads = reader.join().expect("the reader saw a partial set");
    assert!(reads > 0);
    // Nothing left behind but the final set.
    let listing = f.listing("nginx");
    assert_eq!(
        listing,
        [
            ".keywheel.lock",
            "current -> keys.472222",
            "keys.472222/",
            "keys.472222/0.key",
            "keys.472222/1.key",
            "keys.472222/2.key",
            "nginx.conf"
        ]
    );
    let names: Vec<String> = fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".keywheel-"))
        .collect();
    assert!(names.is_empty(), "temporaries left: {names:?}");
}

#[test]
fn reload_runs_after_the_write_and_its_failure_is_reported() {
    let f = StekFixture::new();
    let out = f.arg("ats.key");
    let copy = f.arg("copy");
    let cmd = format!("cat \"$KEYWHEEL_OUT\" > {copy}; echo \"$KEYWHEEL_COUNTER\" >> {copy}.log");
    run_stek(
        &f,
        "ats",
        "www",
        &out,
        &["--time", "1700000000", "--reload", &cmd],
    )
    .assert_ok();
    let want = files(&reference1(&Query::new("ats", "www", 3600, 1, T)));
    assert_eq!(
        fs::read(&copy).unwrap(),
        want[""],
        "reload ran before the write"
    );
    assert_eq!(
        fs::read_to_string(format!("{copy}.log")).unwrap(),
        "472222\n"
    );

    let r = run_stek(
        &f,
        "ats",
        "www",
        &out,
        &["--time", "1700003600", "--reload", "echo reloading; exit 3"],
    );
    assert_eq!(r.code, Some(1), "{r:#?}");
    // The command's output is logged (prefixed, before the result); the failure is one
    // error line.
    assert_eq!(
        r.stderr_lines()
            .iter()
            .filter(|l| !l.starts_with("info: ") || l.contains("reload output"))
            .collect::<Vec<_>>(),
        [
            &"info: reload output: reloading",
            &"error: reload command `echo reloading; exit 3` exited with status 3"
        ]
    );
    assert_eq!(r.stdout, "");
    let want = files(&reference1(&Query::new("ats", "www", 3600, 1, T + 3600)));
    assert_eq!(
        fs::read(&out).unwrap(),
        want[""],
        "the keys are written anyway"
    );
}

// ---- HAProxy runtime API ------------------------------------------------------------------

/// The expected ring lines at `now` for (main, label), interval 3600.
/// (Memoized: Python runs once per batch, see [`prefetch`].)
fn ring_at(format: &str, label: &str, main: &[u8], now: u64) -> [String; 3] {
    prefetch(&[(format, label, main, now)]);
    RINGS.lock().unwrap()[&ring_key(format, label, main, now)].clone()
}

type RingKey = (String, String, Vec<u8>, u64);
static RINGS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<RingKey, [String; 3]>>,
> = std::sync::LazyLock::new(Default::default);

fn ring_key(format: &str, label: &str, main: &[u8], now: u64) -> RingKey {
    (
        format.to_owned(),
        label.to_owned(),
        main.to_vec(),
        now / 3600,
    )
}

/// Computes the rings of every spec not known yet with one run of the reference.
fn prefetch(specs: &[(&str, &str, &[u8], u64)]) {
    let missing: Vec<Query> = {
        let known = RINGS.lock().unwrap();
        specs
            .iter()
            .filter(|(f, l, m, n)| !known.contains_key(&ring_key(f, l, m, *n)))
            .map(|&(f, l, m, n)| {
                let mut q = Query::new(f, l, 3600, 1, n);
                q.main = m.to_vec();
                q
            })
            .collect()
    };
    if missing.is_empty() {
        return;
    }
    let answers = reference(&missing);
    let mut known = RINGS.lock().unwrap();
    for (q, a) in missing.iter().zip(&answers) {
        known.insert(ring_key(&q.format, &q.label, &q.main, q.now), lines(a));
    }
}

/// (The fake is declared first so that it stops before the fixture's directory goes.)
struct HaproxyCase {
    fake: FakeHaproxy,
    f: StekFixture,
    out: String,
}

fn haproxy_case(ring_file: Option<&str>, held: &[String; 3]) -> HaproxyCase {
    let f = StekFixture::new();
    let out = f.arg("haproxy.keys");
    let file = ring_file.map_or(out.clone(), str::to_owned);
    let fake = FakeHaproxy::start(
        &f.path("admin.sock"),
        vec![
            Ring::new(
                "/etc/haproxy/other.keys",
                &ring_at("haproxy", "other", &test_key(), T),
            ),
            Ring::new(&file, held),
        ],
    );
    HaproxyCase { fake, f, out }
}

fn push(case: &HaproxyCase, format: &str, now: u64, extra: &[&str]) -> Run {
    let now = now.to_string();
    let sock = case.fake.path.to_str().unwrap().to_owned();
    let mut args = vec!["--time", now.as_str(), "--haproxy-socket", sock.as_str()];
    args.extend_from_slice(extra);
    run_stek(&case.f, format, "www", &case.out, &args)
}

#[test]
fn haproxy_ends_with_exactly_previous_current_next_from_any_state() {
    let key = test_key();
    let at = |c: u64| ring_at("haproxy", "www", &key, c * 3600 + 100);
    let c = T / 3600;
    let mut specs: Vec<(&str, &str, &[u8], u64)> = [0, 1, 2, 3, 50]
        .iter()
        .map(|k| ("haproxy", "www", &key[..], (c - k) * 3600))
        .chain(
            [1, 2, 7]
                .iter()
                .map(|k| ("haproxy", "www", &key[..], (c + k) * 3600)),
        )
        .collect();
    specs.extend([
        ("haproxy", "www", &[9u8; 32][..], T),
        ("haproxy", "api", &key[..], T),
        ("haproxy", "other", &key[..], T),
    ]);
    prefetch(&specs);
    let target = at(c);
    let foreign = ring_at("haproxy", "www", &[9u8; 32], T);
    let other_label = ring_at("haproxy", "api", &key, T);
    let mixed = [at(c)[0].clone(), foreign[1].clone(), at(c + 7)[2].clone()];
    // (what HAProxy holds, pushes needed)
    let cases: Vec<([String; 3], usize)> = vec![
        (at(c), 0),      // restarted within the interval
        (at(c - 1), 1),  // the normal rotation
        (at(c - 2), 2),  // one missed rotation
        (at(c - 3), 3),  // a gap of three intervals
        (at(c - 50), 3), // a long gap
        (at(c + 1), 3),  // keys from the future (clock went back)
        (at(c + 2), 3),
        (foreign, 3),     // another main key
        (other_label, 3), // another label
        (mixed, 3),
    ];
    for (held, pushes) in cases {
        let case = haproxy_case(None, &held);
        let r = push(&case, "haproxy", T, &[]);
        r.assert_ok();
        assert_eq!(case.fake.held(1), target, "from {pushes}-push state");
        assert_eq!(
            case.fake.held(0),
            ring_at("haproxy", "other", &key, T),
            "other ring touched"
        );
        assert_eq!(case.fake.pushes(), pushes);
        assert_eq!(
            fs::read_to_string(&case.out).unwrap(),
            target.join("\n") + "\n"
        );
        let what = match pushes {
            0 => "already held them".to_owned(),
            1 => "pushed 1 key".to_owned(),
            n => format!("pushed {n} keys"),
        };
        assert!(
            r.stderr.contains(&format!(
                "info: HAProxy at {}: ring #1 of {} holds counters {}, {c}, {} (previous, current, \
                 next); {what}\n",
                case.fake.path.display(),
                case.out,
                c - 1,
                c + 1
            )),
            "{r:#?}"
        );
        // Commands use the ring id; keys never appear in the output.
        let cmds = case.fake.state.lock().unwrap().commands.clone();
        assert_eq!(cmds[0], "show tls-keys");
        assert_eq!(cmds[1], "show tls-keys #1");
        assert_eq!(cmds.len(), 3 + pushes);
        for k in target.iter().chain(&held) {
            assert!(!r.stderr.contains(k.as_str()));
        }
    }
}

#[test]
fn haproxy48_and_a_ring_found_through_symlinks() {
    let key = test_key();
    let f = StekFixture::new();
    fs::create_dir(f.path("real")).unwrap();
    std::os::unix::fs::symlink(f.path("real"), f.path("link")).unwrap();
    let out = f.arg("link/h48.keys");
    let held = ring_at("haproxy48", "www", &key, T - 3600);
    // HAProxy's bind line names the real path; --out goes through the symlink.
    let fake = FakeHaproxy::start(
        &f.path("admin.sock"),
        vec![Ring::new(f.path("real/h48.keys").to_str().unwrap(), &held)],
    );
    // The file must exist for the path to resolve: the CLI writes it first.
    let r = run_stek(
        &f,
        "haproxy48",
        "www",
        &out,
        &[
            "--time",
            "1700000000",
            "--haproxy-socket",
            fake.path.to_str().unwrap(),
        ],
    );
    r.assert_ok();
    assert_eq!(fake.held(0), ring_at("haproxy48", "www", &key, T));
    assert_eq!(fake.pushes(), 1);
}

#[test]
fn haproxy_errors() {
    let key = test_key();
    let c = T / 3600;
    prefetch(&[
        ("haproxy", "www", &key, T),
        ("haproxy", "www", &key, T - 3600),
        ("haproxy48", "www", &key, T),
        ("haproxy", "other", &key, T),
    ]);
    let target = ring_at("haproxy", "www", &key, T);
    let written = target.join("\n") + "\n";
    let suffix = |case: &HaproxyCase| {
        format!(
            " ({} is written: HAProxy loads it when it starts or reloads)",
            case.out
        )
    };
    let one_error = |r: &Run| -> String {
        assert_eq!(r.code, Some(1), "{r:#?}");
        let errors: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| !l.starts_with("info: "))
            .collect();
        assert_eq!(errors.len(), 1, "{r:#?}");
        errors[0].to_owned()
    };

    // 48-byte keys in HAProxy, 80-byte keys asked for.
    let case = haproxy_case(None, &ring_at("haproxy48", "www", &key, T));
    let r = push(&case, "haproxy", T, &[]);
    assert_eq!(
        one_error(&r),
        format!(
            "error: HAProxy at {} holds 48-byte keys for {} but --format haproxy writes 80-byte \
             keys (use --format haproxy48){}",
            case.fake.path.display(),
            case.out,
            suffix(&case)
        )
    );
    assert_eq!(fs::read_to_string(&case.out).unwrap(), written);
    assert_eq!(case.fake.pushes(), 0);

    // No ring for our file.
    let case = haproxy_case(Some("/etc/haproxy/tls.keys"), &target);
    let r = push(&case, "haproxy", T, &[]);
    assert_eq!(
        one_error(&r),
        format!(
            "error: HAProxy at {} has no tls-ticket-keys ring for {} (it has: \
             /etc/haproxy/other.keys, /etc/haproxy/tls.keys); the bind line must say \
             \"tls-ticket-keys {}\"{}",
            case.fake.path.display(),
            case.out,
            case.out,
            suffix(&case)
        )
    );

    // HAProxy refuses the command (e.g. HAProxy 3.3 on a socket below level admin).
    let case = haproxy_case(None, &ring_at("haproxy", "www", &key, T - 3600));
    case.fake.state.lock().unwrap().set_answer = Some("Permission denied\n\n".to_owned());
    let r = push(&case, "haproxy", T, &[]);
    assert_eq!(
        one_error(&r),
        format!(
            "error: HAProxy at {} refused `set ssl tls-key #1 <key>` for {}: Permission denied{}",
            case.fake.path.display(),
            case.out,
            suffix(&case)
        )
    );

    // HAProxy says "updated" but its keys do not change.
    let case = haproxy_case(None, &ring_at("haproxy", "www", &key, T - 3600));
    case.fake.state.lock().unwrap().ignore_sets = true;
    let r = push(&case, "haproxy", T, &[]);
    assert_eq!(
        one_error(&r),
        format!(
            "error: HAProxy at {} does not hold the expected keys for {} after 3 attempts{}",
            case.fake.path.display(),
            case.out,
            suffix(&case)
        )
    );

    // No HAProxy: the file is written, the error names the socket; status 1.
    let f = StekFixture::new();
    let out = f.arg("haproxy.keys");
    let sock = f.arg("absent.sock");
    let r = run_stek(
        &f,
        "haproxy",
        "www",
        &out,
        &["--time", "1700000000", "--haproxy-socket", &sock],
    );
    assert_eq!(
        one_error(&r),
        format!(
            "error: cannot connect to HAProxy at {sock}: No such file or directory ({out} is \
             written: HAProxy loads it when it starts or reloads)"
        )
    );
    assert_eq!(fs::read_to_string(&out).unwrap(), written);
    assert!(r.stderr.contains(&format!("current counter {c}")));
}

/// HAProxy reloads between reading the ring and pushing (it loads the file = the target, then
/// our pushes shift it): the check after the pushes notices and a second attempt fixes it.
#[test]
fn haproxy_reload_during_the_push_is_repaired() {
    let key = test_key();
    let target = ring_at("haproxy", "www", &key, T);
    let case = haproxy_case(None, &ring_at("haproxy", "www", &key, T - 3600));
    case.fake.state.lock().unwrap().reload_before_first_push = Some(target.clone());
    let r = push(&case, "haproxy", T, &[]);
    r.assert_ok();
    assert_eq!(case.fake.held(1), target);
    assert!(r.stderr.contains("pushed 3 keys (2 attempts)\n"), "{r:#?}");
}

fn mtime(path: &Path) -> u64 {
    u64::try_from(fs::metadata(path).unwrap().mtime()).unwrap()
}

/// `--format lighttpd|h2o --label www --time now` into `out` with `interval` and `keep`.
fn timed(f: &StekFixture, format: &str, out: &str, interval: u64, keep: u64, now: u64) -> Run {
    timed_label(f, format, "www", out, interval, keep, now)
}

fn timed_label(
    f: &StekFixture,
    format: &str,
    label: &str,
    out: &str,
    interval: u64,
    keep: u64,
    now: u64,
) -> Run {
    let (interval, keep, now) = (interval.to_string(), keep.to_string(), now.to_string());
    run_stek(
        f,
        format,
        label,
        out,
        &["--interval", &interval, "--keep", &keep, "--time", &now],
    )
}

#[test]
fn lighttpd_and_h2o_match_the_reference() {
    let mut queries = Vec::new();
    for format in ["lighttpd", "h2o"] {
        queries.push(Query::new(format, "www", 3600, 1, T));
        queries.push(Query::new(format, "www", 86400, 0, 1_000_000));
        queries.push(Query::new(
            format,
            "ünïcode λ",
            if format == "h2o" { 10 } else { 256 },
            1,
            1_700_000_001,
        ));
    }
    queries.push(Query::new("h2o", "www", 7200, 3, T));
    queries.push(Query::new("h2o", "www", 10, 0, 100_000_000_000));
    let answers = reference(&queries);
    for (q, answer) in queries.iter().zip(&answers) {
        let f = StekFixture::new();
        let out = f.arg("keys");
        let r = timed_label(&f, &q.format, &q.label, &out, q.interval, q.keep, q.now);
        r.assert_ok();
        assert_eq!(r.stdout, "");
        assert_eq!(
            fs::read(f.path("keys")).unwrap(),
            files(answer)[""],
            "{q:?}"
        );
        assert_eq!(mode(&f.path("keys")), 0o600);
        assert_eq!(mtime(&f.path("keys")), answer["mtime"].as_u64().unwrap());
        assert_eq!(f.listing(""), ["keys", "main.key"]);
    }
}

#[test]
fn lighttpd_publishes_the_next_key_once_the_current_one_is_loaded() {
    let q = Query::new("lighttpd", "www", 3600, 1, T);
    let answer = &reference(std::slice::from_ref(&q))[0];
    let publish = answer["publish"].as_u64().unwrap();
    let f = StekFixture::new();
    let out = f.arg("keys");
    let file = f.path("keys");
    // Before W(c + 1): the current key, whatever the file held.
    timed(&f, "lighttpd", &out, 3600, 1, publish - 1).assert_ok();
    assert_eq!(fs::read(&file).unwrap(), files(answer)[""]);
    // A second run finds it in place and leaves the file alone (a rewrite would push a
    // duplicate into lighttpd's three slots).
    let before = mtime(&file);
    let r = timed(&f, "lighttpd", &out, 3600, 1, publish - 1);
    r.assert_ok();
    assert!(r.stderr.contains("already holds key"), "{r:#?}");
    assert_eq!(mtime(&file), before);
    // From W(c + 1) on: the next key, with an mtime past the old one.
    timed(&f, "lighttpd", &out, 3600, 1, publish).assert_ok();
    assert_eq!(
        fs::read(&file).unwrap(),
        unhex(answer["next"].as_str().unwrap())
    );
    assert_eq!(mtime(&file), publish);
    // A fresh file inside the publication window gets the current key first.
    fs::remove_file(&file).unwrap();
    timed(&f, "lighttpd", &out, 3600, 1, publish + 5).assert_ok();
    assert_eq!(fs::read(&file).unwrap(), files(answer)[""]);
}

#[test]
fn h2o_rewrites_always_advance_the_mtime() {
    let f = StekFixture::new();
    let out = f.arg("keys");
    let file = f.path("keys");
    timed(&f, "h2o", &out, 3600, 1, T).assert_ok();
    assert_eq!(mtime(&file), T);
    timed(&f, "h2o", &out, 3600, 1, T).assert_ok();
    assert_eq!(mtime(&file), T + 1);
    timed(&f, "h2o", &out, 3600, 1, T - 100).assert_ok();
    assert_eq!(mtime(&file), T + 2);
}

#[test]
fn lighttpd_refuses_what_it_cannot_hold() {
    let f = StekFixture::new();
    let key = f.key();
    let out = f.arg("keys");
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = ["--format", "lighttpd", "--label", "www", "--main-key", &key]
            .map(String::from)
            .to_vec();
        v.extend(["--out".to_owned(), out.clone()]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let check = |extra: &[&'static str], status: i32, line: &str| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        bad(&f, &a, status, line);
    };
    // Key 596523 of interval 3600 is accepted until 2147489999, past 2^31 - 1.
    check(
        &["--time", "2147482900"],
        1,
        "expiry time 2147489999 does not fit format lighttpd: lighttpd stores times as signed \
         32-bit numbers, so every time must be at most 2147483647 (2038-01-19T03:14:07Z)",
    );
    check(
        &["--time", "2147486400", "--keep", "0"],
        1,
        "activation time 2147486400 does not fit format lighttpd: lighttpd stores times as \
         signed 32-bit numbers, so every time must be at most 2147483647 (2038-01-19T03:14:07Z)",
    );
    check(
        &["--interval", "254", "--time", "1700000000"],
        2,
        "interval 254 is too short for format lighttpd: lighttpd reads its key file every 64 s \
         and keywheel publishes each key 92 to 155 s before it starts encrypting, so interval \
         must be at least 256",
    );
    check(
        &["--keep", "2", "--time", "1700000000"],
        2,
        "keep 2 does not fit format lighttpd: lighttpd holds 3 keys (previous, current, next), \
         so keep must be 0 or 1",
    );
    // The last hour with the defaults still works.
    let r = stek(
        &args(&["--time", "2147479300", "--keep", "0"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    r.assert_ok();
}
