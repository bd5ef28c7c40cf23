#!/usr/bin/env bash
# Checks the include graph of production code against the layers (README,
# "Layout"): a file may include its own folder and folders of lower layers
# only. Tests, test helpers and benchmarks may include anything; tools/,
# fuzz/ and bench/ sit on top and are not checked.
#
#   rank 0  engine/common, engine/env   (the Env interface and its helpers)
#   rank 1  engine/model
#   rank 2  engine/wal, engine/segment, engine/archive, engine/clock
#   rank 3  engine/holder
#   rank 4  engine/shard
#   rank 5  engine/snapshot, engine/cluster (the replica set, above the shard)
#   rank 6  sim
#   rank 7  properties
#   rank 8  scenarios, reports
#
# Usage: tools/check_layers.sh [SOURCE_DIR]. Exit 0 when every include is
# allowed, 1 listing each one that is not, 2 when a folder is unknown.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

declare -A rank=(
  [engine/common]=0 [engine/env]=0 [engine/model]=1 [engine/wal]=2 [engine/segment]=2 [engine/archive]=2
  [engine/clock]=2 [engine/holder]=3 [engine/shard]=4 [engine/snapshot]=5 [engine/cluster]=5 [sim]=6 [properties]=7 [scenarios]=8
  [reports]=8
)

# The layer of a path: its first two components under engine/, else its first.
layer_of() {
  case "$1" in
    engine/*) echo "$1" | cut -d/ -f1-2 ;;
    *) echo "$1" | cut -d/ -f1 ;;
  esac
}

is_test_only() {
  case "$(basename "$1")" in
    *_test.cc | *_test_util.h | *test_model.h | *_bench.cc | planted_fault_env.h | yield_gate_env.h) return 0 ;;
  esac
  return 1
}

violations=0
checked=0
while IFS= read -r file; do
  is_test_only "$file" && continue
  from=$(layer_of "$file")
  if [ -z "${rank[$from]+x}" ]; then
    echo "check_layers: $file is in $from, which has no layer (add it to tools/check_layers.sh)" >&2
    exit 2
  fi
  while IFS= read -r included; do
    to=$(layer_of "$included")
    [ -z "${rank[$to]+x}" ] && continue  # a library (absl/, fmt/, ...)
    checked=$((checked + 1))
    # engine/common and engine/env are one layer (each uses the other).
    if [ "$to" != "$from" ] && [ "${rank[$to]}" -ge "${rank[$from]}" ] && [ "${rank[$from]}" -ne 0 ]; then
      echo "$file includes $included: $from (layer ${rank[$from]}) may not include $to (layer ${rank[$to]})"
      violations=$((violations + 1))
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done < <(find engine sim properties scenarios reports -name '*.cc' -o -name '*.h' | sort)

echo "check_layers: $checked includes checked, $violations not allowed"
[ "$violations" -eq 0 ]
