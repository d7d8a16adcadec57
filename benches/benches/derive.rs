//! `keywheel::derive_key` (16-byte output, TFO context: the normal path) timed next to
//! libsodium's `crypto_kdf_blake2b_derive_from_key` and one raw BLAKE2b compression, in one run.
//!
//! Full:  `cargo bench -p keywheel-benches --bench derive`
//! Quick: `cargo bench -p keywheel-benches --bench derive -- --warm-up-time 1 --measurement-time 3`
//!
//! Criterion measures the three one after the other. On a shared machine their speed drifts
//! between those measurements (other processes, CPU clock), which skews a ratio of separately
//! measured times. So after criterion, the summary measures the three *interleaved*: many short
//! rounds, each timing a batch of every routine back to back (in rotating order); each round gives
//! a ratio, and the summary prints the medians. Criterion's own medians (read from its
//! `estimates.json` of this run) are printed next to them as a cross-check.
//!
//! Times are the benchmark thread's CPU time ([`ThreadCpuTime`]), so time spent preempted by
//! other processes does not count; `KEYWHEEL_BENCH_CLOCK=wall` measures wall-clock time instead
//! (criterion's default). Targets: derive ≤ 1.10× one compression and ≤ 0.75× libsodium; with
//! `KEYWHEEL_BENCH_ENFORCE=1` a missed target makes the bench exit 1.

#![allow(clippy::unwrap_used)] // a benchmark aborts on any setup failure

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::slice;
use std::time::Duration;

use blake2::Blake2bVarCore;
use blake2::digest::block_api::{Block, UpdateCore};
use criterion::Criterion;
use criterion::measurement::{Measurement, WallTime};
use keywheel::{MainKey, Schedule, TFO_CONTEXT, TFO_KEY_LEN, derive_key};
use keywheel_benches::{ThreadCpuTime, sodium};

/// Criterion group holding the three benchmarks.
const GROUP: &str = "derive16_tfo";
/// Benchmark ids within [`GROUP`] (also criterion's directory names).
const KEYWHEEL: &str = "keywheel_derive_key";
const LIBSODIUM: &str = "libsodium_derive_from_key";
const COMPRESS: &str = "blake2b_compress";

/// Targets: keywheel's time divided by the reference's.
const MAX_VS_COMPRESS: f64 = 1.10;
const MAX_VS_LIBSODIUM: f64 = 0.75;

/// Interleaved summary: rounds, and the time one batch of one routine should take.
const ROUNDS: usize = 1000;
const BATCH_TARGET: Duration = Duration::from_micros(100);

/// What is timed: the inputs and the three routines, one call each.
struct Subject {
    main: MainKey,
    key: [u8; 32],
    subkey_id: u64,
    state: Blake2bVarCore,
    block: Block<Blake2bVarCore>,
}

impl Subject {
    fn new() -> Self {
        // A fixed (non-secret) main key, the TFO context and the primary counter of a
        // realistic slot, as the daemon derives it.
        let key: [u8; 32] = pattern(29, 0x5a);
        Subject {
            main: MainKey::from_bytes(&key).unwrap(),
            key,
            subkey_id: Schedule::new(keywheel::DEFAULT_INTERVAL)
                .unwrap()
                .at(1_750_000_000)
                .unwrap()
                .primary(),
            state: Blake2bVarCore::new_with_params(&[], &[], 0, 64),
            block: pattern::<128>(7, 0).into(),
        }
    }

    #[inline(always)]
    fn keywheel(&self) -> [u8; TFO_KEY_LEN] {
        let mut out = [0u8; TFO_KEY_LEN];
        derive_key(
            black_box(&self.main),
            black_box(&TFO_CONTEXT),
            black_box(self.subkey_id),
            &mut out,
        )
        .unwrap();
        out
    }

    #[inline(always)]
    fn libsodium(&self) -> [u8; TFO_KEY_LEN] {
        let mut out = [0u8; TFO_KEY_LEN];
        sodium::derive_from_key(
            &mut out,
            black_box(self.subkey_id),
            black_box(&TFO_CONTEXT),
            black_box(&self.key),
        )
        .unwrap();
        out
    }

    /// Exactly one call of the compression function: `update_blocks` on one 128-byte block
    /// (the state just keeps absorbing the same block).
    #[inline(always)]
    fn compress(&mut self) {
        black_box(&mut self.state).update_blocks(black_box(slice::from_ref(&self.block)));
    }
}

fn main() -> ExitCode {
    sodium::init().unwrap();
    let mut subject = Subject::new();

    // Correctness guard: timing a derivation that gives different bytes would be meaningless.
    let (ours, theirs) = (subject.keywheel(), subject.libsodium());
    if ours != theirs {
        eprintln!(
            "ABORT: keywheel and libsodium {} disagree on the benchmarked input \
             (subkey id {}): keywheel {} libsodium {}",
            sodium::version(),
            subject.subkey_id,
            hex(&ours),
            hex(&theirs)
        );
        return ExitCode::FAILURE;
    }

    // Remove the previous run's estimates, so that only this run's are ever read.
    let group_dir = criterion_home().join(GROUP);
    for id in [KEYWHEEL, LIBSODIUM, COMPRESS] {
        let _ = std::fs::remove_file(estimates_path(&group_dir, id));
    }

    match std::env::var("KEYWHEEL_BENCH_CLOCK").as_deref() {
        Ok("wall") => run(WallTime, WallTime, &mut subject, &group_dir, "wall-clock"),
        Ok("cpu") | Err(_) => run(
            ThreadCpuTime::default(),
            ThreadCpuTime::default(),
            &mut subject,
            &group_dir,
            "thread CPU",
        ),
        Ok(other) => {
            eprintln!("KEYWHEEL_BENCH_CLOCK={other:?}: expected \"cpu\" (default) or \"wall\"");
            ExitCode::FAILURE
        }
    }
}

/// Runs the three benchmarks of [`GROUP`] with criterion measuring with `for_criterion`, then
/// the interleaved summary measuring with `for_summary` (the same kind of clock).
fn run<M: Measurement<Value = Duration>>(
    for_criterion: M,
    for_summary: M,
    subject: &mut Subject,
    group_dir: &Path,
    clock: &str,
) -> ExitCode {
    let mut c = Criterion::default()
        .with_measurement(for_criterion)
        .configure_from_args();
    let mut group = c.benchmark_group(GROUP);
    group.bench_function(KEYWHEEL, |b| b.iter(|| subject.keywheel()));
    group.bench_function(LIBSODIUM, |b| b.iter(|| subject.libsodium()));
    group.bench_function(COMPRESS, |b| b.iter(|| subject.compress()));
    group.finish();
    c.final_summary();

    let criterion = [KEYWHEEL, LIBSODIUM, COMPRESS].map(|id| median_ns(group_dir, id));
    let [Some(c_derive), Some(c_sodium), Some(c_compress)] = criterion else {
        println!(
            "summary: not all three benchmarks were measured in this run (test mode, --list, \
             a filter or a loaded baseline), so no ratio is printed"
        );
        return ExitCode::SUCCESS;
    };
    summary(
        &interleaved(&for_summary, subject),
        [c_derive, c_sodium, c_compress],
        clock,
    )
}

/// Medians over the interleaved rounds: ns per call of each routine and the two ratios.
struct Paired {
    derive: f64,
    sodium: f64,
    compress: f64,
    vs_compress: f64,
    vs_sodium: f64,
    rounds: usize,
    batch: u64,
}

/// Times the three routines in [`ROUNDS`] interleaved rounds of `batch` calls each.
// Call counts and nanoseconds are far below 2^53; the batch size is a small positive count.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn interleaved<M: Measurement<Value = Duration>>(clock: &M, subject: &mut Subject) -> Paired {
    let time = |subject: &mut Subject, which: usize, batch: u64| -> f64 {
        let start = clock.start();
        match which {
            0 => (0..batch).for_each(|_| _ = black_box(subject.keywheel())),
            1 => (0..batch).for_each(|_| _ = black_box(subject.libsodium())),
            _ => (0..batch).for_each(|_| subject.compress()),
        }
        clock.to_f64(&clock.end(start)) / batch as f64
    };
    // Calibrate the batch on the slowest expected routine so a batch takes ~BATCH_TARGET.
    let probe = time(subject, 1, 10_000).max(1.0);
    let batch = ((BATCH_TARGET.as_nanos() as f64 / probe) as u64).max(10);
    let mut per_call = [const { Vec::new() }; 3];
    for round in 0..ROUNDS {
        for k in 0..3 {
            let which = (round + k) % 3;
            per_call[which].push(time(subject, which, batch));
        }
    }
    let ratio = |a: &[f64], b: &[f64]| median(a.iter().zip(b).map(|(x, y)| x / y).collect());
    Paired {
        vs_compress: ratio(&per_call[0], &per_call[2]),
        vs_sodium: ratio(&per_call[0], &per_call[1]),
        derive: median(per_call[0].clone()),
        sodium: median(per_call[1].clone()),
        compress: median(per_call[2].clone()),
        rounds: ROUNDS,
        batch,
    }
}

/// Prints the summary; fails only when enforcing and a target is missed.
fn summary(p: &Paired, [c_derive, c_sodium, c_compress]: [f64; 3], clock: &str) -> ExitCode {
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    let ok_compress = p.vs_compress <= MAX_VS_COMPRESS;
    let ok_sodium = p.vs_sodium <= MAX_VS_LIBSODIUM;
    println!();
    println!(
        "keywheel derive_key: {:.1} ns = {:.2}x one BLAKE2b compression ({:.1} ns), \
         {:.2}x libsodium {} ({:.1} ns)",
        p.derive,
        p.vs_compress,
        p.compress,
        p.vs_sodium,
        sodium::version(),
        p.sodium
    );
    println!(
        "targets: <= {MAX_VS_COMPRESS:.2}x compression {}; <= {MAX_VS_LIBSODIUM:.2}x libsodium {}",
        met(ok_compress),
        met(ok_sodium)
    );
    println!(
        "(medians of {} interleaved rounds of {} calls, {clock} time; criterion's medians above: \
         {c_derive:.1} / {c_compress:.1} / {c_sodium:.1} ns = {:.2}x compression, {:.2}x libsodium)",
        p.rounds,
        p.batch,
        c_derive / c_compress,
        c_derive / c_sodium
    );
    let enforce = std::env::var_os("KEYWHEEL_BENCH_ENFORCE").is_some_and(|v| v == "1");
    if enforce && !(ok_compress && ok_sodium) {
        eprintln!("KEYWHEEL_BENCH_ENFORCE=1 and a target is not met");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Criterion's median time per iteration (ns) for `id`, if it was measured in this run.
fn median_ns(group_dir: &Path, id: &str) -> Option<f64> {
    let path = estimates_path(group_dir, id);
    let text = std::fs::read_to_string(&path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not criterion's estimates JSON: {e}", path.display()));
    let ns = json["median"]["point_estimate"].as_f64();
    assert!(ns.is_some(), "{}: no median.point_estimate", path.display());
    ns
}

fn estimates_path(group_dir: &Path, id: &str) -> PathBuf {
    group_dir.join(id).join("new").join("estimates.json")
}

/// Where criterion 0.5 writes its results, found as criterion itself does: `$CRITERION_HOME`,
/// else `$CARGO_TARGET_DIR/criterion`, else `<cargo metadata's target dir>/criterion`, else
/// `target/criterion`.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let metadata = std::env::var_os("CARGO").and_then(|cargo| {
        Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .ok()
    });
    metadata
        .and_then(|out| serde_json::from_slice::<serde_json::Value>(&out.stdout).ok())
        .and_then(|v| v["target_directory"].as_str().map(PathBuf::from))
        .map_or_else(
            || PathBuf::from("target/criterion"),
            |t| t.join("criterion"),
        )
}

/// `N` bytes `i * mul ^ xor` (wrapping), `i` counting from 0.
fn pattern<const N: usize>(mul: u8, xor: u8) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, b) in (0..=u8::MAX).cycle().zip(out.iter_mut()) {
        *b = i.wrapping_mul(mul) ^ xor;
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
