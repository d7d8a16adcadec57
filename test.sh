#!/usr/bin/env bash
# Runs every keywheel test. On a fresh Debian 12 machine it first installs what the tests need
# (Debian packages, Rust components, a Python venv in .venv); each step is skipped when already
# done, so running it again is cheap. Exit status: 0 when every test passed.
#
#   ./test.sh            everything (kernel tests need root; they print SKIP otherwise)
#   ./test.sh --quick    skip the benchmark run
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# --- set-up -------------------------------------------------------------------------------
APT_PACKAGES=(build-essential libsodium-dev libssl-dev openssl pkg-config python3-venv iproute2 util-linux valgrind systemd man-db ca-certificates apache2-dev faketime strace dpkg-dev lintian)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Real TLS servers for the ticket-key tests. Debian must not start them as services (they would
# take ports 80/443): a temporary policy-rc.d denies service starts during the install.
SERVER_PACKAGES=(nginx apache2 trafficserver haproxy lighttpd lighttpd-mod-openssl h2o faketime caddy golang-go)
missing=()
for p in "${SERVER_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})) && [[ $(id -u) -eq 0 ]]; then
  step "installing servers (services not started): ${missing[*]}"
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# keywheel test.sh: do not start services\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { ((made_policy)) && rm -f /usr/sbin/policy-rc.d; exit 1; }
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
fi

for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || { step "rustup component add $c"; rustup component add "$c"; }
done

VENV=$ROOT/.venv
REQ=tests/requirements.txt
if [[ -f $REQ ]]; then
  stamp=$(sha256sum "$REQ" | cut -d' ' -f1)
  if [[ ! -x $VENV/bin/python || "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ]]; then
    step "creating Python venv $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$REQ"
    echo "$stamp" > "$VENV/.stamp"
  fi
fi

# --- checks -------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no_std: build the core for wasm32-unknown-unknown"
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
cargo build -p keywheel --target wasm32-unknown-unknown --locked

step "cargo test"
cargo build --workspace --bins --locked
cargo test --workspace --locked

step "Python package: build and install into .venv, tests, stub check"
PATH="$VENV/bin:$PATH" "$VENV/bin/pip" install -q --no-build-isolation ./python
HYPOTHESIS_PROFILE=ci KEYWHEEL_BIN_DIR="$ROOT/target/debug" "$VENV/bin/python" -m pytest -q python/tests
"$VENV/bin/python" -m mypy.stubtest keywheel

step "C library: C API (vectors, bad inputs, every entry point fuzzed; plain, ASan+UBSan, valgrind), example server C11/C++ with s_client, nginx tickets, install + pkg-config"
"$VENV/bin/python" -m pytest -q ffi/tests/c

step "wasm: tools (wasm32 target, wasm-bindgen-cli at the pinned version, npm packages)"
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' wasm/Cargo.toml)
[[ "$(wasm-bindgen --version 2>/dev/null)" == "wasm-bindgen $WASM_BINDGEN_VERSION" ]] ||
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
cmp -s wasm/package-lock.json wasm/node_modules/.keywheel-lock 2>/dev/null ||
  { (cd wasm && npm ci --no-audit --no-fund) && cp wasm/package-lock.json wasm/node_modules/.keywheel-lock; }
step "wasm: clippy for wasm32"
cargo clippy -p keywheel-wasm --target wasm32-unknown-unknown --all-targets --locked -- -D warnings
step "wasm: build the npm package (size printed; fails above 40 KiB)"
wasm/build.sh
step "wasm: npm package tests (vectors, errors, types vs JavaScript layer, memory, package, worker in workerd)"
(cd wasm && KEYWHEEL_PYTHON="$VENV/bin/python" node --expose-gc --test tests/node/)

if [[ -d tests/cross ]]; then
  step "independent cross-checks (hashlib, libsodium)"
  KEYWHEEL_BIN_DIR=$ROOT/target/debug "$VENV/bin/python" -m pytest -q tests/cross
fi

step "real-server TLS ticket tests (nginx, apache2, mod_keywheel, trafficserver, haproxy, lighttpd, h2o, caddy, go, forward-secure mode)"
PYTHON=$VENV/bin/python KEYWHEEL_BIN_DIR=$ROOT/target/debug tests/servers/run.sh

step "systemd units: verify, security exposure, sandboxed privileges"
KEYWHEEL_BIN_DIR=$ROOT/target/debug python3 tests/systemd/test_units.py -v

if [[ -f tests/kernel/tfo_kernel_test.py ]]; then
  step "real kernel TFO test (private network namespace)"
  python3 tests/kernel/tfo_kernel_test.py "$ROOT/target/debug/tofurkey"
fi
step "real clock steps: the daemon survives the clock set 3,000 times in a burst"
python3 tests/kernel/clock_step_test.py "$ROOT/target/debug/keywheel"

step "packages: Debian packages (lintian, install, upgrade, purge), wheel + sdist, crate"
CARGO_DEB_VERSION=3.8.0
[[ "$(cargo deb --version 2>/dev/null)" == "cargo-deb $CARGO_DEB_VERSION" ]] ||
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
deb=$(packaging/deb/build.sh | tail -n 1)
dist=$ROOT/target/packaging/dist
rm -rf "$dist"
(cd python && "$VENV/bin/maturin" build --release --locked -o "$dist" && "$VENV/bin/maturin" sdist -o "$dist")
if [[ $(id -u) -eq 0 ]]; then
  # Installs the packages on this machine and purges them again (refuses if one is installed):
  # keywheel, libkeywheel0, libkeywheel-dev, libapache2-mod-keywheel (built next to keywheel's).
  deb_packages=(keywheel libkeywheel0 libkeywheel-dev libapache2-mod-keywheel)
  deb_status() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true; }
  before=()
  for p in "${deb_packages[@]}"; do before+=("$(deb_status "$p")"); done
  rc=0
  KEYWHEEL_DEB=$deb "$VENV/bin/python" -m pytest -q tests/packaging/test_deb.py || rc=$?
  # Should pytest itself have died: never leave the test's packages behind.
  leftover=()
  for i in "${!deb_packages[@]}"; do
    b=${before[$i]} a=$(deb_status "${deb_packages[$i]}")
    if [[ -z $b || $b == not-installed ]] && [[ -n $a && $a != not-installed ]]; then
      leftover+=("${deb_packages[$i]}")
    fi
  done
  if ((${#leftover[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${leftover[@]}"
  fi
  ((rc == 0))
else
  echo "SKIP tests/packaging/test_deb.py: installing the .deb needs root"
fi
KEYWHEEL_WHEEL_DIR=$dist "$VENV/bin/python" -m pytest -q tests/packaging/test_wheel.py tests/packaging/test_crate.py
ls -l "$deb" "$dist"

if ((!QUICK)); then
  step "benchmark (quick mode; full figures: see README)"
  cargo bench -p keywheel-benches --bench derive --locked -- --warm-up-time 1 --measurement-time 3
  cargo bench -p keywheel-benches --bench forward --locked -- --warm-up-time 1 --measurement-time 2
  step "C benchmark: resumed handshakes keywheel vs OpenSSL built-in keys; callback cost"
  python3 ffi/bench/run.py --rounds 4
  step "wasm package vs @noble/hashes (derivations per second)"
  (cd wasm && node bench/bench.mjs)
  step "Python binding vs hashlib (derivations per second)"
  "$VENV/bin/python" python/bench.py
  step "fleet benchmark (quick): resumption across nginx and HAProxy nodes, rotations, reloads, clock skew"
  KEYWHEEL_BIN_DIR=$ROOT/target/debug "$VENV/bin/python" benches/fleet/fleet.py --quick
fi

step "all tests passed"
