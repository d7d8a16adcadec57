#!/usr/bin/env bash
# Builds libkeywheel in release mode and installs it for C programs:
#
#   PREFIX/include/keywheel.h, keywheel_openssl.h
#   LIBDIR/libkeywheel.so.VERSION                 (the C API, shared; SONAME libkeywheel.so.0)
#   LIBDIR/libkeywheel.so.0 -> libkeywheel.so.VERSION, libkeywheel.so -> libkeywheel.so.0
#   LIBDIR/libkeywheel.a                          (the C API, static)
#   LIBDIR/libkeywheel_openssl.a                  (the OpenSSL ticket-key callback, ffi/openssl)
#   LIBDIR/pkgconfig/keywheel.pc, keywheel-openssl.pc
#
# Usage: [PREFIX=/usr/local] [LIBDIR=$PREFIX/lib] [DESTDIR=] [CC=cc] ffi/install.sh
# DESTDIR is prepended to every installed path (for packaging) but not written into the .pc
# files. Then:  cc prog.c $(pkg-config --cflags --libs keywheel)
#         or:   cc server.c $(pkg-config --cflags --libs keywheel-openssl)
# (with PKG_CONFIG_PATH=$LIBDIR/pkgconfig when LIBDIR is not a system directory, and
# LD_LIBRARY_PATH=$LIBDIR, or -Wl,-rpath,$LIBDIR, to run against the shared library).
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
DESTDIR=${DESTDIR:-}
CC=${CC:-cc}

cargo build --release -p keywheel-ffi
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
release=$target/release
# The version the header was generated for (tests check it equals Cargo.toml's).
version=$(sed -n 's/^#define KEYWHEEL_VERSION_STRING "\(.*\)"$/\1/p' include/keywheel.h)
[[ -n $version ]] || { echo "error: no KEYWHEEL_VERSION_STRING in include/keywheel.h" >&2; exit 1; }

# The SONAME ffi/build.rs gave the shared library (libkeywheel.so.<ABI version>): the name
# programs record as NEEDED, a symlink to the real file libkeywheel.so.<version>.
soname=$(objdump -p "$release/libkeywheel.so" | sed -n 's/^ *SONAME *\(libkeywheel\.so\.[0-9]*\)$/\1/p')
[[ -n $soname ]] || { echo "error: $release/libkeywheel.so has no SONAME libkeywheel.so.N (see ffi/build.rs)" >&2; exit 1; }

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
"$CC" -std=c11 -O2 -fPIC -Wall -Wextra -Werror -Iinclude $(pkg-config --cflags libssl libcrypto) \
  -c ffi/openssl/keywheel_openssl.c -o "$build/keywheel_openssl.o"
ar rcs "$build/libkeywheel_openssl.a" "$build/keywheel_openssl.o"

cat > "$build/keywheel.pc" <<PC
prefix=$PREFIX
libdir=$LIBDIR
includedir=$INCLUDEDIR

Name: keywheel
Description: Deterministic rotating TCP Fast Open and TLS session-ticket keys from one main secret and the clock
Version: $version
Libs: -L\${libdir} -lkeywheel
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
Cflags: -I\${includedir}
PC

cat > "$build/keywheel-openssl.pc" <<PC
prefix=$PREFIX
libdir=$LIBDIR
includedir=$INCLUDEDIR

Name: keywheel-openssl
Description: OpenSSL session-ticket key callback backed by keywheel
Version: $version
Requires: keywheel = $version, libssl, libcrypto
Libs: -L\${libdir} -lkeywheel_openssl
Cflags: -I\${includedir}
PC

install -d "$DESTDIR$INCLUDEDIR" "$DESTDIR$LIBDIR/pkgconfig"
install -m 0644 include/keywheel.h ffi/openssl/keywheel_openssl.h "$DESTDIR$INCLUDEDIR/"
install -m 0755 "$release/libkeywheel.so" "$DESTDIR$LIBDIR/libkeywheel.so.$version"
ln -sfn "libkeywheel.so.$version" "$DESTDIR$LIBDIR/$soname"
ln -sfn "$soname" "$DESTDIR$LIBDIR/libkeywheel.so"
install -m 0644 "$release/libkeywheel.a" "$build/libkeywheel_openssl.a" "$DESTDIR$LIBDIR/"
install -m 0644 "$build/keywheel.pc" "$build/keywheel-openssl.pc" "$DESTDIR$LIBDIR/pkgconfig/"
echo "installed keywheel $version into $DESTDIR$PREFIX"
