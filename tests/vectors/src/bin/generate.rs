//! Prints the shared test vectors. From the repository root:
//!
//! ```text
//! cargo run -p keywheel-vectors --bin generate > tests/vectors/keywheel.json
//! ```

use std::io::Write;

fn main() -> std::io::Result<()> {
    std::io::stdout().write_all(keywheel_vectors::generate_json().as_bytes())
}
