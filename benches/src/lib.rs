//! Support for keywheel's benchmarks (`benches/derive.rs`): a safe wrapper around libsodium's
//! `crypto_kdf_blake2b_derive_from_key`, the reference implementation keywheel is timed against.
//!
//! libsodium comes from the system (Debian's `libsodium-dev`), found by `build.rs` with
//! pkg-config.
//!
//! Also [`ThreadCpuTime`], a criterion measurement of the benchmark thread's CPU time, so that
//! figures taken on a busy machine are not inflated by the time the thread was not running.

pub use cpu_time::ThreadCpuTime;

pub mod cpu_time {
    //! A criterion [`Measurement`] of the calling thread's CPU time
    //! (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`).

    // One libc call; see the SAFETY comment.
    #![allow(unsafe_code)]

    use std::time::Duration;

    use criterion::measurement::{Measurement, ValueFormatter, WallTime};

    /// Measures the CPU time of the benchmark thread instead of wall-clock time: time spent
    /// preempted by other processes does not count. For a single-threaded, CPU-bound routine on
    /// an idle machine the two agree. Values are [`Duration`]s, printed as criterion prints
    /// wall time.
    pub struct ThreadCpuTime {
        /// Only lends its duration formatter.
        wall: WallTime,
    }

    impl Default for ThreadCpuTime {
        fn default() -> Self {
            ThreadCpuTime { wall: WallTime }
        }
    }

    /// The calling thread's CPU time so far.
    fn now() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is always
        // available on Linux, so the call cannot fail (checked anyway).
        let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        )
    }

    impl Measurement for ThreadCpuTime {
        type Intermediate = Duration;
        type Value = Duration;

        fn start(&self) -> Duration {
            now()
        }
        fn end(&self, start: Duration) -> Duration {
            now().saturating_sub(start)
        }
        fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
            *v1 + *v2
        }
        fn zero(&self) -> Duration {
            Duration::ZERO
        }
        #[allow(clippy::cast_precision_loss)] // nanoseconds of a benchmark sample: far below 2^53
        fn to_f64(&self, value: &Duration) -> f64 {
            value.as_nanos() as f64
        }
        fn formatter(&self) -> &dyn ValueFormatter {
            self.wall.formatter()
        }
    }
}

pub mod sodium {
    //! The few libsodium functions the benchmarks call, behind safe signatures.

    // FFI into libsodium cannot be written without `unsafe`. Each block below states why the call
    // is sound; this module is the only place in the crate that allows it.
    #![allow(unsafe_code)]

    use core::ffi::{CStr, c_char, c_int};
    use std::fmt;

    /// Length of libsodium's KDF context (`crypto_kdf_blake2b_CONTEXTBYTES`).
    pub const CONTEXT_LEN: usize = 8;
    /// Length of libsodium's KDF key (`crypto_kdf_blake2b_KEYBYTES`).
    pub const KEY_LEN: usize = 32;
    /// Shortest subkey (`crypto_kdf_blake2b_BYTES_MIN`).
    pub const SUBKEY_MIN_LEN: usize = 16;
    /// Longest subkey (`crypto_kdf_blake2b_BYTES_MAX`).
    pub const SUBKEY_MAX_LEN: usize = 64;

    unsafe extern "C" {
        fn sodium_init() -> c_int;
        fn sodium_version_string() -> *const c_char;
        fn crypto_kdf_blake2b_derive_from_key(
            subkey: *mut u8,
            subkey_len: usize,
            subkey_id: u64,
            ctx: *const c_char,
            key: *const u8,
        ) -> c_int;
    }

    /// A libsodium call failed.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum SodiumError {
        /// `sodium_init()` returned -1.
        Init,
        /// The subkey length is outside `SUBKEY_MIN_LEN..=SUBKEY_MAX_LEN`.
        SubkeyLength(usize),
        /// `crypto_kdf_blake2b_derive_from_key` returned a non-zero status.
        Derive(i32),
    }

    impl fmt::Display for SodiumError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                SodiumError::Init => f.write_str("sodium_init() failed"),
                SodiumError::SubkeyLength(len) => write!(
                    f,
                    "subkey length {len} is not in {SUBKEY_MIN_LEN}..={SUBKEY_MAX_LEN}"
                ),
                SodiumError::Derive(status) => {
                    write!(f, "crypto_kdf_blake2b_derive_from_key returned {status}")
                }
            }
        }
    }

    impl std::error::Error for SodiumError {}

    /// Initialises libsodium; this selects its fastest BLAKE2b compression for this CPU
    /// (before it, libsodium uses its portable reference code). Safe to call more than once.
    ///
    /// # Errors
    /// [`SodiumError::Init`] when libsodium reports a failure.
    pub fn init() -> Result<(), SodiumError> {
        // SAFETY: sodium_init takes no arguments and is documented as thread-safe and callable
        // repeatedly (it returns 1 when already initialised).
        match unsafe { sodium_init() } {
            0 | 1 => Ok(()),
            _ => Err(SodiumError::Init),
        }
    }

    /// The version of the libsodium linked in, e.g. `1.0.18`.
    pub fn version() -> String {
        // SAFETY: sodium_version_string returns a pointer to a static NUL-terminated string.
        unsafe { CStr::from_ptr(sodium_version_string()) }
            .to_string_lossy()
            .into_owned()
    }

    /// `crypto_kdf_blake2b_derive_from_key(out, out.len(), subkey_id, context, key)`.
    ///
    /// # Errors
    /// [`SodiumError::SubkeyLength`] when `out.len()` is out of range (checked here, before the
    /// call); [`SodiumError::Derive`] if libsodium still refuses.
    #[inline]
    pub fn derive_from_key(
        out: &mut [u8],
        subkey_id: u64,
        context: &[u8; CONTEXT_LEN],
        key: &[u8; KEY_LEN],
    ) -> Result<(), SodiumError> {
        if !(SUBKEY_MIN_LEN..=SUBKEY_MAX_LEN).contains(&out.len()) {
            return Err(SodiumError::SubkeyLength(out.len()));
        }
        // SAFETY: `out` is valid for writes of `out.len()` bytes; libsodium reads exactly
        // CONTEXT_LEN bytes of `context` and KEY_LEN bytes of `key`, which the array types
        // guarantee; none of the buffers is retained after the call.
        let status = unsafe {
            crypto_kdf_blake2b_derive_from_key(
                out.as_mut_ptr(),
                out.len(),
                subkey_id,
                context.as_ptr().cast::<c_char>(),
                key.as_ptr(),
            )
        };
        match status {
            0 => Ok(()),
            s => Err(SodiumError::Derive(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::sodium;
    use keywheel::{MainKey, TFO_CONTEXT, derive_key};

    /// keywheel and libsodium agree for every output length and a spread of subkey ids; the
    /// bench's own guard checks only the benchmarked input.
    #[test]
    fn keywheel_matches_libsodium() {
        sodium::init().unwrap();
        let mut key = [0u8; 32];
        for (i, b) in (0u8..).zip(key.iter_mut()) {
            *b = i.wrapping_mul(37).wrapping_add(11);
        }
        let main = MainKey::from_bytes(&key).unwrap();
        for len in sodium::SUBKEY_MIN_LEN..=sodium::SUBKEY_MAX_LEN {
            for id in [0, 1, 19_675, u64::from(u32::MAX) + 7, u64::MAX] {
                for ctx in [TFO_CONTEXT, *b"\0\x01\x02\x03\xfc\xfd\xfe\xff"] {
                    let mut ours = [0u8; 64];
                    let mut theirs = [0u8; 64];
                    derive_key(&main, &ctx, id, &mut ours[..len]).unwrap();
                    sodium::derive_from_key(&mut theirs[..len], id, &ctx, &key).unwrap();
                    assert_eq!(ours, theirs, "len {len} id {id} ctx {ctx:?}");
                }
            }
        }
    }

    #[test]
    fn bad_length_is_refused_before_the_call() {
        let mut out = [0u8; 15];
        assert_eq!(
            sodium::derive_from_key(&mut out, 1, b"tofurkey", &[0; 32]),
            Err(sodium::SodiumError::SubkeyLength(15))
        );
    }
}
