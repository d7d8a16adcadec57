//! `tofurkey`: a drop-in replacement for tofurkey 1.3.4 (same flags, output, keys).

fn main() {
    keywheel_cli::tofurkey_main();
}
