#!/usr/bin/env bash
# Replays every cluster-*.scn in a folder with `shardsim replay`; each must
# end as its `expect` line says, on the trace its `trace-hash` line pins.
# Passes with no such file (CTest's scenario.cluster_regressions runs it
# over scenarios/regressions).
#
#   tools/replay_cluster_scenarios.sh SHARDSIM DIR
#
# Exit 0 when every file replays as expected, 1 naming each that does not:
# "MISMATCH: FILE" when its outcome differs (or it does not read), "DRIFT:
# FILE" when only its trace differs from the pinned one; 2 on bad usage.
set -uo pipefail
shardsim=${1:?usage: replay_cluster_scenarios.sh SHARDSIM DIR}
dir=${2:?usage: replay_cluster_scenarios.sh SHARDSIM DIR}
[ -x "$shardsim" ] || { echo "not executable: $shardsim" >&2; exit 2; }
[ -d "$dir" ] || { echo "no such folder: $dir" >&2; exit 2; }
shopt -s nullglob
files=("$dir"/cluster-*.scn)
failed=0
for file in "${files[@]}"; do
  if "$shardsim" replay "$file" > /tmp/replay_cluster_$$.out 2>&1; then
    echo "ok: $file"
  elif grep -q '^reproduced: yes' /tmp/replay_cluster_$$.out && grep -q '^trace drift' /tmp/replay_cluster_$$.out; then
    # The outcome as expected, on another trace: not a caught bug (the
    # planted-bug catalog counts MISMATCH lines only), but still a failure.
    echo "DRIFT: $file"
    grep '^trace drift' /tmp/replay_cluster_$$.out
    failed=$((failed + 1))
  else
    echo "MISMATCH: $file"
    tail -20 /tmp/replay_cluster_$$.out
    failed=$((failed + 1))
  fi
done
rm -f /tmp/replay_cluster_$$.out
echo "cluster scenarios: ${#files[@]} replayed, $failed not as expected"
[ "$failed" -eq 0 ]
