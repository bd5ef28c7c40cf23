#!/usr/bin/env bash
# Installs every Debian 12 package shardsim needs to build, test and fuzz,
# skipping what is already there. Safe to run again. Needs root (or sudo).
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  clang libclang-rt-14-dev        # asan, tsan and fuzz presets (the sanitizer runtimes)
  libgtest-dev librapidcheck-dev libbenchmark-dev
  libabsl-dev libfmt-dev libboost-context-dev
  libarchive-dev nlohmann-json3-dev libssl-dev libcli11-dev libxxhash-dev libpcg-cpp-dev
  libgoogle-perftools-dev         # tcmalloc_minimal: the allocator of shardsim, shard_bench and the tests (CMakeLists.txt)
  chromium python3                # the HTML report's browser test (reports/html_report_browser_test.sh)
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
echo "setup: installing ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
