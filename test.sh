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
APT_PACKAGES=(libsodium-dev pkg-config python3-venv iproute2 util-linux ca-certificates)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
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

if [[ -d tests/cross ]]; then
  step "independent cross-checks (hashlib, libsodium)"
  KEYWHEEL_BIN_DIR=$ROOT/target/debug "$VENV/bin/python" -m pytest -q tests/cross
fi

if [[ -f tests/kernel/tfo_kernel_test.py ]]; then
  step "real kernel TFO test (private network namespace)"
  python3 tests/kernel/tfo_kernel_test.py "$ROOT/target/debug/tofurkey"
fi

if ((!QUICK)); then
  step "benchmark (quick mode; full figures: see README)"
  cargo bench -p keywheel-benches --bench derive --locked -- --warm-up-time 1 --measurement-time 3
fi

step "all tests passed"
