#!/usr/bin/env bash
# Builds the Debian packages of keywheel with cargo-deb (metadata: [package.metadata.deb] in
# cli/Cargo.toml) and prints their paths, keywheel's last:
# target/debian/libapache2-mod-keywheel_<version>-1_<arch>.deb (the Apache module, built with
# apxs) and target/debian/keywheel_<version>-1_<arch>.deb.
#
#   packaging/deb/build.sh [cargo-deb options, e.g. --deb-version 0.1.1-1]
#
# Needs cargo-deb (cargo install cargo-deb --version 3.8.0 --locked) and dpkg-dev (dpkg-shlibdeps
# computes Depends:). Steps: the C library, headers and .pc files are installed by
# ffi/install.sh into the staging directory packaging/deb/stage/ (PREFIX=/usr,
# LIBDIR=/usr/lib/<multiarch>), stripped as dh_strip would; the Debian copyright file is made
# from LICENSE-MIT; then cargo-deb builds the binaries and assembles the package.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v cargo-deb >/dev/null || {
  echo "error: cargo-deb is not installed; run: cargo install cargo-deb --version 3.8.0 --locked" >&2
  exit 1
}
command -v dpkg-architecture >/dev/null || {
  echo "error: dpkg-dev is not installed; run: apt-get install dpkg-dev" >&2
  exit 1
}
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
stage=packaging/deb/stage
rm -rf "$stage"
mkdir -p "$stage"

PREFIX=/usr LIBDIR=/usr/lib/$multiarch DESTDIR=$PWD/$stage ffi/install.sh >/dev/null
# What dh_strip does: the shared library keeps its dynamic symbols only, the static ones lose
# their debugging sections.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/lib/$multiarch/libkeywheel.so"
strip --strip-debug --remove-section=.comment --remove-section=.note --enable-deterministic-archives \
  "$stage/usr/lib/$multiarch"/*.a

# Machine-readable copyright (DEP-5). The Apache License is in /usr/share/common-licenses, the
# MIT text (not there) is copied in from LICENSE-MIT.
{
  cat <<'HEAD'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: keywheel

Files: *
Copyright: 2026 The keywheel authors
License: MIT or Apache-2.0

License: MIT
HEAD
  sed -e 's/^$/./' -e 's/^/ /' LICENSE-MIT
  cat <<'TAIL'

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
TAIL
} > "$stage/copyright"

main_deb=$(cargo deb -p keywheel-cli --locked --variant keywheel "$@" | tail -n 1)

# The Apache module as its own package, libapache2-mod-keywheel ([package.metadata.deb.variants.
# apache] in cli/Cargo.toml): built with apxs against the staged libkeywheel (linked in
# statically: libkeywheel.so has no SONAME for dpkg-shlibdeps to depend on), then assembled by
# cargo-deb without building anything (--no-build is always given), next to the keywheel
# package (an --output naming the keywheel .deb file is replaced by its directory).
command -v apxs >/dev/null || {
  echo "error: apxs is not installed; run: apt-get install apache2-dev" >&2
  exit 1
}
rm -rf packaging/deb/stage-apache
KEYWHEEL_STAGE=$stage apache/mod_keywheel/build.sh packaging/deb/stage-apache >/dev/null
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  packaging/deb/stage-apache/mod_keywheel.so
args=()
skip=0
for a in "$@"; do
  if [[ $skip == 1 ]]; then skip=0; continue; fi
  case $a in
    --output|-o) skip=1 ;;
    --output=*|--no-build) ;;
    *) args+=("$a") ;;
  esac
done
cargo deb -p keywheel-cli --locked --variant apache --no-build ${args[@]+"${args[@]}"} \
  --output "$(dirname "$main_deb")"
# The keywheel package last (tests take the last line).
echo "$main_deb"
