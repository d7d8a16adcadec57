//! The committed vectors must be exactly what the generator prints today.

use keywheel_vectors::{REGENERATE_COMMAND, generate_json};

const COMMITTED: &str = include_str!("../keywheel.json");

#[test]
fn committed_vectors_match_a_fresh_generation() {
    let fresh = generate_json();
    if COMMITTED != fresh {
        let line = COMMITTED
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "(one file is a prefix of the other)".to_owned(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "tests/vectors/keywheel.json differs from a fresh generation ({line}).\n\
             Regenerate it from the repository root with:\n\n    {REGENERATE_COMMAND}\n"
        );
    }
}
