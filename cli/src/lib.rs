//! The keywheel daemon and command-line tools: the `keywheel` binary (clap subcommands) and the
//! `tofurkey` binary, a drop-in replacement for tofurkey 1.3.4. Both run one engine that takes
//! every key, schedule and procfs text from the `keywheel` core crate.

mod engine;
mod getopt;
mod haproxy;
mod keywheel;
mod os;
mod stek;
mod stek_files;
mod tofurkey;
mod utc;

pub use keywheel::main as keywheel_main;
pub use tofurkey::main as tofurkey_main;
