//! `keywheel state`: the forward-secure state files (docs/forward-secrecy.md). `new` makes a
//! fresh random seed (getrandom) and writes the state at a start time (the seed itself is
//! wiped unless `--write-seed` asks for it), `advance` moves a state file forward (never
//! backwards) and replaces it atomically, wiping the old contents, `show` prints what is
//! public: start, root id, node count, and which configured targets the state can serve.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use keywheel::{FS_END, FS_SEED_LEN, State};
use zeroize::Zeroizing;

use crate::cmd::{fail, load_or_report, now_or};
use crate::sys::files::{self, Perms};
use crate::sys::log::stderr_line;
use crate::sys::os;
use crate::sys::state_file;
use crate::sys::text::hex;
use crate::sys::utc::utc;
use crate::targets::forward::{parse_duration, tfo_floor, ticket_floor};
use crate::targets::values::parse_time;

pub(crate) const HELP: &str = "\
Exit status: 0 done, 1 runtime error (file exists, cannot write, not on tmpfs, state would go
backwards, malformed state file), 2 usage error. Nothing is written when anything is wrong.

A state holds no secret older than its start: every node derives the same keys from it, and a
stolen state reveals no key of an interval before its start. Runbook: docs/forward-secrecy.md.

Examples:
  keywheel state new /run/keywheel/fs.state --before 1d
  keywheel state advance /run/keywheel/fs.state --before 1d
  keywheel state show /run/keywheel/fs.state --config /etc/keywheel/keywheel.toml";

#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Make a new random seed (getrandom) and write its state at a start time (mode 0600,
    /// never overwriting). Prints the root id, the public name of the seed.
    ///
    /// The seed is wiped from memory once the state is made, unless --write-seed asks to keep
    /// it. The state derives the keys of every second from its start on: to serve at once
    /// targets that keep previous keys, start it at least (keep + 1) intervals back
    /// (--before).
    #[command(after_help = HELP)]
    New(NewArgs),

    /// Move a state file forward to a later start, replacing it atomically and wiping its old
    /// contents: afterwards no key of an interval before the new start can be derived from it.
    /// Refuses to go backwards.
    #[command(after_help = HELP)]
    Advance(AdvanceArgs),

    /// Print a state's public facts: start (unix and UTC), root id, node count, and with
    /// --config which configured targets it can still serve. No secret is printed.
    #[command(after_help = HELP)]
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The state file to create (its directory must exist; it must not exist).
    #[arg(value_name = "OUT")]
    out: PathBuf,

    /// The start: the first unix second (1000000..=100000000000) the state derives.
    /// Default: now.
    #[arg(long, value_name = "UNIX", value_parser = parse_time, conflicts_with = "before")]
    start: Option<u64>,

    /// Start this long before now (seconds, or with a unit: 90m, 2h, 1d, 1w).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    before: Option<u64>,

    /// Also write the seed itself to this new file (mode 0600). Whoever holds it computes
    /// every key of this seed, past and future: keep it offline, or better, do not ask for it.
    #[arg(long, value_name = "FILE")]
    write_seed: Option<PathBuf>,

    /// Allow writing to a filesystem other than tmpfs or ramfs (the state may then reach disk).
    #[arg(long)]
    allow_persistent: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AdvanceArgs {
    /// The state file to advance (replaced atomically).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// The new start (unix seconds, 1000000..=100000000000).
    #[arg(long, value_name = "UNIX", value_parser = parse_time, required_unless_present = "before", conflicts_with = "before")]
    to: Option<u64>,

    /// The new start is this long before now (seconds, or 90m, 2h, 1d, 1w).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    before: Option<u64>,

    /// The time "now" of --before (unix seconds) instead of the clock.
    #[arg(long, value_name = "UNIX", value_parser = parse_time)]
    time: Option<u64>,

    /// Allow a state file on a filesystem other than tmpfs or ramfs.
    #[arg(long)]
    allow_persistent: bool,

    /// Accept a state file that group or others may access.
    #[arg(long)]
    allow_insecure_key_file: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The state file.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Also tell, for every target of this configuration file, whether the state reaches back
    /// to the oldest key it installs now.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// "Now" for --config (unix seconds) instead of the clock.
    #[arg(long, value_name = "UNIX", value_parser = parse_time)]
    time: Option<u64>,
}

/// Runs `keywheel state`.
pub(crate) fn run(args: &StateArgs) -> ExitCode {
    // Seeds and states: locked in memory (as root), never in a core dump.
    if !matches!(args.command, StateCommand::Show(_)) {
        if let Err(msg) = os::harden() {
            return fail(&msg);
        }
    }
    match &args.command {
        StateCommand::New(a) => new(a),
        StateCommand::Advance(a) => advance(a),
        StateCommand::Show(a) => show(a),
    }
}

/// `now - before` (or `now`), checked.
fn back_from(now: u64, before: Option<u64>) -> Result<u64, String> {
    let Some(d) = before else { return Ok(now) };
    now.checked_sub(d)
        .ok_or_else(|| format!("--before {d} s reaches before 1970-01-01 (now is {now})"))
}

/// Fails when `path` exists (before anything is written).
fn must_not_exist(path: &Path, what: &str) -> Result<(), String> {
    match fs::symlink_metadata(path) {
        Ok(_) => Err(format!(
            "{} exists; refusing to overwrite {what}",
            path.display()
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot stat {}: {e}", path.display())),
    }
}

fn memory_fs(path: &Path, allow_persistent: bool) -> Result<(), String> {
    if allow_persistent {
        return Ok(());
    }
    files::check_memory_fs(files::parent_dir(path))
        .map_err(|e| e.replacen("output directory", "the directory of", 1))
}

fn new(args: &NewArgs) -> ExitCode {
    match try_new(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => fail(&msg),
    }
}

fn try_new(args: &NewArgs) -> Result<(), String> {
    let s0 = match args.start {
        Some(t) => t,
        None => back_from(now_or(None)?, args.before)?,
    };
    must_not_exist(&args.out, "a state file")?;
    memory_fs(&args.out, args.allow_persistent)?;
    if let Some(seed_path) = &args.write_seed {
        if seed_path == &args.out {
            return Err("--write-seed must name another file than the state".to_owned());
        }
        must_not_exist(seed_path, "a seed file")?;
        memory_fs(seed_path, args.allow_persistent)?;
    }
    let mut seed = Zeroizing::new([0u8; FS_SEED_LEN]);
    getrandom::fill(&mut seed[..]).map_err(|e| format!("getrandom() failed: {e}"))?;
    let state = State::new(&seed[..], s0).map_err(|e| e.to_string())?;
    state_file::create_state(&args.out, &state)?;
    if let Some(seed_path) = &args.write_seed {
        if let Err(e) = files::create_new(seed_path, &seed[..], "a seed file") {
            // Nothing half-written: the state of a seed nobody kept goes too.
            let _ = state_file::remove_state(&args.out);
            return Err(e);
        }
    }
    drop(seed);
    let id = hex(&state.root_id());
    stderr_line(
        "info: ",
        &format!(
            "wrote a new forward-secure state to {} (root id {id}, start {s0} = {}, {} nodes, \
             mode 0600){}",
            args.out.display(),
            utc(s0),
            state.node_count(),
            match &args.write_seed {
                Some(p) => format!("; the seed is in {} — keep it offline", p.display()),
                None => "; the seed was not kept".to_owned(),
            }
        ),
    );
    println!("{id}");
    Ok(())
}

fn advance(args: &AdvanceArgs) -> ExitCode {
    match try_advance(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => fail(&msg),
    }
}

fn try_advance(args: &AdvanceArgs) -> Result<(), String> {
    let mut state =
        state_file::read_state(&args.file, "state file", !args.allow_insecure_key_file)?;
    let to = match args.to {
        Some(t) => t,
        None => back_from(now_or(args.time)?, args.before)?,
    };
    let s0 = state.s0();
    if to < s0 {
        return Err(format!(
            "state file {} starts at {s0} ({}); refusing to go backwards to {to} ({}): the \
             keys before its start were punctured and cannot come back",
            args.file.display(),
            utc(s0),
            utc(to)
        ));
    }
    if to >= FS_END {
        return Err(format!(
            "{to} is past the last second of the tree ({})",
            FS_END - 1
        ));
    }
    if to == s0 {
        stderr_line(
            "info: ",
            &format!(
                "state file {} already starts at {s0} ({}); nothing to do",
                args.file.display(),
                utc(s0)
            ),
        );
        return Ok(());
    }
    memory_fs(&args.file, args.allow_persistent)?;
    state.advance(to).map_err(|e| e.to_string())?;
    state_file::replace_state(&args.file, &state, Perms::secret(None))?;
    stderr_line(
        "info: ",
        &format!(
            "advanced {} (root id {}) from {s0} ({}) to {to} ({}); {} nodes; the old contents \
             were wiped",
            args.file.display(),
            hex(&state.root_id()),
            utc(s0),
            utc(to),
            state.node_count()
        ),
    );
    Ok(())
}

fn show(args: &ShowArgs) -> ExitCode {
    let state = match state_file::read_state(&args.file, "state file", false) {
        Ok(s) => s,
        Err(msg) => return fail(&msg),
    };
    let s0 = state.s0();
    let mut out = format!(
        "state file {}\nroot id {}\nstart {s0} ({})\nnodes {} ({} bytes)\n",
        args.file.display(),
        hex(&state.root_id()),
        utc(s0),
        state.node_count(),
        state.file_len()
    );
    if let Some(path) = &args.config {
        let config = match load_or_report(path) {
            Ok(c) => c,
            Err(code) => return code,
        };
        let now = match now_or(args.time) {
            Ok(t) => t,
            Err(msg) => return fail(&msg),
        };
        out.push_str(&format!(
            "at {now} ({}), config {}:\n",
            utc(now),
            path.display()
        ));
        let mut rows: Vec<(String, u64, u64)> = Vec::new();
        if let Some(tfo) = &config.tfo {
            let interval = tfo.schedule.interval();
            rows.push(("tfo".to_owned(), tfo_floor(&tfo.schedule, now), interval));
        }
        for (spec, _) in &config.stek {
            let floor = ticket_floor(spec.interval, spec.keep, now);
            rows.push((format!("stek {}", spec.name), floor, spec.interval));
        }
        for (name, floor, interval) in rows {
            if floor >= s0 {
                out.push_str(&format!(
                    "  {name}: can serve (its oldest key starts at {floor}, {})\n",
                    utc(floor)
                ));
            } else {
                out.push_str(&format!(
                    "  {name}: cannot serve: its oldest key starts at {floor} ({}), before the \
                     state's start; it can from {} on\n",
                    utc(floor),
                    utc((now / interval + (s0 - floor).div_ceil(interval)) * interval)
                ));
            }
        }
    }
    print!("{out}");
    ExitCode::SUCCESS
}
