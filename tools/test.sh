#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: the default preset (g++,
# RelWithDebInfo with always-on assertions), then the asan preset (clang,
# ASan + UBSan), then the tsan preset (clang, ThreadSanitizer: the
# real-world programs and the tests labelled real), then the fuzz preset
# (clang, libFuzzer + ASan: only the fuzz targets and the libraries they
# link, target `fuzzers`; its tests are label fuzz-smoke: each target's
# corpus, then 30 s of fuzzing per target), then the same in the fuzz-fast
# preset (libFuzzer, no sanitizer: the build users run for exec/s). Pass
# --quick to run only the default preset.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh

presets=(default asan tsan fuzz fuzz-fast)
[ "${1:-}" = "--quick" ] && presets=(default)

for preset in "${presets[@]}"; do
  echo "== preset ${preset}: configure and build"
  # From scratch, a unity build (sources compiled in batches) takes about
  # half the time (README, "Building by hand").
  cmake --preset "$preset" -DCMAKE_UNITY_BUILD=ON >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  echo "== preset ${preset}: test"
  ctest --preset "$preset"
  if [ "$preset" = default ] && [ "$(id -u)" = 0 ]; then
    # A campaign split over a Slurm job array and merged, on a single-node
    # Slurm started here (docs/running-on-a-cluster.md); needs root.
    echo "== Slurm: a campaign as a job array, merged"
    status=0
    bash tools/cluster/slurm/slurm_test.sh --install --shardsim build/default/tools/shardsim || status=$?
    if [ "$status" = 77 ]; then
      echo "== Slurm: SKIPPED (Slurm could not start on this machine; see above)"
    elif [ "$status" != 0 ]; then
      exit "$status"
    fi
  fi
done
