//! AFL target `state_file`: `keywheel_cli::fuzzing::state_file` on each input.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        keywheel_cli::fuzzing::state_file(data);
    });
}
