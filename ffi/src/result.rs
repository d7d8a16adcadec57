//! The result codes, their messages, the per-thread detailed message of the last failure, and
//! the guard every entry point runs its body in (panics caught, failures recorded).

use core::ffi::c_char;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::string::String;

/// The result of every keywheel function that can fail.
///
/// The numbers are part of the ABI: they are fixed and never reused; new codes get new numbers.
/// `keywheel_result_message` gives a fixed description of a code and
/// `keywheel_last_error_message` the detailed message (naming the bad value) of the last failed
/// call on the calling thread.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)] // C naming: the type is `keywheel_result` in the header.
pub enum keywheel_result {
    /// Success: every output was written.
    Ok = 0,
    /// A required pointer argument was NULL. Nothing was written.
    NullPointer = 1,
    /// keywheel panicked: a bug in keywheel. The panic was caught; nothing was written.
    Panic = 2,
    /// The main key material is shorter than `KEYWHEEL_MAIN_KEY_LEN` (32) bytes.
    MainKeyTooShort = 3,
    /// A derived key's length is not in `KEYWHEEL_DERIVE_MIN_LEN..=KEYWHEEL_DERIVE_MAX_LEN`.
    OutputLength = 4,
    /// An interval is odd or not in `KEYWHEEL_MIN_INTERVAL..=KEYWHEEL_MAX_INTERVAL` seconds.
    Interval = 5,
    /// A unix time is not in `KEYWHEEL_MIN_TIME..=KEYWHEEL_MAX_TIME`.
    Time = 6,
    /// A label is empty or longer than `KEYWHEEL_MAX_LABEL_LEN` (64) bytes.
    LabelLength = 7,
    /// A label is not valid UTF-8.
    LabelNotUtf8 = 8,
    /// `(keep + 1) * interval` exceeds `KEYWHEEL_MAX_TICKET_AGE` (7 days, RFC 8446).
    Keep = 9,
    /// An output buffer is too small for what would be written.
    BufferTooSmall = 10,
    /// The schedule's `keep` does not suit the format (HAProxy needs keep 1).
    FormatKeep = 11,
    /// The handle's strength is not the format's (e.g. an AES-128 handle and format nginx).
    FormatStrength = 12,
    /// A KDF context is not `KEYWHEEL_CONTEXT_LEN` (8) bytes.
    ContextLength = 13,
    /// A strength argument is not a `keywheel_strength` value.
    UnknownStrength = 14,
    /// A format argument is not a `keywheel_format` value.
    UnknownFormat = 15,
    /// A file could not be opened or read.
    Io = 16,
    /// An argument is invalid in another way (see `keywheel_last_error_message`).
    InvalidArgument = 17,
    /// A main key file may be accessed by group or others (and that was not allowed).
    KeyFileInsecure = 18,
    /// A main key file is not a regular file (a directory, FIFO, socket or device).
    KeyFileNotRegular = 19,
    /// A forward-secure seed is not 32 bytes.
    SeedLength = 20,
    /// A time is past the forward-secure tree (`2^40 - 1`), or a key's interval starts there.
    TreeTime = 21,
    /// A forward-secure state cannot be advanced backwards.
    Backwards = 22,
    /// A key (or second) before the forward-secure state's start: it was punctured.
    Punctured = 23,
    /// A forward-secure state file is malformed (see `keywheel_last_error_message`).
    StateFile = 24,
    /// The main key material (its first `KEYWHEEL_MAIN_KEY_LEN` bytes) is all zero bytes.
    MainKeyZero = 25,
}

impl keywheel_result {
    /// The fixed NUL-terminated description of the code.
    const fn message(self) -> &'static core::ffi::CStr {
        match self {
            Self::Ok => c"success",
            Self::NullPointer => c"a required pointer argument is NULL",
            Self::Panic => c"keywheel panicked (a bug in keywheel); nothing was written",
            Self::MainKeyTooShort => c"main key is too short; it must be at least 32 bytes",
            Self::OutputLength => c"output length is out of range; it must be in 16..=64",
            Self::Interval => c"interval is odd or out of range; it must be even and in 10..=604800",
            Self::Time => c"time is out of range; it must be in 1000000..=100000000000",
            Self::LabelLength => c"label length is out of range; it must be 1..=64 bytes of UTF-8",
            Self::LabelNotUtf8 => c"label is not valid UTF-8",
            Self::Keep => {
                c"keep is too large: (keep + 1) * interval must be at most 604800 (7 days, RFC 8446)"
            }
            Self::BufferTooSmall => c"output buffer is too small",
            Self::FormatKeep => {
                c"keep does not fit the format: HAProxy uses exactly 3 keys, so keep must be 1"
            }
            Self::FormatStrength => c"the keys' strength does not match the format",
            Self::ContextLength => c"context is not 8 bytes",
            Self::UnknownStrength => c"unknown strength (not a keywheel_strength value)",
            Self::UnknownFormat => c"unknown format (not a keywheel_format value)",
            Self::Io => c"a file could not be read",
            Self::InvalidArgument => c"invalid argument",
            Self::KeyFileInsecure => {
                c"the main key file may be accessed by group or others; it must be mode 0600 or stricter"
            }
            Self::KeyFileNotRegular => c"the main key file is not a regular file",
            Self::SeedLength => c"seed length is wrong; it must be exactly 32 bytes",
            Self::TreeTime => {
                c"time is past the forward-secure tree; it must be in 0..=1099511627775"
            }
            Self::Backwards => c"a forward-secure state cannot go backwards",
            Self::Punctured => c"the key is before the state's start: it was punctured",
            Self::StateFile => c"the state file is malformed",
            Self::MainKeyZero => c"main key is all zero bytes; it must be 32 random bytes",
        }
    }

    /// Every code, for lookups by number.
    const ALL: [keywheel_result; 26] = [
        Self::Ok,
        Self::NullPointer,
        Self::Panic,
        Self::MainKeyTooShort,
        Self::OutputLength,
        Self::Interval,
        Self::Time,
        Self::LabelLength,
        Self::LabelNotUtf8,
        Self::Keep,
        Self::BufferTooSmall,
        Self::FormatKeep,
        Self::FormatStrength,
        Self::ContextLength,
        Self::UnknownStrength,
        Self::UnknownFormat,
        Self::Io,
        Self::InvalidArgument,
        Self::KeyFileInsecure,
        Self::KeyFileNotRegular,
        Self::SeedLength,
        Self::TreeTime,
        Self::Backwards,
        Self::Punctured,
        Self::StateFile,
        Self::MainKeyZero,
    ];

    fn from_u32(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| *r as u32 == code)
    }
}

/// Longest detailed message, in bytes, including its terminating NUL: a buffer of this size
/// always receives the whole message from `keywheel_last_error_message`.
pub const KEYWHEEL_MESSAGE_MAX_LEN: usize = 512;

/// A failed call: its code and a message naming the bad value.
pub(crate) struct Failure {
    code: keywheel_result,
    message: String,
}

impl Failure {
    pub(crate) fn new(code: keywheel_result, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A NULL pointer given for the argument named `arg`.
    pub(crate) fn null(arg: &str) -> Self {
        Failure::new(
            keywheel_result::NullPointer,
            std::format!("argument `{arg}` is NULL"),
        )
    }
}

impl From<keywheel::Error> for Failure {
    fn from(error: keywheel::Error) -> Self {
        use keywheel::Error as E;
        let code = match error {
            E::MainKeyTooShort { .. } => keywheel_result::MainKeyTooShort,
            E::MainKeyZero => keywheel_result::MainKeyZero,
            E::OutputLength { .. } => keywheel_result::OutputLength,
            E::Interval { .. } => keywheel_result::Interval,
            E::LabelLength { .. } => keywheel_result::LabelLength,
            E::Keep { .. } => keywheel_result::Keep,
            E::FormatKeep { .. } => keywheel_result::FormatKeep,
            E::FormatStrength { .. } => keywheel_result::FormatStrength,
            E::BufferTooSmall { .. } => keywheel_result::BufferTooSmall,
            E::Time { .. } => keywheel_result::Time,
            E::KeyPunctured { .. } => keywheel_result::Punctured,
            E::KeyTime { .. } => keywheel_result::TreeTime,
            _ => keywheel_result::InvalidArgument,
        };
        Failure::new(code, error.to_string())
    }
}

impl From<keywheel::StateError> for Failure {
    fn from(error: keywheel::StateError) -> Self {
        use keywheel::StateError as E;
        let code = match error {
            E::Input(e) => return e.into(),
            E::SeedLength { .. } => keywheel_result::SeedLength,
            E::TreeTime { .. } => keywheel_result::TreeTime,
            E::Backwards { .. } => keywheel_result::Backwards,
            E::Punctured { .. } => keywheel_result::Punctured,
            E::StateFile(_) => keywheel_result::StateFile,
            _ => keywheel_result::InvalidArgument,
        };
        Failure::new(code, error.to_string())
    }
}

std::thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn record(function: &str, message: &str) {
    let mut text = std::format!("{function}: {message}");
    if text.len() >= KEYWHEEL_MESSAGE_MAX_LEN {
        let mut end = KEYWHEEL_MESSAGE_MAX_LEN - 1;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    // `try_with`: during thread teardown the slot may be gone; the message is then dropped.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = text;
        }
    });
}

/// Runs the body of the entry point `function`: a panic becomes [`keywheel_result::Panic`], a
/// failure its code; both record a detailed message for `keywheel_last_error_message`.
pub(crate) fn guard(function: &str, body: impl FnOnce() -> Result<(), Failure>) -> keywheel_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => keywheel_result::Ok,
        Ok(Err(failure)) => {
            record(function, &failure.message);
            failure.code
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("unknown panic");
            record(function, &std::format!("panic (a bug in keywheel): {what}"));
            keywheel_result::Panic
        }
    }
}

/// [`guard`] for calls that may run forward-secure code: when `body` sets its flag (or
/// `forward` is true from the start), the stack the core used below this frame is overwritten
/// afterwards (`keywheel::scrub_stack`), so that no node value, leaf or key stays there.
pub(crate) fn guard_forward(
    function: &str,
    forward: bool,
    body: impl FnOnce(&mut bool) -> Result<(), Failure>,
) -> keywheel_result {
    let mut scrub = forward;
    let result = guard(function, || body(&mut scrub));
    if scrub {
        keywheel::scrub_stack();
    }
    result
}

/// Runs `body`, which cannot fail, and swallows a panic (for functions that return nothing).
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// The fixed description of a result code, as a static NUL-terminated string: never NULL,
/// never to be freed. A number that is not a `keywheel_result` gives "unknown result code".
///
/// Thread-safety: may be called from any thread at any time.
#[unsafe(no_mangle)]
pub extern "C" fn keywheel_result_message(result: u32) -> *const c_char {
    let mut text = c"unknown result code".as_ptr();
    guard_void(|| {
        if let Some(r) = keywheel_result::from_u32(result) {
            text = r.message().as_ptr();
        }
    });
    text
}

/// Copies the detailed message of the last call on this thread that failed (for example
/// "keywheel_schedule_at: interval 11 is odd; it must be even and in 10..=604800") into `buf`
/// with a terminating NUL, and its length without the NUL into `*out_len`. When no call on this
/// thread has failed yet, the message is empty. Successful calls do not clear it.
///
/// Ownership: `buf` and `out_len` belong to the caller. A buffer of `KEYWHEEL_MESSAGE_MAX_LEN`
/// bytes is always large enough.
///
/// Thread-safety: each thread has its own last message.
///
/// Returns `KEYWHEEL_RESULT_OK`, `KEYWHEEL_RESULT_NULL_POINTER` (`buf` or `out_len` NULL) or
/// `KEYWHEEL_RESULT_BUFFER_TOO_SMALL` (`buf_len` is not larger than the message); on failure
/// nothing is written (and the last message is not replaced).
///
/// # Safety
/// `buf` must be valid for writes of `buf_len` bytes; `out_len` must be valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keywheel_last_error_message(
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> keywheel_result {
    if buf.is_null() || out_len.is_null() {
        return keywheel_result::NullPointer;
    }
    let mut code = keywheel_result::Panic;
    guard_void(|| {
        let _ = LAST_ERROR.try_with(|slot| {
            let Ok(message) = slot.try_borrow() else {
                return;
            };
            let n = message.len();
            if n >= buf_len {
                code = keywheel_result::BufferTooSmall;
                return;
            }
            // SAFETY: `buf` is valid for `buf_len > n` bytes (caller's contract); the message
            // is a distinct Rust allocation, so the ranges do not overlap.
            unsafe {
                core::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
                buf.add(n).write(0);
                out_len.write(n);
            }
            code = keywheel_result::Ok;
        });
    });
    code
}

/// The library's version, "MAJOR.MINOR.PATCH", as a static NUL-terminated string (equal to
/// `KEYWHEEL_VERSION_STRING` of the header it was built with). Never NULL, never to be freed.
///
/// Thread-safety: may be called from any thread at any time.
#[unsafe(no_mangle)]
pub extern "C" fn keywheel_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn numbers_are_fixed() {
        // The ABI: these numbers never change.
        assert_eq!(keywheel_result::Ok as u32, 0);
        assert_eq!(keywheel_result::NullPointer as u32, 1);
        assert_eq!(keywheel_result::Panic as u32, 2);
        assert_eq!(keywheel_result::InvalidArgument as u32, 17);
        assert_eq!(keywheel_result::KeyFileInsecure as u32, 18);
        assert_eq!(keywheel_result::KeyFileNotRegular as u32, 19);
        for (i, r) in keywheel_result::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert_eq!(
                keywheel_result::from_u32(u32::try_from(i).unwrap()),
                Some(*r)
            );
        }
        assert_eq!(keywheel_result::StateFile as u32, 24);
        assert_eq!(keywheel_result::MainKeyZero as u32, 25);
        assert_eq!(keywheel_result::from_u32(26), None);
    }

    #[test]
    fn a_panic_is_caught_and_reported() {
        let code = guard("keywheel_test", || panic!("boom"));
        assert_eq!(code, keywheel_result::Panic);
        let mut buf = [0u8; KEYWHEEL_MESSAGE_MAX_LEN];
        let mut n = 0usize;
        let r = unsafe { keywheel_last_error_message(buf.as_mut_ptr().cast(), buf.len(), &mut n) };
        assert_eq!(r, keywheel_result::Ok);
        assert_eq!(
            core::str::from_utf8(&buf[..n]).unwrap(),
            "keywheel_test: panic (a bug in keywheel): boom"
        );
        assert_eq!(buf[n], 0);
    }

    #[test]
    fn long_messages_are_cut_to_fit() {
        let long = "é".repeat(KEYWHEEL_MESSAGE_MAX_LEN);
        let code = guard("f", || Err(Failure::new(keywheel_result::Io, long.clone())));
        assert_eq!(code, keywheel_result::Io);
        let mut buf = [0u8; KEYWHEEL_MESSAGE_MAX_LEN];
        let mut n = 0usize;
        let r = unsafe { keywheel_last_error_message(buf.as_mut_ptr().cast(), buf.len(), &mut n) };
        assert_eq!(r, keywheel_result::Ok);
        assert!(n < KEYWHEEL_MESSAGE_MAX_LEN);
        assert!(
            core::str::from_utf8(&buf[..n])
                .unwrap()
                .starts_with("f: éé")
        );
    }
}
