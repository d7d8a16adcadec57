//! `keywheel tfo`: options, errors, dry run, key file checks. Expected keys come from
//! tofurkey's test vector or Python's hashlib (see common/mod.rs).

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;

fn tfo(args: &[&str]) -> Run {
    let mut all = vec!["tfo"];
    all.extend_from_slice(args);
    keywheel(&all)
}

/// Checks a usage error: status 2, the first stderr line is "error: " + `first_line`, nothing
/// on stdout, nothing written.
fn usage_error(f: &Fixture, args: &[&str], first_line: &str) {
    let r = tfo(args);
    assert_eq!((r.code, r.signal), (Some(2), None), "{args:?}: {r:#?}");
    assert_eq!(
        r.stderr.lines().next().unwrap(),
        format!("error: {first_line}"),
        "{args:?}"
    );
    assert_eq!(r.stdout, "");
    f.assert_untouched();
}

/// Checks a runtime error: status 1, exactly one stderr line starting "error: " (after any
/// info lines) equal to `line`, nothing written.
fn runtime_error(f: &Fixture, r: &Run, line: &str) {
    assert_eq!((r.code, r.signal), (Some(1), None), "{r:#?}");
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.starts_with("info: "))
        .collect();
    assert_eq!(errors, vec![format!("error: {line}")], "{r:#?}");
    f.assert_untouched();
}

#[test]
fn tofurkey_vector() {
    let f = Fixture::new();
    let r = tfo(&[
        "--main-key",
        &f.key(),
        "--procfs",
        &f.procfs(),
        "--time",
        "1000000",
    ]);
    r.assert_ok();
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));
    assert!(
        !r.stderr.contains("c998252e"),
        "keys printed without --print-keys"
    );
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "info: TFO keys for unix time 1000000: primary counter 11, backup counter 12\n"
    );
}

#[test]
fn print_keys_and_verbose() {
    let f = Fixture::new();
    let r = tfo(&[
        "--main-key",
        &f.key(),
        "--procfs",
        &f.procfs(),
        "--time",
        "1000000",
        "--print-keys",
        "--verbose",
    ]);
    r.assert_ok();
    assert_eq!(
        r.stderr,
        format!(
            "info: TFO keys for unix time 1000000: primary counter 11, backup counter 12\n\
             info: Generated ASCII TFO keys for procfs write: [1000000] {VECTOR_TEXT}\n\
             info: exiting: one-shot mode (--once)\n"
        )
    );
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));
}

#[test]
fn intervals_match_python() {
    let f = Fixture::new();
    let key = test_key();
    let cases: &[(u64, u64)] = &[
        (10, 1_000_004),
        (10, 1_000_005),
        (604_800, 100_000_000_000),
        (7200, 1_650_000_123),
    ];
    let queries: Vec<(&[u8], u64, u64)> = cases.iter().map(|&(i, t)| (&key[..], i, t)).collect();
    for ((interval, now), text) in cases.iter().zip(python_texts(&queries)) {
        let r = tfo(&[
            "--main-key",
            &f.key(),
            "--procfs",
            &f.procfs(),
            "--interval",
            &interval.to_string(),
            "--time",
            &now.to_string(),
            "--once",
        ]);
        r.assert_ok();
        assert_eq!(f.procfs_content(), procfs_bytes(&text), "{interval} {now}");
        // Counters in the log line follow the spec arithmetic.
        let (p, b, _) = spec_counters(*interval, *now);
        assert!(r.stderr.contains(&format!(
            "unix time {now}: primary counter {p}, backup counter {b}\n"
        )));
    }
}

#[test]
fn dry_run_report_without_keys() {
    let f = Fixture::new();
    let r = tfo(&[
        "--main-key",
        &f.key(),
        "--procfs",
        &f.procfs(),
        "--time",
        "1000000",
        "--dry-run",
    ]);
    r.assert_ok();
    f.assert_untouched();
    // 1000000 = 1970-01-12T13:46:40Z; interval 86400: counter 11 covers 950400..1036800, in its
    // second half, so the backup is counter 12 and the next half-interval boundary is 1036800.
    let expected = format!(
        "dry run: nothing written to {}\n\
         \x20 time        1000000 (1970-01-12T13:46:40Z), interval 86400 s\n\
         \x20 primary key counter 11, covers unix time 950400..1036800 \
         (1970-01-12T00:00:00Z..1970-01-13T00:00:00Z)\n\
         \x20 backup key  counter 12, covers unix time 1036800..1123200 \
         (1970-01-13T00:00:00Z..1970-01-14T00:00:00Z) (next interval)\n\
         \x20 next write  unix time 1036802.020 (1970-01-13T00:00:02.020Z), 2.02 s after the \
         half-interval boundary 1036800; then primary counter 12, backup counter 11\n\
         \x20 keys        not shown (add --print-keys to show them)\n",
        f.procfs()
    );
    assert_eq!(r.stdout, expected);
    assert!(!r.stderr.contains("c998252e") && !r.stdout.contains("c998252e"));
}

#[test]
fn dry_run_with_print_keys() {
    let f = Fixture::new();
    let r = tfo(&[
        "--main-key",
        &f.key(),
        "--procfs",
        &f.procfs(),
        "--time",
        "1000000",
        "--dry-run",
        "--print-keys",
    ]);
    r.assert_ok();
    f.assert_untouched();
    assert!(
        r.stdout
            .ends_with(&format!("\n  keys        {VECTOR_TEXT}\n")),
        "{}",
        r.stdout
    );
    assert!(!r.stderr.contains("c998252e"));
}

#[test]
fn dry_run_first_half_names_previous_interval() {
    let f = Fixture::new();
    // 1000003 with interval 10: counter 100000 (1000000..1000010), first half, backup 99999;
    // next boundary 1000005.
    let r = tfo(&[
        "--main-key",
        &f.key(),
        "--procfs",
        &f.procfs(),
        "--interval",
        "10",
        "--time",
        "1000003",
        "--dry-run",
    ]);
    r.assert_ok();
    assert!(r.stdout.contains(
        "  backup key  counter 99999, covers unix time 999990..1000000 \
         (1970-01-12T13:46:30Z..1970-01-12T13:46:40Z) (previous interval)\n"
    ));
    assert!(r.stdout.contains(
        "  next write  unix time 1000007.020 (1970-01-12T13:46:47.020Z), 2.02 s after the \
         half-interval boundary 1000005; then primary counter 100000, backup counter 100001\n"
    ));
    f.assert_untouched();
}

#[test]
fn demo_command_needs_no_root_and_writes_only_the_demo_key() {
    // The README demo: `keywheel tfo --autokey ./keywheel-demo.key --dry-run --once`.
    let f = Fixture::new();
    let mut cmd = command(KEYWHEEL);
    cmd.current_dir(f.dir.path()).args([
        "tfo",
        "--autokey",
        "./keywheel-demo.key",
        "--dry-run",
        "--once",
    ]);
    let r = run(cmd);
    r.assert_ok();
    assert!(
        r.stdout
            .starts_with("dry run: nothing written to /proc/sys/net/ipv4/tcp_fastopen_key\n")
    );
    let key = f.read("keywheel-demo.key");
    assert_eq!(key.len(), 32);
    let mode = fs::metadata(f.path("keywheel-demo.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The same key is used again on the next run.
    let mut cmd = command(KEYWHEEL);
    cmd.current_dir(f.dir.path()).args([
        "tfo",
        "--autokey",
        "./keywheel-demo.key",
        "--dry-run",
        "--time",
        "1000000",
        "--print-keys",
    ]);
    let r = run(cmd);
    r.assert_ok();
    assert_eq!(f.read("keywheel-demo.key"), key);
    let text = python_text(&key, 86_400, 1_000_000);
    assert!(r.stdout.ends_with(&format!("  keys        {text}\n")));
}

#[test]
fn autokey_with_existing_key_writes_vector() {
    let f = Fixture::new();
    let r = tfo(&[
        "--autokey",
        &f.key(),
        "--procfs",
        &f.procfs(),
        "--time",
        "1000000",
    ]);
    r.assert_ok();
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));
    assert_eq!(f.read("main.key"), test_key());
}

#[test]
fn group_readable_key_is_refused() {
    let f = Fixture::new();
    for mode in [0o640, 0o604, 0o644, 0o620] {
        let key = f.write("open.key", &test_key(), mode);
        let r = tfo(&["--main-key", &key, "--procfs", &f.procfs(), "--once"]);
        runtime_error(
            &f,
            &r,
            &format!(
                "main key file {key} has mode 0{mode:o}, so group or others can access it; \
                 fix it with `chmod 600 {key}` (or pass --allow-insecure-key-file)"
            ),
        );
    }
    // Also an existing autokey: it is neither used nor replaced.
    let key = f.write("open.key", &test_key(), 0o644);
    let r = tfo(&["--autokey", &key, "--procfs", &f.procfs(), "--once"]);
    runtime_error(
        &f,
        &r,
        &format!(
            "autokey file {key} has mode 0644, so group or others can access it; \
             fix it with `chmod 600 {key}` (or pass --allow-insecure-key-file)"
        ),
    );
    assert_eq!(f.read("open.key"), test_key());
    // Allowed on request.
    let r = tfo(&[
        "--main-key",
        &key,
        "--procfs",
        &f.procfs(),
        "--time",
        "1000000",
        "--allow-insecure-key-file",
    ]);
    r.assert_ok();
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));
}

#[test]
fn credentials_directory() {
    let f = Fixture::new();
    let mut cmd = command(KEYWHEEL);
    cmd.args([
        "tfo",
        "--credential",
        "main.key",
        "--procfs",
        &f.procfs(),
        "--time",
        "1000000",
    ])
    .env("CREDENTIALS_DIRECTORY", f.dir.path());
    run(cmd).assert_ok();
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));

    let f = Fixture::new();
    let r = tfo(&[
        "--credential",
        "main.key",
        "--procfs",
        &f.procfs(),
        "--time",
        "1000000",
    ]);
    runtime_error(
        &f,
        &r,
        "--credential main.key: $CREDENTIALS_DIRECTORY is not set; systemd sets it for \
         services with LoadCredential= or SetCredential= (use --main-key FILE otherwise)",
    );

    let mut cmd = command(KEYWHEEL);
    cmd.args([
        "tfo",
        "--credential",
        "missing",
        "--procfs",
        &f.procfs(),
        "--time",
        "1000000",
    ])
    .env("CREDENTIALS_DIRECTORY", f.dir.path());
    let r = run(cmd);
    runtime_error(
        &f,
        &r,
        &format!(
            "cannot open main key file {}: No such file or directory",
            f.arg("missing")
        ),
    );

    let mut cmd = command(KEYWHEEL);
    cmd.args([
        "tfo",
        "--credential",
        "../main.key",
        "--procfs",
        &f.procfs(),
        "--once",
    ])
    .env("CREDENTIALS_DIRECTORY", f.dir.path());
    let r = run(cmd);
    runtime_error(
        &f,
        &r,
        "--credential '../main.key' is not a credential name (a file name without '/')",
    );
}

#[test]
fn bad_main_key_files() {
    let f = Fixture::new();
    let short = f.write("short.key", &[7u8; 31], 0o600);
    let r = tfo(&["--main-key", &short, "--procfs", &f.procfs(), "--once"]);
    runtime_error(
        &f,
        &r,
        &format!(
            "main key file {short} is too short: main key is 31 bytes; it must be at least 32 bytes"
        ),
    );
    let zero = f.write("zero.key", &[0u8; 32], 0o600);
    let r = tfo(&["--main-key", &zero, "--procfs", &f.procfs(), "--once"]);
    runtime_error(
        &f,
        &r,
        &format!(
            "main key file {zero} is unusable: main key is all zero bytes; it must be 32 random \
             bytes (generate them with `keywheel gen-secret`)"
        ),
    );
    let missing = f.arg("missing.key");
    let r = tfo(&["--main-key", &missing, "--procfs", &f.procfs(), "--once"]);
    runtime_error(
        &f,
        &r,
        &format!("cannot open main key file {missing}: No such file or directory"),
    );
    let dir = f.dir.path().to_str().unwrap().to_owned();
    let r = tfo(&["--main-key", &dir, "--procfs", &f.procfs(), "--once"]);
    runtime_error(
        &f,
        &r,
        &format!("cannot read main key file {dir}: Is a directory"),
    );
    if is_root() {
        eprintln!("skipped the mode 000 key file case: running as root");
    } else {
        let locked = f.write("locked.key", &test_key(), 0o000);
        let r = tfo(&["--main-key", &locked, "--procfs", &f.procfs(), "--once"]);
        runtime_error(
            &f,
            &r,
            &format!("cannot open main key file {locked}: Permission denied"),
        );
    }
}

#[test]
fn unwritable_procfs() {
    let f = Fixture::new();
    let missing = f.arg("no-procfs");
    let r = tfo(&["--main-key", &f.key(), "--procfs", &missing, "--once"]);
    let hint = if is_root() {
        ""
    } else {
        " (the kernel's TFO key file needs root; try --dry-run, or --procfs FILE)"
    };
    runtime_error(
        &f,
        &r,
        &format!(
            "cannot write the TFO keys: open({missing}) failed: No such file or directory{hint}"
        ),
    );
    assert!(!exists(&f.path("no-procfs")));
}

#[test]
fn usage_errors() {
    let f = Fixture::new();
    let (k, p) = (f.key(), f.procfs());
    let base = ["--main-key", k.as_str(), "--procfs", p.as_str(), "--once"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            with(&["--interval", "11"]),
            "invalid value '11' for '--interval <SECS>': interval 11 is odd; it must be even and in 10..=604800",
        ),
        (
            with(&["--interval", "8"]),
            "invalid value '8' for '--interval <SECS>': interval 8 is out of range; it must be even and in 10..=604800",
        ),
        (
            with(&["--interval", "604802"]),
            "invalid value '604802' for '--interval <SECS>': interval 604802 is out of range; it must be even and in 10..=604800",
        ),
        (
            with(&["--interval", "ten"]),
            "invalid value 'ten' for '--interval <SECS>': 'ten' is not a number of seconds (invalid digit found in string)",
        ),
        (
            with(&["--time", "999999"]),
            "invalid value '999999' for '--time <UNIX>': time 999999 is out of range; it must be in 1000000..=100000000000",
        ),
        (
            with(&["--time", "100000000001"]),
            "invalid value '100000000001' for '--time <UNIX>': time 100000000001 is out of range; it must be in 1000000..=100000000000",
        ),
        (
            with(&["--time", "soon"]),
            "invalid value 'soon' for '--time <UNIX>': 'soon' is not a unix time in seconds (invalid digit found in string)",
        ),
        (
            with(&["--autokey", "x"]),
            "the argument '--main-key <FILE>' cannot be used with '--autokey <FILE>'",
        ),
        (
            with(&["--credential", "x"]),
            "the argument '--main-key <FILE>' cannot be used with '--credential <NAME>'",
        ),
        (with(&["extra"]), "unexpected argument 'extra' found"),
        (with(&["--bogus"]), "unexpected argument '--bogus' found"),
        (
            with(&["--interval"]),
            "a value is required for '--interval <SECS>' but none was supplied",
        ),
        (
            vec!["--procfs", p.as_str(), "--once"],
            "the following required arguments were not provided:",
        ),
    ];
    for (args, msg) in cases {
        usage_error(&f, &args, msg);
    }
    // A key is never taken from the command line: there is no such option.
    usage_error(
        &f,
        &with(&["--key", TEST_KEY_HEX]),
        "unexpected argument '--key' found",
    );
}

#[test]
fn no_subcommand_and_help() {
    let r = keywheel(&[]);
    assert_eq!(r.code, Some(2));
    let r = keywheel(&["--version"]);
    r.assert_ok();
    assert_eq!(
        r.stdout,
        format!("keywheel {}\n", env!("CARGO_PKG_VERSION"))
    );
    let r = keywheel(&["tfo", "--help"]);
    r.assert_ok();
    for option in [
        "--main-key <FILE>",
        "--credential <NAME>",
        "--autokey <FILE>",
        "--allow-insecure-key-file",
        "--interval <SECS>",
        "--once",
        "--dry-run",
        "--print-keys",
        "--procfs <PATH>",
        "--time <UNIX>",
        "--verbose",
        "Exit status:",
        "keywheel tfo --autokey ./keywheel-demo.key --dry-run --once",
    ] {
        assert!(r.stdout.contains(option), "--help lacks {option}");
    }
}
