//! Forward-secure states (SPEC.md section 6): the handle, its file, advance, and the TFO keys
//! it derives. Its ticket keys are `keywheel_ticket_keys_from_state` (ticket.rs).

use core::ffi::c_char;

use keywheel::schedule::Schedule;
use keywheel::{
    FS_ROOT_ID_LEN, KeyFileMode, STATE_FILE_MAX_LEN, State, StateFileLoadError, TFO_KEY_LEN,
};
use zeroize::Zeroizing;

use crate::ptr;
use crate::result::{Failure, guard, guard_forward, guard_void, keywheel_result};

/// A forward-secure state (opaque): the tree nodes covering the unix seconds from its start
/// `s0` on, and nothing that derives an earlier second. Made by `keywheel_state_new`,
/// `keywheel_state_from_bytes` or `keywheel_state_from_file`; released (and wiped) by
/// `keywheel_state_free`.
///
/// Thread-safety: any number of threads may read one handle at the same time;
/// `keywheel_state_advance` needs it alone.
#[allow(non_camel_case_types)] // C naming.
pub struct keywheel_state {
    pub(crate) state: State,
}

fn publish(state: State, out: *mut *mut keywheel_state) {
    let handle = Box::into_raw(Box::new(keywheel_state { state }));
    // SAFETY: `out` was checked non-NULL and is valid for a write (caller's contract).
    unsafe { out.write(handle) };
}

/// Makes the state at `s0` of the tree of `seed` (exactly `KEYWHEEL_SEED_LEN`, 32, random
/// bytes made for this mode) and stores a new handle in `*out`.
///
/// Ownership: `seed` stays the caller's (wipe it, or keep it offline); the handle is the
/// caller's (`keywheel_state_free`).
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`, `KEYWHEEL_RESULT_SEED_LENGTH`
/// or `KEYWHEEL_RESULT_TREE_TIME` (`s0` >= 2^40). On failure `*out` is untouched.
///
/// # Safety
/// `seed` must be valid for reads of `seed_len` bytes; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_new(
    seed: *const u8,
    seed_len: usize,
    s0: u64,
    out: *mut *mut keywheel_state,
) -> keywheel_result {
    guard_forward("keywheel_state_new", true, |_| {
        // SAFETY: forwarded caller's contract.
        let seed = unsafe { ptr::input(seed, seed_len, "seed") }?;
        ptr::out(out, "out")?;
        publish(State::new(seed, s0)?, out);
        Ok(())
    })
}

/// Reads a state from the bytes of a state file (version 1, strict: every malformed field,
/// truncation, trailing byte or bad checksum is refused with a message naming it) and stores a
/// new handle in `*out`.
///
/// Ownership: `bytes` stays the caller's (it is a secret: wipe it); the handle is the caller's.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or `KEYWHEEL_RESULT_STATE_FILE`.
/// On failure `*out` is untouched.
///
/// # Safety
/// `bytes` must be valid for reads of `len` bytes; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut keywheel_state,
) -> keywheel_result {
    guard_forward("keywheel_state_from_bytes", true, |_| {
        // SAFETY: forwarded caller's contract.
        let bytes = unsafe { ptr::input(bytes, len, "bytes") }?;
        ptr::out(out, "out")?;
        publish(State::from_bytes(bytes)?, out);
        Ok(())
    })
}

/// Reads the state file at `path` (NUL-terminated) with the checks of
/// `keywheel_main_key_from_file`: a regular file (opened with `O_NONBLOCK`), that neither group
/// nor others may access (mode 0600 or stricter; `keywheel_state_from_file_allow_insecure`
/// skips that check); at most `KEYWHEEL_STATE_FILE_MAX_LEN` + 1 bytes are read, into a buffer
/// that is wiped; then the strict parser of `keywheel_state_from_bytes`.
///
/// Ownership: the handle in `*out` is the caller's (`keywheel_state_free`).
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`, `KEYWHEEL_RESULT_IO`,
/// `KEYWHEEL_RESULT_KEY_FILE_NOT_REGULAR`, `KEYWHEEL_RESULT_KEY_FILE_INSECURE` or
/// `KEYWHEEL_RESULT_STATE_FILE`. On failure `*out` is untouched.
///
/// # Safety
/// `path` must be a NUL-terminated string; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_from_file(
    path: *const c_char,
    out: *mut *mut keywheel_state,
) -> keywheel_result {
    guard_forward("keywheel_state_from_file", true, |_| {
        // SAFETY: forwarded caller's contract.
        unsafe { from_file(path, KeyFileMode::Private, out) }
    })
}

/// `keywheel_state_from_file` without the check of the file's mode. Only for an operator who
/// asked for it explicitly.
///
/// Returns, ownership, thread-safety: as `keywheel_state_from_file` (never
/// `KEYWHEEL_RESULT_KEY_FILE_INSECURE`).
///
/// # Safety
/// `path` must be a NUL-terminated string; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_from_file_allow_insecure(
    path: *const c_char,
    out: *mut *mut keywheel_state,
) -> keywheel_result {
    guard_forward("keywheel_state_from_file_allow_insecure", true, |_| {
        // SAFETY: forwarded caller's contract.
        unsafe { from_file(path, KeyFileMode::AllowInsecure, out) }
    })
}

/// The body of both file readers.
///
/// # Safety
/// As `keywheel_state_from_file`.
unsafe fn from_file(
    path: *const c_char,
    mode: KeyFileMode,
    out: *mut *mut keywheel_state,
) -> Result<(), Failure> {
    // SAFETY: forwarded caller's contract on `path`.
    let path = unsafe { ptr::c_string(path, "path") }?;
    ptr::out(out, "out")?;
    let path = std::path::Path::new(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path.to_bytes()),
    );
    let state = State::from_file(path, mode).map_err(|e| {
        use keywheel::KeyFileError as K;
        let code = match &e {
            StateFileLoadError::File(K::NotRegular(_)) => keywheel_result::KeyFileNotRegular,
            StateFileLoadError::File(K::Insecure(_)) => keywheel_result::KeyFileInsecure,
            StateFileLoadError::File(_) => keywheel_result::Io,
            _ => keywheel_result::StateFile,
        };
        Failure::new(
            code,
            e.message(
                "state file",
                path,
                "keywheel_state_from_file_allow_insecure",
            ),
        )
    })?;
    publish(state, out);
    Ok(())
}

/// Writes the state's file (version 1, `41 + 32 * node count` bytes, at most
/// `KEYWHEEL_STATE_FILE_MAX_LEN`) to `buf` and its length to `*out_len`.
///
/// Ownership: `buf` is the caller's; it holds a secret: wipe it when done.
///
/// Thread-safety: may be called from any thread.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or
/// `KEYWHEEL_RESULT_BUFFER_TOO_SMALL`. On failure nothing is written.
///
/// # Safety
/// `state` must be a live handle; `buf` valid for writes of `buf_len` bytes; `out_len` valid
/// for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_to_bytes(
    state: *const keywheel_state,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> keywheel_result {
    guard_forward("keywheel_state_to_bytes", true, |_| {
        // SAFETY: forwarded caller's contract.
        let state = unsafe { ptr::object(state, "state") }?;
        ptr::out(out_len, "out_len")?;
        let mut bytes = Zeroizing::new([0u8; STATE_FILE_MAX_LEN]);
        let n = state.state.to_bytes(&mut bytes[..])?;
        // SAFETY: forwarded caller's contract on `buf`.
        unsafe { ptr::copy_out(&bytes[..n], buf, buf_len, "buf") }?;
        // SAFETY: `out_len` is not NULL and valid for a write (caller's contract).
        unsafe { out_len.write(n) };
        Ok(())
    })
}

/// Moves the state's start forward to `s1` (never backwards); every node it replaces is wiped.
/// Afterwards it equals the state made at `s1`.
///
/// Thread-safety: no other thread may use `state` during this call.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`, `KEYWHEEL_RESULT_BACKWARDS`
/// (`s1` < s0) or `KEYWHEEL_RESULT_TREE_TIME` (`s1` >= 2^40); the state is then unchanged.
///
/// # Safety
/// `state` must be a live handle used by no other thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_advance(
    state: *mut keywheel_state,
    s1: u64,
) -> keywheel_result {
    guard_forward("keywheel_state_advance", true, |_| {
        ptr::out(state, "state")?;
        // SAFETY: not NULL; a live handle used by no other thread (caller's contract).
        let state = unsafe { &mut *state };
        state.state.advance(s1)?;
        Ok(())
    })
}

/// The state's start `s0` (the first second whose keys it derives) into `*out`.
///
/// Returns `KEYWHEEL_RESULT_OK` or `KEYWHEEL_RESULT_NULL_POINTER`.
///
/// # Safety
/// `state` must be a live handle; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_s0(
    state: *const keywheel_state,
    out: *mut u64,
) -> keywheel_result {
    guard("keywheel_state_s0", || {
        // SAFETY: forwarded caller's contract.
        let state = unsafe { ptr::object(state, "state") }?;
        ptr::out(out, "out")?;
        // SAFETY: `out` is not NULL and valid for a write (caller's contract).
        unsafe { out.write(state.state.s0()) };
        Ok(())
    })
}

/// The number of nodes the state holds (1..=40) into `*out`.
///
/// Returns `KEYWHEEL_RESULT_OK` or `KEYWHEEL_RESULT_NULL_POINTER`.
///
/// # Safety
/// `state` must be a live handle; `out` valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_node_count(
    state: *const keywheel_state,
    out: *mut usize,
) -> keywheel_result {
    guard("keywheel_state_node_count", || {
        // SAFETY: forwarded caller's contract.
        let state = unsafe { ptr::object(state, "state") }?;
        ptr::out(out, "out")?;
        // SAFETY: `out` is not NULL and valid for a write (caller's contract).
        unsafe { out.write(state.state.node_count()) };
        Ok(())
    })
}

/// The public root id of the state's tree (`KEYWHEEL_ROOT_ID_LEN`, 8 bytes) into `out`: equal
/// on every node of one seed.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` or
/// `KEYWHEEL_RESULT_BUFFER_TOO_SMALL` (`out_len` < 8). On failure nothing is written.
///
/// # Safety
/// `state` must be a live handle; `out` valid for writes of `out_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_root_id(
    state: *const keywheel_state,
    out: *mut u8,
    out_len: usize,
) -> keywheel_result {
    guard("keywheel_state_root_id", || {
        // SAFETY: forwarded caller's contract.
        let state = unsafe { ptr::object(state, "state") }?;
        let id: [u8; FS_ROOT_ID_LEN] = state.state.root_id();
        // SAFETY: forwarded caller's contract on `out`.
        unsafe { ptr::copy_out(&id, out, out_len, "out") }
    })
}

/// The forward-secure TFO keys (not tofurkey's) to install at unix time `now` with
/// `interval`: the primary key into `primary` and the backup key into `backup`,
/// `KEYWHEEL_TFO_KEY_LEN` (16) bytes each, as `keywheel_tfo_keys` does for a main key.
///
/// Ownership: all buffers stay the caller's (wipe the keys when done).
///
/// Thread-safety: may be called from any thread, also on one handle from many threads.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER`, `KEYWHEEL_RESULT_INTERVAL`,
/// `KEYWHEEL_RESULT_TIME`, `KEYWHEEL_RESULT_PUNCTURED` (a key's interval starts before the
/// state) or `KEYWHEEL_RESULT_BUFFER_TOO_SMALL`. On failure neither buffer is written.
///
/// # Safety
/// `state` must be a live handle; `primary` and `backup` valid for writes of their lengths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_tfo_keys(
    state: *const keywheel_state,
    interval: u64,
    now: u64,
    primary: *mut u8,
    primary_len: usize,
    backup: *mut u8,
    backup_len: usize,
) -> keywheel_result {
    guard_forward("keywheel_state_tfo_keys", true, |_| {
        // SAFETY: forwarded caller's contract.
        let state = unsafe { ptr::object(state, "state") }?;
        ptr::out(primary, "primary")?;
        ptr::out(backup, "backup")?;
        ptr::room(primary_len, TFO_KEY_LEN)?;
        ptr::room(backup_len, TFO_KEY_LEN)?;
        let keys = state.state.tfo_keys(&Schedule::new(interval)?, now)?;
        // SAFETY: both buffers checked above; valid for their lengths (caller's contract).
        unsafe {
            ptr::copy_out(keys.primary(), primary, primary_len, "primary")?;
            ptr::copy_out(keys.backup(), backup, backup_len, "backup")
        }
    })
}

/// Wipes and frees a state. NULL does nothing.
///
/// Ownership: `state` must not be used after this call; ticket keys made from it
/// (`keywheel_ticket_keys_from_state`) are independent and stay valid.
///
/// Thread-safety: no other thread may be using `state` during or after this call.
///
/// # Safety
/// `state` must be NULL or a handle from this library not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_state_free(state: *mut keywheel_state) {
    if state.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: `state` came from `Box::into_raw` in `publish` and is freed once (caller's
        // contract). Dropping the `State` wipes its nodes.
        drop(unsafe { Box::from_raw(state) });
    });
}
