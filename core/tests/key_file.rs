//! The main-key file loader (feature `std`): `cargo test -p keywheel --features std`.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use keywheel::{KeyFileError, KeyFileMode, MainKey, derive_key};

fn write(path: &Path, data: &[u8], mode: u32) {
    fs::write(path, data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn message(path: &Path, mode: KeyFileMode) -> String {
    MainKey::from_file(path, mode).unwrap_err().message(
        "main key file",
        path,
        "--allow-insecure-key-file",
    )
}

fn same_key(a: &MainKey, b: &MainKey) -> bool {
    let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
    derive_key(a, b"tofurkey", 1, &mut x).unwrap();
    derive_key(b, b"tofurkey", 1, &mut y).unwrap();
    x == y
}

#[test]
fn private_file_gives_its_first_32_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("main.key");
    let bytes: Vec<u8> = (0u8..40).collect();
    write(&p, &bytes, 0o600);
    let key = MainKey::from_file(&p, KeyFileMode::Private).unwrap();
    assert!(same_key(&key, &MainKey::from_bytes(&bytes[..32]).unwrap()));
    write(&p, &bytes, 0o400);
    assert!(MainKey::from_file(&p, KeyFileMode::Private).is_ok());
}

#[test]
fn group_or_other_access_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("main.key");
    for mode in [0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o644] {
        write(&p, &[1u8; 32], mode);
        assert_eq!(
            message(&p, KeyFileMode::Private),
            format!(
                "main key file {} has mode {mode:04o}, so group or others can access it; \
                 fix it with `chmod 600 {}` (or pass --allow-insecure-key-file)",
                p.display(),
                p.display()
            )
        );
        assert!(MainKey::from_file(&p, KeyFileMode::AllowInsecure).is_ok());
    }
}

#[test]
fn short_missing_and_non_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("short.key");
    write(&p, &[1u8; 31], 0o600);
    assert_eq!(
        message(&p, KeyFileMode::Private),
        format!(
            "main key file {} is too short: main key is 31 bytes; it must be at least 32 bytes",
            p.display()
        )
    );
    let missing = dir.path().join("nope.key");
    assert_eq!(
        message(&missing, KeyFileMode::Private),
        format!(
            "cannot open main key file {}: No such file or directory",
            missing.display()
        )
    );
    assert!(matches!(
        MainKey::from_file(&missing, KeyFileMode::Private),
        Err(KeyFileError::Open(_))
    ));
    assert_eq!(
        message(dir.path(), KeyFileMode::AllowInsecure),
        format!(
            "main key file {} is a directory; it must be a regular file",
            dir.path().display()
        )
    );
    assert_eq!(
        message(Path::new("/dev/null"), KeyFileMode::AllowInsecure),
        "main key file /dev/null is a character device; it must be a regular file"
    );
}

#[test]
fn a_fifo_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let start = Instant::now();
    // No writer: a blocking open would wait forever.
    assert_eq!(
        message(&fifo, KeyFileMode::AllowInsecure),
        format!(
            "main key file {} is a FIFO; it must be a regular file",
            fifo.display()
        )
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn all_zero_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("zero.key");
    // 32 zero bytes, and a longer file whose first 32 bytes (the key) are zero.
    for data in [vec![0u8; 32], [vec![0u8; 32], vec![0x5a; 16]].concat()] {
        write(&p, &data, 0o600);
        assert!(matches!(
            MainKey::from_file(&p, KeyFileMode::Private),
            Err(KeyFileError::Zero)
        ));
        assert_eq!(
            message(&p, KeyFileMode::Private),
            format!(
                "main key file {} is unusable: main key is all zero bytes; it must be 32 random \
                 bytes (generate them with `keywheel gen-secret`)",
                p.display()
            )
        );
    }
    // 31 zero bytes are too short (the length comes first).
    write(&p, &[0u8; 31], 0o600);
    assert!(matches!(
        MainKey::from_file(&p, KeyFileMode::Private),
        Err(KeyFileError::Short(31))
    ));
}
