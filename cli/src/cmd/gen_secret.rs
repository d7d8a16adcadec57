//! `keywheel gen-secret`: a new main key, 32 random bytes from the OS (getrandom), written
//! with mode 0600. The file is created with O_EXCL, so an existing key is never overwritten
//! unless `--force` is given; then it is replaced atomically (a temporary file in the same
//! directory, fsynced, renamed over it). The key is never printed; its public fingerprint is,
//! so that nodes can be checked to hold the same key.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use keywheel::{MAIN_KEY_LEN, MainKey};
use zeroize::Zeroizing;

use crate::cmd::fail;
use crate::sys::files::{self, Perms};
use crate::sys::log::stderr_line;
use crate::sys::text::hex;

pub(crate) const HELP: &str = "\
Exit status: 0 written, 1 runtime error (PATH exists without --force, cannot write), 2 usage
error. The key is never printed; its public fingerprint is (compare it across nodes, or with
`keywheel status`).

Example (then copy it to every node, e.g. with your configuration management):
  keywheel gen-secret /etc/keywheel/main.key";

#[derive(Debug, Args)]
pub(crate) struct GenSecretArgs {
    /// The file to create (its directory must exist).
    #[arg(value_name = "PATH")]
    path: PathBuf,

    /// Replace PATH if it exists (atomically: a new file renamed over it).
    #[arg(long)]
    force: bool,
}

/// Runs `keywheel gen-secret`.
pub(crate) fn run(args: &GenSecretArgs) -> ExitCode {
    let (path, force) = (args.path.as_path(), args.force);
    let mut key = Zeroizing::new([0u8; MAIN_KEY_LEN]);
    if let Err(e) = getrandom::fill(&mut key[..]) {
        return fail(&format!("getrandom() failed: {e}"));
    }
    let written = if force {
        files::write_atomic(path, &key[..], Perms::secret(None))
    } else {
        files::create_new(path, &key[..], "a main key (pass --force to replace it)")
    };
    if let Err(msg) = written {
        return fail(&msg);
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
