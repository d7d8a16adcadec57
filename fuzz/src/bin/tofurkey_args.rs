//! AFL target `tofurkey_args`: `keywheel_cli::fuzzing::tofurkey_args` on each input.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        keywheel_cli::fuzzing::tofurkey_args(data);
    });
}
