//! `keywheel gen-secret`: a new main key, 32 random bytes from the OS (getrandom), written
//! with mode 0600. The file is created with O_EXCL, so an existing key is never overwritten
//! unless `--force` is given; then it is replaced atomically (a temporary file in the same
//! directory, fsynced, renamed over it). The key is never printed; its public fingerprint is,
//! so that nodes can be checked to hold the same key.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use keywheel::{MAIN_KEY_LEN, MainKey};
use zeroize::Zeroizing;

use crate::engine::stderr_line;
use crate::os::strerror;
use crate::stek::hex;
use crate::stek_files::{self, Perms};

fn create_new(path: &Path, data: &[u8]) -> Result<(), String> {
    let p = path.display();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!("{p} exists; refusing to overwrite a main key (pass --force to replace it)")
            } else {
                format!("cannot create {p}: {}", strerror(&e))
            }
        })?;
    let written = file
        .write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {p}: {}", strerror(&e)));
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written?;
    let dir = stek_files::parent_dir(path);
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot fsync directory {}: {}", dir.display(), strerror(&e)))
}

/// Runs `keywheel gen-secret`.
pub(crate) fn gen_secret(path: &Path, force: bool) -> ExitCode {
    let mut key = Zeroizing::new([0u8; MAIN_KEY_LEN]);
    if let Err(e) = getrandom::fill(&mut key[..]) {
        stderr_line("error: ", &format!("getrandom() failed: {e}"));
        return ExitCode::from(1);
    }
    let written = if force {
        stek_files::write_atomic(path, &key[..], Perms::secret(None))
    } else {
        create_new(path, &key[..])
    };
    if let Err(msg) = written {
        stderr_line("error: ", &msg);
        return ExitCode::from(1);
    }
    let fingerprint = MainKey::from_bytes(&key[..]).map(|m| hex(&m.fingerprint()));
    drop(key);
    stderr_line(
        "info: ",
        &format!(
            "wrote a new main key to {} (32 random bytes, mode 0600); fingerprint {}",
            path.display(),
            fingerprint.unwrap_or_default()
        ),
    );
    ExitCode::SUCCESS
}
