#!/usr/bin/env bash
# OSS-Fuzz build script (what a project's build.sh calls): builds every fuzz
# target (fuzz/fuzz_*.cc) with $CC, $CXX, $CFLAGS and $CXXFLAGS, links
# $LIB_FUZZING_ENGINE, and copies into $OUT each binary, its dictionary as
# <target>.dict, its libFuzzer options as <target>.options and its seed
# corpus as <target>_seed_corpus.zip.
#
# Arguments are passed on to CMake's configure step: the OSS-Fuzz build script
# (fuzz/oss-fuzz/build.sh) passes the prefix of its statically built
# dependencies and -DSHARDSIM_STATIC_DEPS=ON -DSHARDSIM_TESTS_AND_TOOLS=OFF.
#
# Locally, against the system's (shared) libraries:
#   CC=clang CXX=clang++ CFLAGS='-fsanitize=address,fuzzer-no-link' \
#   CXXFLAGS='-fsanitize=address,fuzzer-no-link' \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/ossout bash fuzz/oss_fuzz_build.sh
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
: "${CC:?}" "${CXX:?}" "${OUT:?}" "${LIB_FUZZING_ENGINE:?}"
CFLAGS="${CFLAGS:-}" CXXFLAGS="${CXXFLAGS:-}"
build="${WORK:-$(mktemp -d)}/shardsim-oss-fuzz-build"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

# The instrumentation comes from CFLAGS/CXXFLAGS, so the project adds none
# of its own (SHARDSIM_FUZZ_INSTRUMENT=OFF).
cmake -S "$src" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DSHARDSIM_FUZZ=ON -DSHARDSIM_FUZZ_INSTRUMENT=OFF -DSHARDSIM_BENCHMARKS=OFF \
  -DSHARDSIM_LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" "$@"

targets=()
for source in "$src"/fuzz/fuzz_*.cc; do targets+=("$(basename "$source" .cc)"); done
cmake --build "$build" --target "${targets[@]}" -j "${JOBS:-$(nproc)}"

mkdir -p "$OUT"
for target in "${targets[@]}"; do
  cp "$build/fuzz/$target" "$OUT/"
  [ -f "$src/fuzz/$target.dict" ] && cp "$src/fuzz/$target.dict" "$OUT/$target.dict"
  [ -f "$src/fuzz/$target.options" ] && cp "$src/fuzz/$target.options" "$OUT/$target.options"
  if ! command -v zip >/dev/null; then
    echo "zip not found: skipping ${target}_seed_corpus.zip" >&2
  elif [ -d "$src/fuzz/corpus/$target" ]; then
    rm -f "$OUT/${target}_seed_corpus.zip"
    zip -q -j "$OUT/${target}_seed_corpus.zip" "$src/fuzz/corpus/$target"/*
  fi
  echo "built $OUT/$target"
done
