#!/bin/sh
# Builds vendor/openjpeg/openjpeg.wasm: OpenJPEG from Debian's source package (checksums
# pinned below) compiled by Debian's emscripten, with our glue (scripts/openjpeg-glue.c).
# A standalone module (no emscripten JS): src/jp2/codec.ts supplies its few imports, so
# the same bytes run in Node, Lambda and workerd. Run as root on Debian bookworm; the
# artefact is committed, so `npm ci` never needs a compiler.
set -eu

VERSION=2.5.0-2+deb12u3
UPSTREAM=2.5.0
DSC_SHA256=f570a7c10d36f2d5b2553941e7821ed88d1cf7a93f9c49e7f6099e53f4491f47
ORIG_SHA256=007e19d772c8b6b22e35379630b06ff3549e49ba719d96453607a36ad7b4de73
DEBIAN_SHA256=36dedb0ca4c1659c173feac97c19b31985656f4cd112b1a4d54d54bc4133ad37

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/vendor/openjpeg"
WORK=${WORK:-$(mktemp -d)}

# Source packages are not in the default sources: add deb-src for the same archive.
SRC_LIST=/etc/apt/sources.list.d/debian-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ /etc/apt/sources.list; then
  cat >"$SRC_LIST" <<'SOURCES'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
apt-get update -qq
command -v emcc >/dev/null && command -v cmake >/dev/null && command -v dpkg-source >/dev/null ||
  apt-get install -y -qq emscripten cmake dpkg-dev

cd "$WORK"
apt-get source --download-only "openjpeg2=$VERSION"
sha256sum -c <<SUMS
$DSC_SHA256  openjpeg2_$VERSION.dsc
$ORIG_SHA256  openjpeg2_$UPSTREAM.orig.tar.xz
$DEBIAN_SHA256  openjpeg2_$VERSION.debian.tar.xz
SUMS
rm -rf openjpeg
dpkg-source -x "openjpeg2_$VERSION.dsc" openjpeg  # applies Debian's security patches

# The library only: no codecs, threads or shared objects (CMake's Release build is -O3).
mkdir -p build
(cd build && emcmake cmake ../openjpeg -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON \
  -DBUILD_CODEC=OFF -DOPJ_USE_THREAD=OFF -DBUILD_TESTING=OFF >cmake.log && emmake make -j"$(nproc)" openjp2 >make.log)

# Memory may grow to 1 GiB at most, so no input can take more; the glue refuses decodes
# over the caller's byte budget before allocating them.
emcc -O3 "$ROOT/scripts/openjpeg-glue.c" -Iopenjpeg/src/lib/openjp2 -Ibuild/src/lib/openjp2 build/bin/libopenjp2.a \
  -sSTANDALONE_WASM --no-entry -sALLOW_MEMORY_GROWTH -sMAXIMUM_MEMORY=1GB \
  -sEXPORTED_FUNCTIONS=_malloc,_free,_ojw_decode,_ojw_encode_begin,_ojw_encode_tile,_ojw_encode_end,_ojw_last_error,_ojw_last_error_code,_ojw_release \
  -o openjpeg.wasm

mkdir -p "$OUT"
cp openjpeg.wasm "$OUT/openjpeg.wasm"
cp openjpeg/LICENSE "$OUT/LICENSE"
cat >"$OUT/VERSION" <<INFO
OpenJPEG $UPSTREAM from Debian source package openjpeg2 $VERSION (bookworm, Debian patches applied)
openjpeg2_$VERSION.dsc sha256 $DSC_SHA256
openjpeg2_$UPSTREAM.orig.tar.xz sha256 $ORIG_SHA256
openjpeg2_$VERSION.debian.tar.xz sha256 $DEBIAN_SHA256
compiler: $(emcc --version | head -n1)
glue: scripts/openjpeg-glue.c sha256 $(sha256sum "$ROOT/scripts/openjpeg-glue.c" | cut -d' ' -f1)
openjpeg.wasm sha256 $(sha256sum "$OUT/openjpeg.wasm" | cut -d' ' -f1)
INFO
echo "built $OUT/openjpeg.wasm ($(wc -c <"$OUT/openjpeg.wasm") bytes)"
