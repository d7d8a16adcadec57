//! Session-ticket seeds for Go's `crypto/tls` (`Config.SetSessionTicketKeys`) and Caddy: one
//! 32-byte seed per label and interval counter (SPEC.md §4.5).
//!
//! Go hashes each seed with SHA-512 into a key name (bytes 0..16), an AES-128 key (16..32) and
//! an HMAC-SHA256 key (32..48); the first seed of the list encrypts and every seed decrypts.

use core::fmt;

use zeroize::ZeroizeOnDrop;

use crate::{Error, LabelKey, MainKey, Role, TicketSlot};

/// Length in bytes of one Go session-ticket seed.
pub const GO_SEED_LEN: usize = 32;
/// The KDF context of Go session-ticket seeds: "keywheel ticket seed, Go, 32 bytes".
pub const GO_SEED_CONTEXT: [u8; 8] = *b"kwts-g32";

/// The Go seeds of one label: holds the label key (SPEC.md §4.1), wiped on drop; `Debug` shows
/// no key bytes. (Forward-secure mode: [`crate::TicketKeys::go_seed`].)
pub struct GoSeeds {
    label_key: LabelKey,
}

/// One 32-byte seed. Wiped on drop; `Debug` shows the counter only.
#[derive(ZeroizeOnDrop)]
pub struct GoSeed {
    #[zeroize(skip)]
    counter: u64,
    seed: [u8; GO_SEED_LEN],
}

impl GoSeeds {
    /// The seeds of `label` (1..=64 bytes of UTF-8) under `main`.
    ///
    /// # Errors
    /// [`Error::LabelLength`] when `label` is empty or longer than [`crate::MAX_LABEL_LEN`] bytes.
    pub fn new(main: &MainKey, label: &str) -> Result<Self, Error> {
        Ok(GoSeeds {
            label_key: LabelKey::new(main, label)?,
        })
    }

    /// The seed of interval `counter`: `derive_key(LK, "kwts-g32", counter, 32)`.
    pub fn seed(&self, counter: u64) -> GoSeed {
        self.label_key.go_seed(counter)
    }

    /// The role of the `i`-th seed of a window in Go's order: current, next, then previous
    /// 1..=keep; `None` past the end.
    pub const fn role(slot: &TicketSlot, i: u64) -> Option<Role> {
        match i {
            0 => Some(Role::Current),
            1 => Some(Role::Next),
            n if n - 1 <= slot.keep() => Some(Role::Previous(n - 1)),
            _ => None,
        }
    }

    /// How many bytes [`GoSeeds::write_window`] writes for `slot`: `(keep + 2) × 32`.
    pub const fn window_len(slot: &TicketSlot) -> usize {
        // keep ≤ 60478 (interval ≥ 10, 7 days): no overflow.
        #[allow(clippy::cast_possible_truncation)]
        let n = (slot.keep() + 2) as usize;
        n * GO_SEED_LEN
    }

    /// Writes the seeds of `slot`'s window, concatenated in Go's order (current — the one that
    /// encrypts —, next, previous 1, …, previous keep), into the start of `out`, and returns the
    /// number of bytes written ([`GoSeeds::window_len`]).
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `out` is shorter; `out` is then untouched.
    pub fn write_window(&self, slot: &TicketSlot, out: &mut [u8]) -> Result<usize, Error> {
        let needed = Self::window_len(slot);
        let Some(out) = out.get_mut(..needed) else {
            return Err(Error::BufferTooSmall {
                len: out.len(),
                needed,
            });
        };
        for (i, chunk) in (0..).zip(out.chunks_exact_mut(GO_SEED_LEN)) {
            if let Some(counter) = Self::role(slot, i).and_then(|r| slot.counter(r)) {
                chunk.copy_from_slice(self.seed(counter).bytes());
            }
        }
        Ok(needed)
    }
}

impl fmt::Debug for GoSeeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GoSeeds(..)")
    }
}

impl GoSeed {
    /// A seed of interval `counter` whose 32 bytes `derive` writes in place.
    pub(crate) fn derived(counter: u64, derive: impl FnOnce(&mut [u8; GO_SEED_LEN])) -> Self {
        let mut seed = GoSeed {
            counter,
            seed: [0; GO_SEED_LEN],
        };
        derive(&mut seed.seed);
        seed
    }

    /// The interval counter of this seed.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The 32 bytes, as `SetSessionTicketKeys` takes them.
    pub fn bytes(&self) -> &[u8; GO_SEED_LEN] {
        &self.seed
    }
}

impl fmt::Debug for GoSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GoSeed { counter: ")?;
        fmt::Display::fmt(&self.counter, f)?;
        f.write_str(", .. }")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
    use super::*;
    use crate::TicketSchedule;

    fn unhex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0);
        }
        out
    }

    // Expected values from Python's hashlib alone (tests/servers/reference.py `go_seed`, which
    // implements SPEC.md §4.1 and §4.5 without keywheel), main key bytes 0..=31:
    //   hashlib.blake2b(b"", digest_size=32, key=LK, salt=LE64(n) + bytes(8),
    //                   person=b"kwts-g32" + bytes(8))
    // with LK = hashlib.blake2b(label, digest_size=32, key=M, person=b"keywheel.label").
    const MAIN: [u8; 32] = {
        let mut m = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            m[i] = i as u8;
            i += 1;
        }
        m
    };
    const VECTORS: [(&str, u64, &str); 5] = [
        (
            "web",
            0,
            "d403490045d65cf0c78d108c5d7140e47a1eb18c7d957da523cfb8cd93674c9e",
        ),
        (
            "web",
            19675,
            "f84f992475bcb7d72963db6da1b4e096a26e67cc7c4731f81cd6aae21ad48839",
        ),
        (
            "web",
            19676,
            "e40908d90bf6f55ba4abdf09d08387f51646166dfb9515849c45d76062b6c2bc",
        ),
        (
            "other",
            19675,
            "d11696d34270012011b0d36fbd15779902de17c995b651ae49b66a84d1405849",
        ),
        (
            "é-cluster",
            u64::MAX,
            "5c66914a856bab0608bfbc38d6e5a29b6a98ed759b8d045837758901f3d4a1ad",
        ),
    ];

    fn main_key() -> MainKey {
        MainKey::from_bytes(&MAIN).unwrap()
    }

    #[test]
    fn seeds_match_python_hashlib() {
        for (label, counter, hex) in VECTORS {
            let seeds = GoSeeds::new(&main_key(), label).unwrap();
            let seed = seeds.seed(counter);
            assert_eq!(seed.bytes(), &unhex::<32>(hex), "{label} {counter}");
            assert_eq!(seed.counter(), counter);
        }
    }

    #[test]
    fn window_is_current_next_previous() {
        // interval 86400, keep 2, now 1700000000: current 19675.
        let slot = TicketSchedule::new(86_400, 2)
            .and_then(|s| s.at(1_700_000_000))
            .unwrap();
        let seeds = GoSeeds::new(&main_key(), "web").unwrap();
        let mut out = [0xaau8; 4 * 32 + 1];
        assert_eq!(seeds.write_window(&slot, &mut out), Ok(128));
        assert_eq!(
            &out[..128],
            &unhex::<128>(
                "f84f992475bcb7d72963db6da1b4e096a26e67cc7c4731f81cd6aae21ad48839e40908d90bf6f55ba4abdf09d08387f51646166dfb9515849c45d76062b6c2bcdf356705fe94ac706ee437dd5da2ab208f72acd1b217a7d49c050a30b64d2c4687b344ffd24dbfda0d032a4255282e568783786c52911d8f3dcb8c47ef1ecce6"
            )[..]
        );
        assert_eq!(out[128], 0xaa, "nothing written past the window");
        let mut short = [0u8; 127];
        assert_eq!(
            seeds.write_window(&slot, &mut short),
            Err(Error::BufferTooSmall {
                len: 127,
                needed: 128
            })
        );
        assert_eq!(short, [0u8; 127], "untouched on error");
    }

    #[test]
    fn bad_labels_are_refused() {
        assert_eq!(
            GoSeeds::new(&main_key(), "").map(|_| ()),
            Err(Error::LabelLength { len: 0 })
        );
        let long = "x".repeat(65);
        assert_eq!(
            GoSeeds::new(&main_key(), &long).map(|_| ()),
            Err(Error::LabelLength { len: 65 })
        );
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let seeds = GoSeeds::new(&main_key(), "web").unwrap();
        let s = alloc_free_debug(&seeds.seed(7));
        assert_eq!(s.as_str(), "GoSeed { counter: 7, .. }");
    }

    // A tiny fixed buffer for Debug output (no_std: no String).
    struct Buf {
        b: [u8; 64],
        n: usize,
    }
    impl Buf {
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.b[..self.n]).unwrap_or("")
        }
    }
    impl fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.n + s.len();
            self.b
                .get_mut(self.n..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.n = end;
            Ok(())
        }
    }
    fn alloc_free_debug(v: &dyn fmt::Debug) -> Buf {
        let mut b = Buf { b: [0; 64], n: 0 };
        let _ = fmt::write(&mut b, format_args!("{v:?}"));
        b
    }
}
