//! The keywheel daemon and command-line tools: the `keywheel` binary (clap subcommands) and the
//! `tofurkey` binary, a drop-in replacement for tofurkey 1.3.4. Every key, schedule and procfs
//! text comes from the `keywheel` core crate. `keywheel tfo`, `stek` and `run` are one daemon
//! loop (daemon.rs) serving targets (tfo_target.rs, stek.rs); `tofurkey` keeps its own loop
//! around the same TFO code (engine.rs) to stay byte-compatible with tofurkey 1.3.4.

mod clock;
mod config;
mod daemon;
mod engine;
mod getopt;
mod haproxy;
mod keys;
mod keywheel;
mod log;
#[doc(hidden)]
pub mod man;
mod metrics;
mod os;
mod run;
mod secret;
mod status;
mod stek;
mod stek_files;
mod tfo_target;
mod tofurkey;
mod utc;

pub use keywheel::main as keywheel_main;
pub use tofurkey::main as tofurkey_main;
