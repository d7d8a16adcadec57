//! A small mutation fuzzer for the unit tests (test builds only): inputs from a committed
//! corpus (`cli/fuzz/corpus/<target>/`) mutated at random (bit flips, interesting bytes,
//! inserted and deleted runs, splices, dictionary tokens), each run under `catch_unwind`; the
//! first panic fails the test, naming the input. `KEYWHEEL_FUZZ_EXECS` sets the executions per
//! target (20,000 by default: the short run of every `cargo test`), `KEYWHEEL_FUZZ_SEED` the
//! generator's seed. docs/operations.md ("Fuzzing") says why not cargo-afl or honggfuzz here.

use std::path::Path;
use std::time::Instant;

/// The executions per target of a run.
fn execs() -> u64 {
    std::env::var("KEYWHEEL_FUZZ_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// xorshift64*: reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }
}

const INTERESTING: &[u8] = b"\0\xff\x7f\x80\n\r\t \"'=[]{}#.,-_/\\0123456789";

/// Applies 1..=4 random mutations to `input`.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>], dict: &[&[u8]]) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                let b = u8::try_from(rng.next() & 0xff).unwrap_or(0);
                input.insert(i, b);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                input.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                let run: Vec<u8> = input[i..i + n].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, run);
            }
            5 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            6 if !dict.is_empty() => {
                let token = dict[rng.below(dict.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, token.iter().copied());
            }
            _ => {
                let i = rng.below(len + 1);
                input.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
        }
        if input.len() > 64 * 1024 {
            input.truncate(64 * 1024);
        }
    }
}

/// Runs `target` on the corpus of `name` (plus `extra` seeds) and on mutations of it; panics
/// on the first input that makes `target` panic. Returns the number of executions.
pub(crate) fn fuzz(
    name: &str,
    extra: &[Vec<u8>],
    dict: &[&[u8]],
    mut target: impl FnMut(&[u8]),
) -> u64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|entries| {
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            paths
                .into_iter()
                .filter_map(|p| std::fs::read(p).ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(!corpus.is_empty(), "no corpus in {}", dir.display());
    corpus.extend_from_slice(extra);
    let seed = std::env::var("KEYWHEEL_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6b65_7977_6865_656c_u64);
    let mut rng = Rng(seed | 1);
    let total = execs();
    let started = Instant::now();
    let mut pool = corpus.clone();
    let run = |target: &mut dyn FnMut(&[u8]), input: &[u8], i: u64| {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(input)));
        assert!(
            result.is_ok(),
            "fuzz target {name}: panic at execution {i} (seed {seed}) on input {:?}",
            String::from_utf8_lossy(input)
        );
    };
    for (i, input) in corpus.iter().enumerate() {
        run(&mut target, input, i as u64);
    }
    for i in 0..total {
        let mut input = pool[rng.below(pool.len())].clone();
        mutate(&mut rng, &mut input, &corpus, dict);
        run(&mut target, &input, i);
        // Drift: some mutants become parents (bounded pool).
        if rng.below(16) == 0 {
            if pool.len() < 4096 {
                pool.push(input);
            } else {
                let at = rng.below(pool.len());
                pool[at] = input;
            }
        }
    }
    eprintln!(
        "fuzz {name}: {total} executions, 0 crashes, {:.1} s (seed {seed})",
        started.elapsed().as_secs_f64()
    );
    total
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Key files as `status` and `check` parse them: every format's `names`.
    #[test]
    fn fuzz_key_file_names() {
        fuzz("key_files", &[], &[b"\n", b"=", b"AAAA"], |bytes| {
            for format in keywheel::FORMATS {
                let _ = format.names(bytes).count();
            }
        });
    }

    /// The forward-secure state file parser (core/src/forward), seeded with valid files.
    #[test]
    fn fuzz_state_file() {
        let mut seeds = Vec::new();
        for s0 in [0u64, 1, 12345, (1 << 40) - 1] {
            let state = keywheel::State::new(&[7u8; 32], s0).unwrap();
            let mut buf = vec![0u8; state.file_len()];
            let n = state.to_bytes(&mut buf).unwrap();
            buf.truncate(n);
            seeds.push(buf);
        }
        fuzz(
            "state_file",
            &seeds,
            &[&keywheel::STATE_FILE_MAGIC[..]],
            |bytes| {
                if let Ok(state) = keywheel::State::from_bytes(bytes) {
                    // What parses must write back to the same bytes.
                    let mut out = vec![0u8; state.file_len()];
                    let n = state.to_bytes(&mut out).unwrap();
                    assert_eq!(&out[..n], bytes);
                }
            },
        );
    }
}
