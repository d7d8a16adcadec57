//! The `tofurkey` binary against tofurkey 1.3.4's behaviour: flags, output lines, procfs
//! bytes, exit statuses. Expected keys come from tofurkey's own test vector or from Python's
//! hashlib (see common/mod.rs), never from the code under test.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;

const SIGABRT: i32 = 6;

/// The info lines of a one-shot run with -V at unix time `now`.
fn verbose_keys_run(now: u64, text: &str) -> String {
    format!(
        "info: Setting keys for unix time {now}\n\
         info: Generated ASCII TFO keys for procfs write: [{now}] {text}\n\
         info: Exiting due to one-shot mode (-o flag)\n"
    )
}

#[test]
fn itest_vector_with_k() {
    let f = Fixture::new();
    let r = tofurkey(&[
        "-o",
        "-k",
        &f.key(),
        "-P",
        &f.procfs(),
        "-V",
        "-T",
        "1000000",
    ]);
    r.assert_ok();
    assert_eq!(r.stderr, verbose_keys_run(1_000_000, VECTOR_TEXT));
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));
    assert_eq!(f.procfs_content().len(), 72);
}

#[test]
fn itest_vector_with_a_existing_key() {
    let f = Fixture::new();
    let r = tofurkey(&[
        "-o",
        "-a",
        &f.key(),
        "-P",
        &f.procfs(),
        "-V",
        "-T",
        "1000000",
    ]);
    r.assert_ok();
    let autokey_line = format!(
        "info: No -k arg given.  Will use a host-local autokey at '{}'. \
         This does not allow for cross-host synch!\n",
        f.key()
    );
    assert_eq!(
        r.stderr,
        autokey_line + &verbose_keys_run(1_000_000, VECTOR_TEXT)
    );
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));
    assert_eq!(f.read("main.key"), test_key(), "existing autokey rewritten");
}

#[test]
fn procfs_is_not_truncated_or_created() {
    // tofurkey opens procfs O_WRONLY|O_SYNC: no O_TRUNC, no O_CREAT.
    let f = Fixture::new();
    f.write("procfs", &[b'x'; 100], 0o644);
    tofurkey(&["-k", &f.key(), "-P", &f.procfs(), "-T", "1000000"]).assert_ok();
    let mut expected = procfs_bytes(VECTOR_TEXT);
    expected.extend_from_slice(&[b'x'; 28]);
    assert_eq!(f.procfs_content(), expected);

    let missing = f.arg("no-such-procfs");
    let r = tofurkey(&["-k", &f.key(), "-P", &missing, "-T", "1000000"]);
    assert_eq!(r.signal, Some(SIGABRT), "{r:#?}");
    assert_eq!(
        r.stderr,
        format!(
            "info: Setting keys for unix time 1000000\n\
             FATAL: open({missing}) failed: No such file or directory\n"
        )
    );
    assert!(!exists(&f.path("no-such-procfs")));
}

#[test]
fn default_output_and_t_implies_one_shot() {
    let f = Fixture::new();
    let r = tofurkey(&["-k", &f.key(), "-P", &f.procfs(), "-T", "1000000"]);
    r.assert_ok();
    assert_eq!(
        r.stderr,
        "info: Setting keys for unix time 1000000\n\
         info: Exiting due to one-shot mode (-o flag)\n"
    );
    assert_eq!(r.stdout, "");
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));
}

#[test]
fn v_is_verbose_without_keys() {
    let f = Fixture::new();
    let r = tofurkey(&["-v", "-k", &f.key(), "-P", &f.procfs(), "-T", "1000000"]);
    r.assert_ok();
    assert_eq!(
        r.stderr,
        "info: Setting keys for unix time 1000000\n\
         info: Exiting due to one-shot mode (-o flag)\n"
    );
    assert!(!r.stderr.contains("c998252e"));
}

#[test]
fn dry_run_writes_nothing() {
    let f = Fixture::new();
    let r = tofurkey(&[
        "-n",
        "-V",
        "-k",
        &f.key(),
        "-P",
        &f.procfs(),
        "-T",
        "1000000",
    ]);
    r.assert_ok();
    assert_eq!(
        r.stderr,
        format!(
            "info: Setting keys for unix time 1000000\n\
             info: Generated ASCII TFO keys for procfs write: [1000000] {VECTOR_TEXT}\n\
             info: Did not write to procfs because dry-run (-n) was specified\n\
             info: Exiting due to one-shot mode (-o flag)\n"
        )
    );
    f.assert_untouched();
    // Without -v the dry-run line is not shown.
    let r = tofurkey(&["-n", "-k", &f.key(), "-P", &f.procfs(), "-T", "1000000"]);
    r.assert_ok();
    assert!(!r.stderr.contains("dry-run"));
    f.assert_untouched();
}

#[test]
fn combined_and_glued_flags() {
    let f = Fixture::new();
    let key_arg = format!("-k{}", f.key());
    let procfs_arg = format!("-P{}", f.procfs());
    let r = tofurkey(&["-vnoT1000000", &key_arg, &procfs_arg]);
    r.assert_ok();
    assert_eq!(
        r.stderr,
        "info: Setting keys for unix time 1000000\n\
         info: Did not write to procfs because dry-run (-n) was specified\n\
         info: Exiting due to one-shot mode (-o flag)\n"
    );
    f.assert_untouched();

    let r = tofurkey(&["-Vo", &key_arg, &procfs_arg, "-T1000000", "-i86400"]);
    r.assert_ok();
    assert_eq!(r.stderr, verbose_keys_run(1_000_000, VECTOR_TEXT));
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));
}

#[test]
fn options_after_operand_free_words_and_double_dash() {
    // GNU getopt permutes: options are honoured in any order; `--` may end them.
    let f = Fixture::new();
    let r = tofurkey(&[
        "-P",
        &f.procfs(),
        "-T",
        "1000000",
        "-V",
        "-k",
        &f.key(),
        "--",
    ]);
    r.assert_ok();
    assert_eq!(r.stderr, verbose_keys_run(1_000_000, VECTOR_TEXT));
}

#[test]
fn intervals_and_times_match_python() {
    let key = test_key();
    let long_key = [key.clone(), b"ignored tail".to_vec()].concat();
    let cases: &[(u64, u64)] = &[
        (10, 1_000_000),
        (10, 1_000_004),
        (10, 1_000_005),
        (10, 1_700_000_009),
        (604_800, 100_000_000_000),
        (604_800, 1_000_000),
        (86_400, 1_700_000_000),
        (3600, 1_234_567_890),
        (12, 1_000_011),
    ];
    let queries: Vec<(&[u8], u64, u64)> = cases.iter().map(|&(i, t)| (&key[..], i, t)).collect();
    let expected = python_texts(&queries);
    let f = Fixture::new();
    let long = f.write("long.key", &long_key, 0o600);
    for ((interval, now), text) in cases.iter().zip(&expected) {
        for key_path in [f.key(), long.clone()] {
            let r = tofurkey(&[
                "-V",
                "-i",
                &interval.to_string(),
                "-k",
                &key_path,
                "-P",
                &f.procfs(),
                "-T",
                &now.to_string(),
            ]);
            r.assert_ok();
            assert_eq!(
                r.stderr,
                verbose_keys_run(*now, text),
                "interval {interval}"
            );
            assert_eq!(f.procfs_content(), procfs_bytes(text));
        }
    }
}

#[test]
fn real_clock_one_shot() {
    let f = Fixture::new();
    let r = tofurkey(&["-o", "-V", "-k", &f.key(), "-P", &f.procfs()]);
    r.assert_ok();
    let lines = r.stderr_lines();
    let now: u64 = lines[0]
        .strip_prefix("info: Setting keys for unix time ")
        .unwrap()
        .parse()
        .unwrap();
    let text = python_text(&test_key(), 86_400, now);
    assert_eq!(r.stderr, verbose_keys_run(now, &text));
    assert_eq!(f.procfs_content(), procfs_bytes(&text));
}

/// Runs tofurkey with `args` and checks a usage error: status 2, "error: <msg>" then the usage
/// text, nothing written.
fn usage_error(f: &Fixture, args: &[&str], msg: &str) {
    let r = tofurkey(args);
    assert_eq!((r.code, r.signal), (Some(2), None), "{args:?}: {r:#?}");
    assert_eq!(
        r.stderr,
        format!("error: {msg}\n{TOFURKEY_USAGE}"),
        "{args:?}"
    );
    assert_eq!(r.stdout, "");
    f.assert_untouched();
}

#[test]
fn bad_intervals() {
    let f = Fixture::new();
    let (k, p) = (f.key(), f.procfs());
    for bad in [
        "11",
        "9",
        "8",
        "0",
        "604801",
        "604802",
        "",
        "abc",
        "-10",
        "99999999999999999999999",
    ] {
        usage_error(
            &f,
            &["-k", &k, "-P", &p, "-T", "1000000", "-i", bad],
            &format!("Interval value '{bad}' unparseable, out of range, or odd"),
        );
    }
}

#[test]
fn bad_times() {
    let f = Fixture::new();
    let (k, p) = (f.key(), f.procfs());
    for bad in [
        "999999",
        "0",
        "100000000001",
        "x",
        "",
        "-1",
        "99999999999999999999999",
    ] {
        usage_error(
            &f,
            &["-k", &k, "-P", &p, "-T", bad],
            &format!("Faketime value '{bad}' unparseable or out of range"),
        );
    }
}

#[test]
fn bad_options_and_arguments() {
    let f = Fixture::new();
    let (k, p) = (f.key(), f.procfs());
    let t = ["-T", "1000000"];
    let with = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["-k", &k, "-P", &p, t[0], t[1]]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: Vec<(Vec<String>, String)> = vec![
        (with(&["-x"]), "Invalid Option '-x'".into()),
        (with(&["-vx"]), "Invalid Option '-x'".into()),
        (with(&["--verbose"]), "Invalid Option '--'".into()),
        (with(&["-:"]), "Invalid Option '-:'".into()),
        (with(&["-i"]), "Missing argument for '-i'".into()),
        (with(&["-k"]), "Missing argument for '-k'".into()),
        (with(&["-T"]), "Missing argument for '-T'".into()),
        (with(&["-P"]), "Missing argument for '-P'".into()),
        (with(&["-vo", "-a"]), "Missing argument for '-a'".into()),
        (
            with(&["extra"]),
            "Excess unknown CLI arguments after options".into(),
        ),
        (
            with(&["-"]),
            "Excess unknown CLI arguments after options".into(),
        ),
        (
            with(&["--", "-o"]),
            "Excess unknown CLI arguments after options".into(),
        ),
        // Option errors are found before excess arguments, wherever the operand is.
        (with(&["extra", "-x"]), "Invalid Option '-x'".into()),
        (
            with(&["extra", "-i", "11"]),
            "Interval value '11' unparseable, out of range, or odd".into(),
        ),
        (with(&["-a", &k]), "Cannot set both -k and -a".into()),
    ];
    for (args, msg) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        usage_error(&f, &args, &msg);
    }
    usage_error(
        &f,
        &["-k", "", "-P", &p, "-T", "1000000"],
        "Key path arguments cannot be empty strings",
    );
    usage_error(
        &f,
        &["-a", "", "-P", &p, "-T", "1000000"],
        "Key path arguments cannot be empty strings",
    );
    let dir_slash = format!("{}/", f.dir.path().display());
    usage_error(
        &f,
        &["-k", &dir_slash, "-P", &p, "-T", "1000000"],
        "Key path arguments cannot have a trailing slash",
    );
    usage_error(
        &f,
        &["-a", &dir_slash, "-P", &p, "-T", "1000000"],
        "Key path arguments cannot have a trailing slash",
    );
}

#[test]
fn posixly_correct_stops_at_first_operand() {
    let f = Fixture::new();
    let mut cmd = command(TOFURKEY);
    cmd.args(["-k", &f.key(), "-P", &f.procfs(), "extra", "-T", "1000000"])
        .env("POSIXLY_CORRECT", "1");
    let r = run(cmd);
    assert_eq!(r.code, Some(2));
    assert_eq!(
        r.stderr,
        format!("error: Excess unknown CLI arguments after options\n{TOFURKEY_USAGE}")
    );
    f.assert_untouched();
}

/// Runs with main key file `key` and checks tofurkey's failure: the info line(s), then
/// "FATAL: Could not read key file", abort, nothing written.
fn key_failure(f: &Fixture, key: &str, reason: &str) {
    let r = tofurkey(&["-k", key, "-P", &f.procfs(), "-T", "1000000"]);
    assert_eq!(r.signal, Some(SIGABRT), "{r:#?}");
    assert_eq!(
        r.stderr,
        format!(
            "info: Setting keys for unix time 1000000\n\
             info: {reason}\n\
             FATAL: Could not read key file {key}\n"
        )
    );
    f.assert_untouched();
}

#[test]
fn bad_main_key_files() {
    let f = Fixture::new();
    let short = f.write("short.key", &[7u8; 31], 0o600);
    key_failure(
        &f,
        &short,
        &format!("read({short}): wanted 32 bytes, got 31 bytes"),
    );
    // tofurkey 1.3.4 takes 32 zero bytes as its key; the drop-in refuses them (SPEC.md 1) in
    // a line shaped like its refused reads, then tofurkey's own FATAL line.
    let zero = f.write("zero.key", &[0u8; 32], 0o600);
    key_failure(
        &f,
        &zero,
        &format!(
            "read({zero}, 32) refused: main key is all zero bytes; it must be 32 random bytes \
             (generate them with `keywheel gen-secret`)"
        ),
    );
    let empty = f.write("empty.key", b"", 0o600);
    key_failure(
        &f,
        &empty,
        &format!("read({empty}): wanted 32 bytes, got 0 bytes"),
    );
    let missing = f.arg("missing.key");
    key_failure(
        &f,
        &missing,
        &format!("open({missing}) failed: No such file or directory"),
    );
    let dir = f.dir.path().to_str().unwrap().to_owned();
    key_failure(&f, &dir, &format!("read({dir}, 32) failed: Is a directory"));
}

#[test]
fn unreadable_main_key_file() {
    if is_root() {
        eprintln!(
            "skipped: running as root, which can read a mode 000 file (see the directory case in bad_main_key_files)"
        );
        return;
    }
    let f = Fixture::new();
    let key = f.write("locked.key", &test_key(), 0o000);
    key_failure(&f, &key, &format!("open({key}) failed: Permission denied"));
}

#[test]
fn autokey_is_created_then_reused() {
    let f = Fixture::new();
    let auto = f.arg("sub.autokey");
    let r = tofurkey(&["-o", "-V", "-a", &auto, "-P", &f.procfs(), "-T", "1000000"]);
    r.assert_ok();
    let created = f.read("sub.autokey");
    assert_eq!(created.len(), 32);
    assert_ne!(created, vec![0u8; 32]);
    let mode = fs::metadata(f.path("sub.autokey"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = python_text(&created, 86_400, 1_000_000);
    assert_eq!(
        r.stderr,
        format!(
            "info: No -k arg given.  Will use a host-local autokey at '{auto}'. \
             This does not allow for cross-host synch!\n\
             info: open({auto}) failed: No such file or directory\n\
             info: Could not read autokey file {auto}, generating a new random one\n{}",
            verbose_keys_run(1_000_000, &text)
        )
    );
    assert_eq!(f.procfs_content(), procfs_bytes(&text));

    // A second run reuses the file: same keys.
    f.write("procfs", SENTINEL, 0o644);
    tofurkey(&["-a", &auto, "-P", &f.procfs(), "-T", "1000000"]).assert_ok();
    assert_eq!(f.read("sub.autokey"), created);
    assert_eq!(f.procfs_content(), procfs_bytes(&text));
}

#[test]
fn short_autokey_is_replaced() {
    let f = Fixture::new();
    let auto = f.write("short.autokey", &[1u8; 5], 0o600);
    let r = tofurkey(&["-a", &auto, "-P", &f.procfs(), "-T", "1000000"]);
    r.assert_ok();
    assert!(r.stderr.contains(&format!(
        "info: read({auto}): wanted 32 bytes, got 5 bytes\n\
         info: Could not read autokey file {auto}, generating a new random one\n"
    )));
    let key = f.read("short.autokey");
    assert_eq!(key.len(), 32);
    assert_eq!(
        f.procfs_content(),
        procfs_bytes(&python_text(&key, 86_400, 1_000_000))
    );
}

#[test]
fn autokey_that_cannot_be_created_is_fatal() {
    let f = Fixture::new();
    let auto = f.arg("no-such-dir/autokey");
    let r = tofurkey(&["-a", &auto, "-P", &f.procfs(), "-T", "1000000"]);
    assert_eq!(r.signal, Some(SIGABRT), "{r:#?}");
    assert!(r.stderr.ends_with(&format!(
        "info: Could not read autokey file {auto}, generating a new random one\n\
         FATAL: open({auto}) failed: No such file or directory\n"
    )));
    f.assert_untouched();
}

#[test]
fn one_shot_does_not_notify() {
    // READY=1 is only for the daemon; in one-shot mode even a bogus NOTIFY_SOCKET is ignored.
    let f = Fixture::new();
    let mut cmd = command(TOFURKEY);
    cmd.args(["-k", &f.key(), "-P", &f.procfs(), "-T", "1000000"])
        .env("NOTIFY_SOCKET", "not-a-socket-path");
    run(cmd).assert_ok();
    assert_eq!(f.procfs_content(), procfs_bytes(VECTOR_TEXT));
}
