#!/usr/bin/env bash
# Builds the npm package `keywheel` into wasm/pkg/ and prints the size of its .wasm:
#
#   pkg/keywheel_bg.wasm        the module, optimised by npm binaryen's wasm-opt (not Debian's)
#   pkg/keywheel.js             the public API, js/keywheel.mjs (workerd, bundlers), over
#   pkg/keywheel_raw.js         wasm-bindgen's --target module glue: `import source`
#   pkg/keywheel.node.js        the same API (Node), over
#   pkg/keywheel_raw.node.js    wasm-bindgen's --target experimental-nodejs-module glue
#   pkg/keywheel.d.ts           the public types (committed, written by hand with
#                               js/keywheel.mjs; tests/node/package.test.mjs checks that
#                               the two declare the same classes, methods and parameters)
#
# The module's exports are narrow and numeric (src/lib.rs); js/keywheel.mjs gives users the
# classes, functions and exceptions of pkg/keywheel.d.ts. Both glues are wasm-bindgen's output
# with one line appended (the memory export, below) and load the same keywheel_bg.wasm.
#
# Needs: the Rust target wasm32-unknown-unknown, wasm-bindgen-cli of the version pinned in
# Cargo.toml, and `npm ci` run in wasm/ (binaryen). test.sh installs all three.
set -euo pipefail
cd "$(dirname "$0")"

WASM_BINDGEN_VERSION=0.2.130 # = the exact version of the wasm-bindgen crate in Cargo.toml
MAX_WASM_BYTES=40960 # 40 KiB raw (issue 10), with the whole API; the gzip -9 size is printed too.

die() { echo "build.sh: $*" >&2; exit 1; }

grep -q "^wasm-bindgen = { version = \"=$WASM_BINDGEN_VERSION\"" Cargo.toml ||
  die "Cargo.toml does not pin wasm-bindgen =$WASM_BINDGEN_VERSION; keep build.sh in step"
have=$(wasm-bindgen --version 2>/dev/null || true)
[[ "$have" == "wasm-bindgen $WASM_BINDGEN_VERSION" ]] ||
  die "need wasm-bindgen $WASM_BINDGEN_VERSION (have: ${have:-none}); run: cargo install wasm-bindgen-cli --version $WASM_BINDGEN_VERSION"
WASM_OPT=node_modules/.bin/wasm-opt
[[ -x $WASM_OPT ]] || die "no $WASM_OPT (npm's binaryen); run: (cd wasm && npm ci)"

# The module is built without std (a panic traps; no panic-message code) and for size, in a
# profile of its own, given here (profiles of workspace members are ignored and the root
# Cargo.toml's `release` must keep unwinding for the C library): fat LTO, one codegen unit, and
# opt-level "z" for the whole program (the final LTO optimisation follows keywheel-wasm's level)
# while the other crates are compiled at "s" first (at "z" they come out larger).
profile=(
  --profile wasm-release
  --config 'profile.wasm-release.inherits="release"'
  --config 'profile.wasm-release.opt-level="s"'
  --config 'profile.wasm-release.package.keywheel-wasm.opt-level="z"'
  --config 'profile.wasm-release.lto="fat"'
  --config 'profile.wasm-release.codegen-units=1'
  --config 'profile.wasm-release.panic="abort"'
  --config 'profile.wasm-release.debug=false'
)
# Source paths kept in the module (panic locations) name no directory of this machine, so the
# .wasm is the same wherever it is built.
repo=$(cd .. && pwd)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# No WebAssembly SIMD (+simd128): with the numeric exports it makes the module larger (measured
# 34 912 -> 35 159 bytes), at the same speed in bench/.
export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$repo=keywheel --remap-path-prefix=$cargo_home/registry/src=crates"
cargo build -p keywheel-wasm --target wasm32-unknown-unknown --no-default-features --locked "${profile[@]}"

target_dir=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).target_directory)')}
raw=$target_dir/wasm32-unknown-unknown/wasm-release/keywheel_wasm.wasm

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wasm-bindgen --target module --out-dir "$tmp/module" --out-name keywheel "$raw"
wasm-bindgen --target experimental-nodejs-module --out-dir "$tmp/node" --out-name keywheel "$raw"
# One .wasm serves both glues: wasm-bindgen gives the same module for both targets.
cmp -s "$tmp/module/keywheel_bg.wasm" "$tmp/node/keywheel_bg.wasm" ||
  die "wasm-bindgen made different modules for the module and Node targets"

mkdir -p pkg
# --low-memory-unused: the module never touches the first KiB of its memory (Rust's stack runs
# down from 1 MiB to 0 and uses a few KiB; the data starts at 1 MiB), which lets wasm-opt fold
# more address arithmetic. A second round after --flatten --rereloop (control flow rebuilt from
# scratch) saves about 0.3 KiB more.
"$WASM_OPT" -Oz --converge --flatten --rereloop -Oz --converge --low-memory-unused \
  --strip-debug --strip-producers --strip-target-features "$tmp/module/keywheel_bg.wasm" \
  -o pkg/keywheel_bg.wasm
# The public API (js/keywheel.mjs) over each target's wasm-bindgen glue.
cp "$tmp/module/keywheel.js" pkg/keywheel_raw.js
cp "$tmp/node/keywheel.js" pkg/keywheel_raw.node.js
# js/keywheel.mjs reads and writes the exchange buffer in the module's memory, which the glue
# keeps to itself (an export returning it as a JsValue costs the module wasm-bindgen's table
# of JavaScript values, 1 KiB): one line, appended to each glue, exports it.
for glue in pkg/keywheel_raw.js pkg/keywheel_raw.node.js; do
  grep -qx 'let wasm = wasmInstance.exports;' "$glue" ||
    die "$glue has no line 'let wasm = wasmInstance.exports;' (wasm-bindgen changed?); cannot export its memory"
  printf '\n// Added by wasm/build.sh: the memory, for the exchange buffer of keywheel.js.\nexport const memory = wasm.memory;\n' >>"$glue"
done
cp js/keywheel.mjs pkg/keywheel.js
sed 's|^import \* as raw from "./keywheel_raw.js";$|import * as raw from "./keywheel_raw.node.js";|' js/keywheel.mjs >pkg/keywheel.node.js
cmp -s pkg/keywheel.js pkg/keywheel.node.js &&
  die "js/keywheel.mjs does not start its imports with: import * as raw from \"./keywheel_raw.js\";"

[[ -f pkg/keywheel.d.ts ]] || die "pkg/keywheel.d.ts (committed) is missing"

bytes=$(stat -c %s pkg/keywheel_bg.wasm)
gz=$(node -e 'const z=require("zlib"),fs=require("fs");process.stdout.write(String(z.gzipSync(fs.readFileSync(process.argv[1]),{level:9}).length))' pkg/keywheel_bg.wasm)
printf 'keywheel_bg.wasm: %d bytes (%.1f KiB; limit %d), gzip -9: %d bytes (%.1f KiB)\n' \
  "$bytes" "$(awk "BEGIN{print $bytes/1024}")" "$MAX_WASM_BYTES" "$gz" "$(awk "BEGIN{print $gz/1024}")"
((bytes <= MAX_WASM_BYTES)) || die "keywheel_bg.wasm is $bytes bytes; the limit is $MAX_WASM_BYTES"
