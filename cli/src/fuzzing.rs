//! The fuzz targets, public for the AFL crate in `fuzz/` (feature `fuzz`; not part of the API):
//! the same entry points as the in-tree mutation fuzzer of the unit tests (`sys::fuzz`), one
//! function per target, each taking the raw input and never panicking on any input.

/// The configuration parser (`keywheel.toml`).
pub fn config(bytes: &[u8]) {
    crate::config::fuzz_target(bytes);
}

/// tofurkey's command line: NUL-separated arguments after a first byte whose low bit selects
/// POSIXLY_CORRECT.
pub fn tofurkey_args(bytes: &[u8]) {
    crate::tofurkey::fuzz_target(bytes);
}

/// HAProxy's answers to `show tls-keys` and `show tls-keys #1` on its socket.
pub fn haproxy_answers(bytes: &[u8]) {
    crate::servers::haproxy::fuzz_target(bytes);
}

/// Key files as `status` and `check` read them: the key names of every format.
pub fn key_files(bytes: &[u8]) {
    for format in keywheel::FORMATS {
        let _ = format.names(bytes).count();
    }
}

/// The forward-secure state file parser; what parses must write back to the same bytes.
///
/// # Panics
/// When a state that parsed does not write back to its input (a parser bug).
pub fn state_file(bytes: &[u8]) {
    if let Ok(state) = keywheel::State::from_bytes(bytes) {
        let mut out = vec![0u8; state.file_len()];
        let n = state.to_bytes(&mut out).unwrap_or(0);
        assert_eq!(out.get(..n), Some(bytes), "state file does not round-trip");
    }
}
