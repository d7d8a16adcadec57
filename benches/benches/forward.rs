//! Forward-secure mode: leaf derivation from a state (typical and worst case), advancing by one
//! interval and from `s0 = 0` to today, and a daemon rotation's key work in forward-secure mode
//! next to the same rotation in main-key mode — in BLAKE2b compressions and in time, in one run
//! next to one raw BLAKE2b compression (the anchor).
//!
//! Full:  `cargo bench -p keywheel-benches --bench forward`
//! Quick: `cargo bench -p keywheel-benches --bench forward -- --warm-up-time 1 --measurement-time 2`
//!
//! As in `derive.rs`: criterion measures each routine, then an interleaved summary times every
//! routine in many short rounds (rotating order) and prints, per routine, the median time and
//! the median ratio to one compression measured in the same rounds. Compressions are counted by
//! the core crate itself (feature `count-compressions`): the forward-secure hashes (tree nodes,
//! label and TFO intermediate keys, checksum); `derive_key` calls (one compression each) are
//! added by this file where a routine makes them.
//!
//! Times are the thread's CPU time (`KEYWHEEL_BENCH_CLOCK=wall` for wall-clock). Targets: leaf
//! ≤ 40 compressions, advance ≤ 79, a forward-secure rotation's key work < 20 µs; with
//! `KEYWHEEL_BENCH_ENFORCE=1` a missed target makes the bench exit 1.

#![allow(clippy::unwrap_used)] // a benchmark aborts on any setup failure

use std::hint::black_box;
use std::process::ExitCode;
use std::slice;
use std::time::Duration;

use blake2::Blake2bVarCore;
use blake2::digest::block_api::{Block, UpdateCore};
use criterion::Criterion;
use criterion::measurement::{Measurement, WallTime};
use keywheel::schedule::Schedule;
use keywheel::ticket::TicketSchedule;
use keywheel::{FS_END, LabelKey, MainKey, State, Strength, compressions, tfo_keys};
use keywheel_benches::ThreadCpuTime;

/// "Today" for the benchmark: a fixed time, so that runs compare.
const TODAY: u64 = 1_765_000_000;
/// The daemon's targets: tickets every hour with one previous key, TFO keys daily.
const TICKET_INTERVAL: u64 = 3600;
const KEEP: u64 = 1;
const TFO_INTERVAL: u64 = 86_400;
const LABEL: &str = "example.com";

const ROUNDS: usize = 300;
const BATCH_TARGET: Duration = Duration::from_micros(200);

const MAX_LEAF: u64 = 40;
const MAX_ADVANCE: u64 = 79;
const MAX_ROTATION_NS: f64 = 20_000.0;

/// The oldest second a node at `now` must still derive: the oldest accepted ticket key's
/// interval and the TFO backup's (FORWARD_SECRECY.md, "Operations").
fn needed_start(now: u64) -> u64 {
    let c = now / TICKET_INTERVAL;
    let p = now / TFO_INTERVAL;
    ((c - KEEP) * TICKET_INTERVAL).min((p - 1) * TFO_INTERVAL)
}

struct Subject {
    seed: [u8; 32],
    main: MainKey,
    /// A state at the start a daemon holds today (typical leaves).
    today: State,
    /// The root state (worst-case leaves).
    root: State,
    /// A state advanced one ticket interval per call.
    walker: State,
    /// A daemon's state and clock, one rotation (an hour) per call.
    daemon: State,
    daemon_now: u64,
    tfo: Schedule,
    tickets: TicketSchedule,
    anchor: Blake2bVarCore,
    block: Block<Blake2bVarCore>,
}

impl Subject {
    fn new() -> Self {
        let seed: [u8; 32] = core::array::from_fn(|i| u8::try_from(i * 29 % 251).unwrap() ^ 0x5a);
        Subject {
            main: MainKey::from_bytes(&seed).unwrap(),
            today: State::new(&seed, needed_start(TODAY)).unwrap(),
            root: State::new(&seed, 0).unwrap(),
            walker: State::new(&seed, TODAY / TICKET_INTERVAL * TICKET_INTERVAL).unwrap(),
            daemon: State::new(&seed, needed_start(TODAY)).unwrap(),
            daemon_now: TODAY,
            seed,
            tfo: Schedule::new(TFO_INTERVAL).unwrap(),
            tickets: TicketSchedule::new(TICKET_INTERVAL, KEEP).unwrap(),
            anchor: Blake2bVarCore::new_with_params(&[], &[], 0, 64),
            block: [7u8; 128].into(),
        }
    }

    /// One BLAKE2b compression.
    fn compress(&mut self) {
        black_box(&mut self.anchor).update_blocks(black_box(slice::from_ref(&self.block)));
    }

    /// The leaf of the next ticket interval from today's state (typical).
    fn leaf_typical(&self) -> u8 {
        let s = (TODAY / TICKET_INTERVAL + 1) * TICKET_INTERVAL;
        self.today.leaf(black_box(s)).unwrap().bytes()[0]
    }

    /// The last leaf from the root state (40 levels: the worst case).
    fn leaf_worst(&self) -> u8 {
        self.root.leaf(black_box(FS_END - 1)).unwrap().bytes()[0]
    }

    /// Advances the walker by one ticket interval (restarting far before the tree's end).
    fn advance_one(&mut self) {
        let next = self.walker.s0() + TICKET_INTERVAL;
        if next >= FS_END / 2 {
            self.walker = State::new(&self.seed, TODAY).unwrap();
        }
        self.walker.advance(black_box(next)).unwrap();
    }

    /// A new state at 0 advanced to today.
    fn advance_from_zero(&self) -> usize {
        let mut state = State::new(black_box(&self.seed), 0).unwrap();
        state.advance(black_box(needed_start(TODAY))).unwrap();
        state.node_count()
    }

    /// One hourly rotation of a forward-secure daemon: the window's ticket keys (keep + 2),
    /// the TFO primary and backup, then the advance to the oldest second still needed.
    fn rotation_fs(&mut self) -> u8 {
        self.daemon_now += TICKET_INTERVAL;
        if self.daemon_now >= FS_END / 2 {
            self.daemon_now = TODAY;
            self.daemon = State::new(&self.seed, needed_start(TODAY)).unwrap();
        }
        let now = self.daemon_now;
        let slot = self.tickets.at(now).unwrap();
        let mut acc = 0u8;
        for (counter, _) in slot.window() {
            let key = self
                .daemon
                .ticket_key(LABEL, TICKET_INTERVAL, Strength::Aes256, counter)
                .unwrap();
            acc ^= key.name()[0];
        }
        let tfo = self.daemon.tfo_keys(&self.tfo, now).unwrap();
        acc ^= tfo.primary()[0];
        self.daemon.advance(needed_start(now)).unwrap();
        acc
    }

    /// The same rotation in main-key mode: label key, the window's ticket keys, TFO keys.
    fn rotation_main(&self) -> u8 {
        let now = black_box(TODAY);
        let slot = self.tickets.at(now).unwrap();
        let label = LabelKey::new(&self.main, LABEL).unwrap();
        let mut acc = 0u8;
        for (counter, _) in slot.window() {
            acc ^= label.ticket_key(Strength::Aes256, counter).name()[0];
        }
        acc ^ tfo_keys(&self.main, &self.tfo, now).unwrap().primary()[0]
    }

    fn run(&mut self, which: usize) {
        match which {
            0 => self.compress(),
            1 => _ = black_box(self.leaf_typical()),
            2 => _ = black_box(self.leaf_worst()),
            3 => self.advance_one(),
            4 => _ = black_box(self.advance_from_zero()),
            5 => _ = black_box(self.rotation_fs()),
            _ => _ = black_box(self.rotation_main()),
        }
    }
}

const NAMES: [&str; 7] = [
    "blake2b_compress",
    "fs_leaf_typical",
    "fs_leaf_worst",
    "fs_advance_one_interval",
    "fs_advance_zero_to_today",
    "fs_rotation",
    "main_key_rotation",
];

/// `derive_key` calls of one rotation (not counted by the core's counter): per ticket key a
/// name and a key, per TFO key one.
const ROTATION_DERIVES: u64 = 2 * (KEEP + 2) + 2;

/// Compressions of routine `which` over `calls` calls (the forward-secure hashes counted by
/// the core, plus `derive_key` calls), as (mean, max).
#[allow(clippy::cast_precision_loss)]
fn count(subject: &mut Subject, which: usize, calls: u64) -> (f64, u64) {
    let mut total = 0;
    let mut max = 0;
    for _ in 0..calls {
        let before = compressions();
        subject.run(which);
        let mut n = compressions() - before;
        if which == 5 {
            n += ROTATION_DERIVES;
        }
        total += n;
        max = max.max(n);
    }
    (total as f64 / calls as f64, max)
}

fn main() -> ExitCode {
    let mut subject = Subject::new();

    // Counts first (the counter is the core's; main-key mode is counted by hand: a label key
    // of a short label is 2 compressions, each derive_key 1).
    let leaf_typical = count(&mut subject, 1, 1);
    let leaf_worst = count(&mut subject, 2, 1);
    let advance_one = count(&mut subject, 3, 24 * 365);
    let advance_zero = count(&mut subject, 4, 1);
    let rotation = count(&mut subject, 5, 24 * 30);
    let main_rotation = 2 + ROTATION_DERIVES;
    let mut worst_advance = 0;
    for s1 in [1, 3, FS_END - 1, (1 << 39) + 1] {
        let mut state = State::new(&subject.seed, 0).unwrap();
        let before = compressions();
        state.advance(s1).unwrap();
        worst_advance = worst_advance.max(compressions() - before);
    }
    println!("BLAKE2b compressions (forward-secure hashes counted by keywheel; derive_key added):");
    println!(
        "  leaf, typical (state of today, next hour's leaf): {}",
        leaf_typical.1
    );
    println!("  leaf, worst case (from the root): {}", leaf_worst.1);
    println!(
        "  advance by one hour: mean {:.2}, max {} over a year of hours",
        advance_one.0, advance_one.1
    );
    println!(
        "  advance from s0 = 0 to today (with the root and root id): {}",
        advance_zero.1
    );
    println!("  advance, worst case over 0 -> {{1, 3, 2^39 + 1, 2^40 - 1}}: {worst_advance}");
    println!(
        "  daemon rotation (tickets keep {KEEP} at {TICKET_INTERVAL} s: {} keys; TFO daily; \
         advance): mean {:.1}, max {} (main-key mode: {main_rotation})",
        KEEP + 2,
        rotation.0,
        rotation.1
    );

    match std::env::var("KEYWHEEL_BENCH_CLOCK").as_deref() {
        Ok("wall") => run(
            WallTime,
            WallTime,
            &mut subject,
            "wall-clock",
            [leaf_worst.1, worst_advance],
        ),
        Ok("cpu") | Err(_) => run(
            ThreadCpuTime::default(),
            ThreadCpuTime::default(),
            &mut subject,
            "thread CPU",
            [leaf_worst.1, worst_advance],
        ),
        Ok(other) => {
            eprintln!("KEYWHEEL_BENCH_CLOCK={other:?}: expected \"cpu\" (default) or \"wall\"");
            ExitCode::FAILURE
        }
    }
}

fn run<M: Measurement<Value = Duration>>(
    for_criterion: M,
    clock: M,
    subject: &mut Subject,
    clock_name: &str,
    [leaf_max, advance_max]: [u64; 2],
) -> ExitCode {
    let mut c = Criterion::default()
        .with_measurement(for_criterion)
        .configure_from_args();
    let mut group = c.benchmark_group("forward");
    for (which, name) in NAMES.iter().enumerate() {
        group.bench_function(*name, |b| b.iter(|| subject.run(which)));
    }
    group.finish();
    c.final_summary();
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return ExitCode::SUCCESS;
    }

    // Interleaved summary.
    let per_call = interleaved(&clock, subject);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let anchor = median(&per_call[0]);
    println!();
    println!(
        "interleaved medians ({ROUNDS} rounds, {clock_name} time); one compression = {anchor:.1} ns"
    );
    let mut rotation_ns = 0.0;
    for (which, name) in NAMES.iter().enumerate().skip(1) {
        let ratios: Vec<f64> = per_call[which]
            .iter()
            .zip(&per_call[0])
            .map(|(x, y)| x / y)
            .collect();
        let ns = median(&per_call[which]);
        if which == 5 {
            rotation_ns = ns;
        }
        println!(
            "  {name:<26} {:>10.1} ns = {:>7.1}x one compression",
            ns,
            median(&ratios)
        );
    }
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    let ok = [
        leaf_max <= MAX_LEAF,
        advance_max <= MAX_ADVANCE,
        rotation_ns < MAX_ROTATION_NS,
    ];
    println!(
        "targets: leaf <= {MAX_LEAF} compressions {} ({leaf_max}); advance <= {MAX_ADVANCE} {} \
         ({advance_max}); forward-secure rotation < 20 us {} ({:.1} us)",
        met(ok[0]),
        met(ok[1]),
        met(ok[2]),
        rotation_ns / 1000.0
    );
    let enforce = std::env::var_os("KEYWHEEL_BENCH_ENFORCE").is_some_and(|v| v == "1");
    if enforce && ok.contains(&false) {
        eprintln!("KEYWHEEL_BENCH_ENFORCE=1 and a target is not met");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Per-call times (ns) of every routine in [`ROUNDS`] interleaved rounds.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn interleaved<M: Measurement<Value = Duration>>(
    clock: &M,
    subject: &mut Subject,
) -> Vec<Vec<f64>> {
    let time = |subject: &mut Subject, which: usize, batch: u64| -> f64 {
        let start = clock.start();
        for _ in 0..batch {
            subject.run(which);
        }
        clock.to_f64(&clock.end(start)) / batch as f64
    };
    // A batch size per routine, so that each batch takes about BATCH_TARGET.
    let batches: Vec<u64> = (0..NAMES.len())
        .map(|which| {
            let probe = time(subject, which, 200).max(1.0);
            ((BATCH_TARGET.as_nanos() as f64 / probe) as u64).max(5)
        })
        .collect();
    let mut per_call = vec![Vec::new(); NAMES.len()];
    for round in 0..ROUNDS {
        for k in 0..NAMES.len() {
            let which = (round + k) % NAMES.len();
            per_call[which].push(time(subject, which, batches[which]));
        }
    }
    per_call
}
