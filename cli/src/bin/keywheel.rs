//! `keywheel`: deterministic rotating keys for a cluster (see `keywheel --help`).

fn main() -> std::process::ExitCode {
    keywheel_cli::keywheel_main()
}
