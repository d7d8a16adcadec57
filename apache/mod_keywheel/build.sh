#!/usr/bin/env bash
# Builds mod_keywheel.so with apxs (Debian: apt-get install apache2-dev) and libkeywheel.
#
#   apache/mod_keywheel/build.sh [OUTDIR]      (default OUTDIR: target/mod_keywheel)
#
# libkeywheel: when pkg-config knows `keywheel-openssl` (installed by ffi/install.sh), the module
# links it from there; otherwise (or with KEYWHEEL_FROM_SOURCE=1) it is built from this checkout
# (cargo build --release -p keywheel-ffi) and linked in statically, together with the OpenSSL
# callback ffi/openssl/keywheel_openssl.c, so the module needs nothing else at run time. With
# KEYWHEEL_STAGE=DIR (packaging/deb/build.sh) it links the shared libkeywheel.so.0 staged under
# DIR (and the OpenSSL callback's static library), as the Debian package libkeywheel0 installs it.
# Warnings are errors (-Wall -Wextra -Werror). Sources are copied to OUTDIR first: apxs/libtool
# write their objects next to the sources, and nothing is written into the checkout.
# Then:  install -m 644 OUTDIR/mod_keywheel.so "$(apxs -q LIBEXECDIR)"/
#        install -m 644 apache/mod_keywheel/keywheel.{load,conf} /etc/apache2/mods-available/
#        a2enmod keywheel
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/target/mod_keywheel}
APXS=${APXS:-apxs}
command -v "$APXS" >/dev/null || { echo "error: $APXS not found (apt-get install apache2-dev)" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
cp "$here/mod_keywheel.c" "$out/"
warn=(-Wc,-Wall -Wc,-Wextra -Wc,-Werror -Wc,-std=gnu11)

if [[ -n ${KEYWHEEL_STAGE:-} ]]; then
  # The Debian package (packaging/deb/build.sh): libkeywheel as ffi/install.sh staged it under
  # KEYWHEEL_STAGE (DESTDIR with PREFIX=/usr): the module records NEEDED libkeywheel.so.0 (the
  # library's SONAME), which the package libkeywheel0 provides; the small OpenSSL callback
  # (libkeywheel_openssl.a, only built static) is linked in.
  stage=$(cd "$KEYWHEEL_STAGE" && pwd)
  libdir=$stage/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  (cd "$out" && "$APXS" -c -n keywheel -o mod_keywheel.la "${warn[@]}" -I"$stage/usr/include" \
    mod_keywheel.c "$libdir/libkeywheel_openssl.a" -L"$libdir" -lkeywheel -lssl -lcrypto)
elif [[ ${KEYWHEEL_FROM_SOURCE:-0} != 1 ]] && pkg-config --exists keywheel-openssl 2>/dev/null; then
  cflags=$(pkg-config --cflags keywheel-openssl)
  libs=$(pkg-config --libs keywheel-openssl)
  # shellcheck disable=SC2086
  (cd "$out" && "$APXS" -c -n keywheel -o mod_keywheel.la "${warn[@]}" $cflags mod_keywheel.c $libs)
else
  (cd "$root" && cargo build -q --release -p keywheel-ffi)
  target=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  cp "$root/ffi/openssl/keywheel_openssl.c" "$out/"
  (cd "$out" && "$APXS" -c -n keywheel -o mod_keywheel.la "${warn[@]}" \
    -I"$root/include" -I"$root/ffi/openssl" mod_keywheel.c keywheel_openssl.c \
    "$target/release/libkeywheel.a" -lssl -lcrypto -lgcc_s -lutil -lrt -lpthread -lm -ldl)
fi
# A new file, renamed over the old one: a running Apache that mapped the old one keeps it intact.
cp "$out/.libs/mod_keywheel.so" "$out/mod_keywheel.so.tmp"
mv -f "$out/mod_keywheel.so.tmp" "$out/mod_keywheel.so"
echo "$out/mod_keywheel.so"
