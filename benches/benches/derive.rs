//! `keywheel::derive_key` (16-byte output, TFO context: the normal path) timed next to
//! libsodium's `crypto_kdf_blake2b_derive_from_key` and one raw BLAKE2b compression, in one run.
//! After criterion has measured the three, a summary line gives keywheel's time as a multiple of
//! each, from this run's criterion estimates, and says whether the targets are met:
//! derive ≤ 1.10× one compression and ≤ 0.75× libsodium.
//!
//! Full:  `cargo bench -p keywheel-benches --bench derive`
//! Quick: `cargo bench -p keywheel-benches --bench derive -- --warm-up-time 1 --measurement-time 3`
//!
//! Times are the benchmark thread's CPU time ([`ThreadCpuTime`]): on a shared machine, time spent
//! preempted by other processes would otherwise inflate whichever benchmark it hit and skew the
//! ratios. `KEYWHEEL_BENCH_CLOCK=wall` measures wall-clock time instead (criterion's default).
//! With `KEYWHEEL_BENCH_ENFORCE=1` in the environment, a missed target makes the bench exit 1.

#![allow(clippy::unwrap_used)] // a benchmark aborts on any setup failure

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::slice;

use blake2::Blake2bVarCore;
use blake2::digest::block_api::{Block, UpdateCore};
use criterion::Criterion;
use criterion::measurement::Measurement;
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

fn main() -> ExitCode {
    sodium::init().unwrap();

    // The benchmarked input: a fixed (non-secret) main key, the TFO context and the primary
    // counter of a realistic slot, as the daemon derives it.
    let key: [u8; 32] = pattern(29, 0x5a);
    let main = MainKey::from_bytes(&key).unwrap();
    let subkey_id = Schedule::new(keywheel::DEFAULT_INTERVAL)
        .unwrap()
        .at(1_750_000_000)
        .unwrap()
        .primary;

    // Correctness guard: timing a derivation that gives different bytes would be meaningless.
    let mut ours = [0u8; TFO_KEY_LEN];
    let mut theirs = [0u8; TFO_KEY_LEN];
    derive_key(&main, &TFO_CONTEXT, subkey_id, &mut ours).unwrap();
    sodium::derive_from_key(&mut theirs, subkey_id, &TFO_CONTEXT, &key).unwrap();
    if ours != theirs {
        eprintln!(
            "ABORT: keywheel and libsodium {} disagree on the benchmarked input \
             (subkey id {subkey_id}): keywheel {} libsodium {}",
            sodium::version(),
            hex(&ours),
            hex(&theirs)
        );
        return ExitCode::FAILURE;
    }

    // Remove the previous run's estimates, so that the summary only ever reads this run's.
    let group_dir = criterion_home().join(GROUP);
    for id in [KEYWHEEL, LIBSODIUM, COMPRESS] {
        let _ = std::fs::remove_file(estimates_path(&group_dir, id));
    }

    let wall = match std::env::var("KEYWHEEL_BENCH_CLOCK").as_deref() {
        Ok("wall") => true,
        Ok("cpu") | Err(_) => false,
        Ok(other) => {
            eprintln!("KEYWHEEL_BENCH_CLOCK={other:?}: expected \"cpu\" (default) or \"wall\"");
            return ExitCode::FAILURE;
        }
    };
    if wall {
        run(Criterion::default(), &main, &key, subkey_id);
    } else {
        run(
            Criterion::default().with_measurement(ThreadCpuTime::default()),
            &main,
            &key,
            subkey_id,
        );
    }

    summary(&group_dir, if wall { "wall-clock" } else { "thread CPU" })
}

/// Runs the three benchmarks of [`GROUP`] with measurement `M`.
fn run<M: Measurement>(c: Criterion<M>, main: &MainKey, key: &[u8; 32], subkey_id: u64) {
    let mut c = c.configure_from_args();
    let mut group = c.benchmark_group(GROUP);
    group.bench_function(KEYWHEEL, |b| {
        b.iter(|| {
            let mut out = [0u8; TFO_KEY_LEN];
            derive_key(
                black_box(main),
                black_box(&TFO_CONTEXT),
                black_box(subkey_id),
                &mut out,
            )
            .unwrap();
            black_box(out)
        })
    });
    group.bench_function(LIBSODIUM, |b| {
        b.iter(|| {
            let mut out = [0u8; TFO_KEY_LEN];
            sodium::derive_from_key(
                &mut out,
                black_box(subkey_id),
                black_box(&TFO_CONTEXT),
                black_box(key),
            )
            .unwrap();
            black_box(out)
        })
    });
    // Exactly one call of the compression function per iteration: `update_blocks` on one
    // 128-byte block (the state just keeps absorbing the same block).
    let mut state = Blake2bVarCore::new_with_params(&[], &[], 0, 64);
    let block: Block<Blake2bVarCore> =
        core::array::from_fn::<u8, 128, _>(|i| (0u8..).nth(i).unwrap().wrapping_mul(7)).into();
    group.bench_function(COMPRESS, |b| {
        b.iter(|| black_box(&mut state).update_blocks(black_box(slice::from_ref(&block))))
    });
    group.finish();
    c.final_summary();
}

/// Prints the ratios from this run's estimates; fails only when enforcing and a target is missed.
fn summary(group_dir: &Path, clock: &str) -> ExitCode {
    let derive = median_ns(group_dir, KEYWHEEL);
    let sodium_ns = median_ns(group_dir, LIBSODIUM);
    let compress = median_ns(group_dir, COMPRESS);
    let (Some(derive), Some(sodium_ns), Some(compress)) = (derive, sodium_ns, compress) else {
        println!(
            "summary: not all three benchmarks were measured in this run (test mode, --list, \
             a filter or a loaded baseline), so no ratio is printed"
        );
        return ExitCode::SUCCESS;
    };
    let vs_compress = derive / compress;
    let vs_sodium = derive / sodium_ns;
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    let ok_compress = vs_compress <= MAX_VS_COMPRESS;
    let ok_sodium = vs_sodium <= MAX_VS_LIBSODIUM;
    println!();
    println!(
        "keywheel derive_key: {derive:.1} ns = {vs_compress:.2}x one BLAKE2b compression \
         ({compress:.1} ns), {vs_sodium:.2}x libsodium {} ({sodium_ns:.1} ns)",
        sodium::version()
    );
    println!(
        "targets: <= {MAX_VS_COMPRESS:.2}x compression {}; <= {MAX_VS_LIBSODIUM:.2}x libsodium {} \
         (criterion medians of this run, {clock} time)",
        met(ok_compress),
        met(ok_sodium)
    );
    let enforce = std::env::var_os("KEYWHEEL_BENCH_ENFORCE").is_some_and(|v| v == "1");
    if enforce && !(ok_compress && ok_sodium) {
        eprintln!("KEYWHEEL_BENCH_ENFORCE=1 and a target is not met");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
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
/// else `<cargo target dir>/criterion`, else `target/criterion`.
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
