//! The keywheel daemon and command-line tools: the `keywheel` binary (clap subcommands) and the
//! `tofurkey` binary, a drop-in replacement for tofurkey 1.3.4. Every key, schedule and procfs
//! text comes from the `keywheel` core crate.
//!
//! Layers, each importing only from the ones above it in this list (checked by
//! tests/layering.rs; README "Layout"):
//! - [`sys`]: the operating system, clock, log lines, atomic files, the reload command;
//! - [`daemon`]: the wake-up loop, the `Target` trait, key sources, stats and metrics;
//! - [`servers`]: one file per server behind the `Server` trait (nginx, HAProxy, ...);
//! - [`targets`]: TCP Fast Open keys and session-ticket keys, the daemon's targets;
//! - [`config`]: the configuration file; [`report`]: the status model (no printing);
//! - [`cmd`]: one file per `keywheel` subcommand; [`tofurkey`]: the tofurkey front end;
//! - [`man`]: the man pages of both; `fuzzing` (feature `fuzz`): the AFL targets of `fuzz/`.

mod sys;

mod daemon;

mod servers;

mod targets;

mod config;
mod report;

mod cmd;
mod tofurkey;

#[doc(hidden)]
pub mod man;

#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzzing;

pub use cmd::main as keywheel_main;
pub use tofurkey::main as tofurkey_main;
