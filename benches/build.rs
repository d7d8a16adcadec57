//! Links Debian's libsodium, found with pkg-config.

fn main() {
    if let Err(err) = pkg_config::Config::new()
        .atleast_version("1.0.18")
        .probe("libsodium")
    {
        panic!(
            "libsodium (>= 1.0.18) not found by pkg-config: {err}\n\
             install it with: apt-get install -y libsodium-dev pkg-config"
        );
    }
}
