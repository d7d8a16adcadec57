//! AFL target `haproxy_answers`: `keywheel_cli::fuzzing::haproxy_answers` on each input.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        keywheel_cli::fuzzing::haproxy_answers(data);
    });
}
