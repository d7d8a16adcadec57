//! AFL target `key_files`: `keywheel_cli::fuzzing::key_files` on each input.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        keywheel_cli::fuzzing::key_files(data);
    });
}
