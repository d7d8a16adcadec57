#!/usr/bin/env bash
# Builds the Debian packages of keywheel with cargo-deb (metadata: [package.metadata.deb] and its
# variants in cli/Cargo.toml) and prints their paths, keywheel's last:
#   target/debian/libkeywheel0_<v>_<arch>.deb             the C library libkeywheel.so.0
#   target/debian/libkeywheel-dev_<v>_<arch>.deb          its headers, .a, .pc, libkeywheel.so
#   target/debian/libapache2-mod-keywheel_<v>_<arch>.deb  the Apache module (built with apxs)
#   target/debian/keywheel_<v>_<arch>.deb                 keywheel, tofurkey, units, man pages
# (<v> = <version>-1). With --output FILE, keywheel's package is FILE and the others go next to it.
#
#   packaging/deb/build.sh [cargo-deb options, e.g. --deb-version 0.1.1-1]
#
# Needs cargo-deb (cargo install cargo-deb --version 3.8.0 --locked) and dpkg-dev
# (dpkg-shlibdeps, dpkg-gensymbols). Steps: the C library, headers and .pc files are installed
# by ffi/install.sh into the staging directory packaging/deb/stage/ (PREFIX=/usr,
# LIBDIR=/usr/lib/<multiarch>), stripped as dh_strip would; the Debian copyright file is made
# from LICENSE-MIT; cargo-deb builds the binaries and assembles each package. For the packages
# other than keywheel, build.sh then writes what cargo-deb cannot (as dh_makeshlibs and
# dh_shlibdeps would): libkeywheel0's DEBIAN/symbols and every package's Depends.
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
# (libkeywheel.so.<version>: the real file behind the libkeywheel.so.0 and libkeywheel.so links.)
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/lib/$multiarch"/libkeywheel.so.*.*.*
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

# cargo-deb options: --output and --no-build apply to keywheel's package only (the others go
# next to it and are never built), --fast is always given.
args=()
out_opt=()
no_build=
skip=0
for a in "$@"; do
  if [[ $skip == 1 ]]; then out_opt+=("$a"); skip=0; continue; fi
  case $a in
    --output|-o) out_opt=("$a"); skip=1 ;;
    --output=*) out_opt=("$a") ;;
    --no-build) no_build=--no-build ;;
    --fast) ;;
    *) args+=("$a") ;;
  esac
done

# --fast: cargo-deb's compression is thrown away, every package is unpacked and packed again
# (xz) by repack below.
main_deb=$(cargo deb -p keywheel-cli --locked --fast --variant keywheel ${args[@]+"${args[@]}"} \
  "${out_opt[@]}" $no_build | tail -n 1)
outdir=$(dirname "$main_deb")
deb_version=$(dpkg-deb -f "$main_deb" Version)
other() {  # other VARIANT [cargo-deb options]: builds a variant next to keywheel's package
  local variant=$1
  shift
  cargo deb -p keywheel-cli --locked --fast --variant "$variant" --no-build ${args[@]+"${args[@]}"} "$@" \
    --output "$outdir" | tail -n 1
}

# The packages are unpacked here, completed and packed again.
work=$PWD/packaging/deb/stage-debs
rm -rf "$work"
mkdir -p "$work/shlibs/debian"
: > "$work/shlibs/debian/control"  # dpkg-shlibdeps and dpkg-gensymbols want one (empty is fine)
shlibdeps() {  # shlibdeps FILE...: the Depends dpkg-shlibdeps computes (libkeywheel0 from $work)
  (cd "$work/shlibs" && dpkg-shlibdeps -O -l"$work/libkeywheel0/usr/lib/$multiarch" "$@") |
    sed -n 's/^shlibs:Depends=//p'
}
set_depends() {  # set_depends TREE DEPENDS: the control file's Depends (kept before Description)
  [[ -n $2 && $2 != ,* && $2 != *, ]] || { echo "error: no Depends computed for $1" >&2; exit 1; }
  sed -i -e '/^Depends:/d' -e "/^Description:/i Depends: $2" "$1/DEBIAN/control"
}
summary() {  # summary TREE TEXT: the Description's first line (cargo-deb takes the crate's
  # description for every variant)
  sed -i "s/^Description: .*/Description: $2/" "$1/DEBIAN/control"
}
multiarch_same() {  # Multi-Arch: same (Debian's multiarch spec: co-installable for several
  # architectures; the files outside /usr/lib/<multiarch> are the same on each)
  sed -i "/^Description:/i Multi-Arch: same" "$1/DEBIAN/control"
}
repack() {  # repack TREE DEB, with DEBIAN/md5sums (dh_md5sums' file; cargo-deb writes none)
  (cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0r md5sum) \
    > "$1/DEBIAN/md5sums"
  chmod 0644 "$1/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zxz -b "$1" "$2" >/dev/null
}

# keywheel: cargo-deb's package plus md5sums.
dpkg-deb -R "$main_deb" "$work/keywheel"
repack "$work/keywheel" "$main_deb"

# libkeywheel0: the symbols file (every function of the C API since this version; what
# dpkg-shlibdeps turns into `libkeywheel0 (>= <version>)` for programs linked against it, and
# Build-Depends-Package names the -dev package), the shlibs file policy 8.6 still asks for (the
# same dependency, for tools that do not read symbols files), Depends from dpkg-shlibdeps
# (libc6, libgcc-s1).
lib_deb=$(other libkeywheel0)
dpkg-deb -R "$lib_deb" "$work/libkeywheel0"
(cd "$work/shlibs" && dpkg-gensymbols -q -plibkeywheel0 -v"${deb_version%-*}" -P"$work/libkeywheel0" \
  -O"$work/libkeywheel0/DEBIAN/symbols")
sed -i '1a * Build-Depends-Package: libkeywheel-dev' "$work/libkeywheel0/DEBIAN/symbols"
soname=$(objdump -p "$work/libkeywheel0/usr/lib/$multiarch"/libkeywheel.so.*.*.* | sed -n 's/^ *SONAME *libkeywheel\.so\.\([0-9]*\)$/\1/p')
echo "libkeywheel $soname libkeywheel0 (>= ${deb_version%-*})" > "$work/libkeywheel0/DEBIAN/shlibs"
chmod 0644 "$work/libkeywheel0/DEBIAN/symbols" "$work/libkeywheel0/DEBIAN/shlibs"
deps=$(shlibdeps "$work/libkeywheel0/usr/lib/$multiarch"/libkeywheel.so.*.*.*)
set_depends "$work/libkeywheel0" "$deps"
multiarch_same "$work/libkeywheel0"
summary "$work/libkeywheel0" "keywheel's C library: rotating TCP Fast Open and TLS ticket keys"
repack "$work/libkeywheel0" "$lib_deb"

# libkeywheel-dev: the library of exactly this build (its libkeywheel.so link points there), and
# libssl-dev (keywheel-openssl.pc requires libssl and libcrypto).
dev_deb=$(other libkeywheel-dev)
dpkg-deb -R "$dev_deb" "$work/libkeywheel-dev"
set_depends "$work/libkeywheel-dev" "libkeywheel0 (= $deb_version), libssl-dev"
multiarch_same "$work/libkeywheel-dev"
summary "$work/libkeywheel-dev" "keywheel's C library: development files"
repack "$work/libkeywheel-dev" "$dev_deb"

# libapache2-mod-keywheel ([package.metadata.deb.variants.apache] in cli/Cargo.toml): built with
# apxs against the staged libkeywheel (NEEDED libkeywheel.so.0, so it depends on libkeywheel0
# through the symbols file above), then assembled by cargo-deb without building anything; its
# Depends: dpkg-shlibdeps' (libc6, libkeywheel0, libssl3) and Apache 2.4's module ABI.
command -v apxs >/dev/null || {
  echo "error: apxs is not installed; run: apt-get install apache2-dev" >&2
  exit 1
}
rm -rf packaging/deb/stage-apache
KEYWHEEL_STAGE=$stage apache/mod_keywheel/build.sh packaging/deb/stage-apache >/dev/null
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  packaging/deb/stage-apache/mod_keywheel.so
apache_deb=$(other apache)
dpkg-deb -R "$apache_deb" "$work/apache"
abi=$(sed -n 's/^Depends: //p' "$work/apache/DEBIAN/control")
deps=$(shlibdeps "$work/apache/usr/lib/apache2/modules/mod_keywheel.so")
set_depends "$work/apache" "$deps, $abi"
summary "$work/apache" "Apache module: TLS session-ticket keys from keywheel, rotated in place"
repack "$work/apache" "$apache_deb"

echo "$lib_deb"
echo "$dev_deb"
echo "$apache_deb"
# The keywheel package last (tests take the last line).
echo "$main_deb"
