#!/bin/bash -eu
# OSS-Fuzz build script for shardsim (copied to $SRC/build.sh by the
# Dockerfile beside it; fuzz/README.md, section "OSS-Fuzz", says how to use it).
#
# The fuzzers run on OSS-Fuzz's base-runner image, not on the image they are
# built on, so every dependency is built here from the sources the Dockerfile
# put in $SRC, as a static library, with $CC/$CXX and $CFLAGS/$CXXFLAGS
# (instrumented like the project, as OSS-Fuzz expects of dependencies), into
# one prefix. shardsim is then configured against that prefix with
# SHARDSIM_STATIC_DEPS=ON (static libraries only) and
# SHARDSIM_TESTS_AND_TOOLS=OFF (no tests, no `shardsim` command, so no GTest,
# RapidCheck or CLI11), and fuzz/oss_fuzz_build.sh builds the fuzz targets and
# copies them with their dictionaries, options and seed corpora into $OUT.
# The binaries link dynamically only libc, libm, libpthread, libdl and librt
# (and libgcc_s); OSS-Fuzz's libc++ is static.
#
# Dependencies and what shardsim uses them for (CMakeLists.txt):
#   abseil-cpp     absl::Status/StatusOr/strings (engine/)
#   fmt            formatting everywhere
#   boost          Boost.Context fibers (sim/scheduler), header-only boost/crc.hpp;
#                  1.81 or newer: 1.74's config says libc++ has no std::invoke,
#                  so Boost.Context falls back to std::result_of, which libc++
#                  drops in C++20 (found by the local check: fuzz/README.md)
#   libarchive     tar read/write in memory (engine/archive/tar_archive.cc): tar
#                  and pax formats only, so no compression, crypto, xml or acl
#   openssl        libcrypto's SHA-256 (engine/archive/sha256.cc, EVP_MD_fetch:
#                  OpenSSL 3) for snapshot checksums
#   xxHash         trace hashes (sim/trace.cc)
#   json           nlohmann_json, header-only (WAL, segment and manifest files)
#
# Outside OSS-Fuzz (a local check): set SRC to a folder holding the same
# source trees and shardsim (a link will do), WORK, OUT, CC, CXX, CFLAGS,
# CXXFLAGS and LIB_FUZZING_ENGINE as OSS-Fuzz does. A dependency whose stamp in
# the prefix matches the compiler and flags is not built again (OSS-Fuzz
# always starts from an empty $WORK; the stamp does not record the source
# version: delete $WORK after changing a source tree, and
# $WORK/shardsim-oss-fuzz-build after a change in the prefix, since CMake
# caches where it found each package). JOBS sets the parallelism (default
# nproc).

# OSS-Fuzz runs this as `bash -eux build.sh`; a local run may not.
set -euo pipefail
: "${SRC:?}" "${WORK:?}" "${OUT:?}" "${CC:?}" "${CXX:?}" "${LIB_FUZZING_ENGINE:?}"
CFLAGS="${CFLAGS:-}" CXXFLAGS="${CXXFLAGS:-}"
jobs="${JOBS:-$(nproc)}"
prefix="$WORK/deps"
mkdir -p "$prefix"
generator=(-G "Unix Makefiles")
command -v ninja >/dev/null && generator=(-G Ninja)

# What every dependency's CMake build gets: the OSS-Fuzz compilers and flags
# (CMAKE_BUILD_TYPE None: no -O or -g of CMake's own beside $CFLAGS), static
# libraries only, installed into the prefix, and C++20 for the C++ ones
# (abseil's ABI follows the standard it is compiled with: it must be
# shardsim's).
cmake_common=("${generator[@]}" -DCMAKE_BUILD_TYPE=None
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX"
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS"
  -DCMAKE_CXX_STANDARD=20 -DCMAKE_CXX_STANDARD_REQUIRED=ON
  -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib
  -DCMAKE_PREFIX_PATH="$prefix")

# up_to_date NAME: the dependency was built into the prefix with these flags.
stamp_text="$CC|$CXX|$CFLAGS|$CXXFLAGS"
up_to_date() { [ -f "$prefix/.built-$1" ] && [ "$(cat "$prefix/.built-$1")" = "$stamp_text" ]; }
mark_built() { printf '%s' "$stamp_text" >"$prefix/.built-$1"; }

# cmake_dependency NAME SOURCE_DIR [CMAKE_ARGS...]
cmake_dependency() {
  local name=$1 source=$2
  shift 2
  if up_to_date "$name"; then echo "== $name: up to date in $prefix"; return; fi
  echo "== $name"
  rm -rf "$WORK/build-$name"
  cmake -S "$source" -B "$WORK/build-$name" "${cmake_common[@]}" "$@"
  cmake --build "$WORK/build-$name" -j "$jobs"
  cmake --install "$WORK/build-$name"
  mark_built "$name"
}

cmake_dependency abseil "$SRC/abseil-cpp" -DABSL_PROPAGATE_CXX_STD=ON -DABSL_BUILD_TESTING=OFF \
  -DABSL_ENABLE_INSTALL=ON
cmake_dependency fmt "$SRC/fmt" -DFMT_TEST=OFF -DFMT_DOC=OFF -DFMT_INSTALL=ON
cmake_dependency json "$SRC/json" -DJSON_BuildTests=OFF -DJSON_Install=ON
cmake_dependency xxhash "$SRC/xxHash/cmake_unofficial" -DXXHASH_BUILD_XXHSUM=OFF
cmake_dependency libarchive "$SRC/libarchive" -DENABLE_TEST=OFF -DENABLE_INSTALL=ON \
  -DENABLE_TAR=OFF -DENABLE_CPIO=OFF -DENABLE_CAT=OFF -DENABLE_UNZIP=OFF \
  -DENABLE_OPENSSL=OFF -DENABLE_MBEDTLS=OFF -DENABLE_NETTLE=OFF -DENABLE_CNG=OFF -DENABLE_LIBB2=OFF \
  -DENABLE_LZ4=OFF -DENABLE_LZO=OFF -DENABLE_LZMA=OFF -DENABLE_ZSTD=OFF -DENABLE_ZLIB=OFF -DENABLE_BZip2=OFF \
  -DENABLE_LIBXML2=OFF -DENABLE_EXPAT=OFF -DENABLE_PCREPOSIX=OFF -DENABLE_PCRE2POSIX=OFF -DENABLE_LIBGCC=OFF \
  -DENABLE_XATTR=OFF -DENABLE_ACL=OFF -DENABLE_ICONV=OFF

# OpenSSL: only libcrypto's SHA-256 is used. Static, providers built in
# (no-module), C code only (no-asm: every line instrumented, as the
# sanitizers want), and no-bulk: OpenSSL's minimal set (no TLS extras, no
# legacy ciphers; SHA-2 stays).
if up_to_date openssl; then
  echo "== openssl: up to date in $prefix"
else
  echo "== openssl"
  rm -rf "$WORK/build-openssl" && mkdir -p "$WORK/build-openssl"
  (cd "$WORK/build-openssl" &&
    CC="$CC" CFLAGS="$CFLAGS" "$SRC/openssl/Configure" linux-x86_64 --prefix="$prefix" --libdir=lib \
      --openssldir="$prefix/ssl" no-shared no-module no-tests no-asm no-bulk &&
    make -j "$jobs" build_libs >/dev/null &&
    make install_dev >/dev/null)
  mark_built openssl
fi

# Boost: Boost.Context is the one compiled library (the rest are headers).
# b2 itself is built without the sanitizer flags; the library with them.
if up_to_date boost; then
  echo "== boost: up to date in $prefix"
else
  echo "== boost"
  (cd "$SRC/boost" &&
    env -u CFLAGS -u CXXFLAGS ./bootstrap.sh --with-toolset=clang --with-libraries=context --prefix="$prefix" &&
    echo "using clang : oss : $CXX ;" >"$WORK/boost-user-config.jam" &&
    ./b2 -q -j "$jobs" --user-config="$WORK/boost-user-config.jam" --build-dir="$WORK/build-boost" \
      toolset=clang-oss link=static runtime-link=shared variant=release threading=multi \
      cflags="$CFLAGS" cxxflags="$CXXFLAGS -std=c++20" install >"$WORK/boost-build.log" ||
    { tail -50 "$WORK/boost-build.log"; exit 1; })
  mark_built boost
fi

# shardsim's fuzz targets against the prefix, static libraries only.
WORK="$WORK" bash "$SRC/shardsim/fuzz/oss_fuzz_build.sh" \
  -DSHARDSIM_STATIC_DEPS=ON -DSHARDSIM_TESTS_AND_TOOLS=OFF -DCMAKE_PREFIX_PATH="$prefix"
