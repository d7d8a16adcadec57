//! AFL target `config`: `keywheel_cli::fuzzing::config` on each input.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        keywheel_cli::fuzzing::config(data);
    });
}
