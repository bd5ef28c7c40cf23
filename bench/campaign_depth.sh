#!/usr/bin/env bash
# The campaign's cost against run depth (issue 15): seeds/s, simulated ops/s
# and CPU microseconds per simulated op at 20, 200 and 2,000 client steps per
# client (`campaign --ops-per-client`), shard seeds only, one worker, medians
# of --repeat runs. The cost per op should stay flat as runs get deeper: a
# rise says something in the engine, the history or the checker grows with
# the run (O(n^2)).
#
# Usage: bench/campaign_depth.sh [--shardsim PATH] [--repeat N] [--depths "20 200 2000"]
#                                [--steps-per-depth N]
#   --steps-per-depth: client steps per depth and run, spread over
#   steps/depth seeds (default 40000: ~10 s per run on one core).
set -euo pipefail
cd "$(dirname "$0")/.."

shardsim=build/default/tools/shardsim
repeat=5
depths="20 200 2000"
steps_per_depth=40000
while [ $# -gt 0 ]; do
  case "$1" in
    --shardsim) shardsim="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --depths) depths="$2"; shift 2 ;;
    --steps-per-depth) steps_per_depth="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "campaign_depth.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$shardsim" ] || { echo "campaign_depth.sh: no shardsim at '$shardsim' (build it, or pass --shardsim)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "campaign_depth.sh: needs python3" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "depth  seeds  run  seeds/s  sim-ops/s  ops/seed  cpu-us/op"
for depth in $depths; do
  seeds=$(( steps_per_depth / depth ))
  [ "$seeds" -ge 1 ] || seeds=1
  for run in $(seq 1 "$repeat"); do
    json="$work/d${depth}-r${run}.json"
    # One worker: the figures are per core. No budget: every run does the
    # same seeds. Shard seeds only: the depth is the shard workload's.
    /usr/bin/time -f "%U %S" -o "$work/time" "$shardsim" campaign --seeds "0..$((seeds - 1))" \
      --ops "$depth" --cluster-share 0 --jobs 1 --quiet --shrink-replays 0 \
      --json "$json" >"$work/out" 2>&1 || {
      echo "campaign_depth.sh: the campaign at depth $depth failed (output below)" >&2
      cat "$work/out" >&2
      exit 1
    }
    python3 - "$json" "$work/time" "$depth" "$run" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
user, system = (float(x) for x in open(sys.argv[2]).read().split()[-2:])
ops = d["simulated_ops_per_second"] * d["elapsed_seconds"]
print(f'{sys.argv[3]:>5}  {d["seeds"]:>5}  {sys.argv[4]:>3}  {d["seeds_per_second"]:>7.1f}  '
      f'{d["simulated_ops_per_second"]:>9.0f}  {ops / max(d["seeds"], 1):>8.1f}  '
      f'{(user + system) * 1e6 / max(ops, 1):>9.1f}')
EOF
  done | tee "$work/depth-$depth.txt"
  python3 - "$work/depth-$depth.txt" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
col = lambda i: statistics.median(float(r[i]) for r in rows)
print(f'{rows[0][0]:>5}  median of {len(rows)}: {col(3):.1f} seeds/s, {col(4):.0f} sim ops/s, '
      f'{col(5):.1f} ops/seed, {col(6):.1f} cpu-us/op')
EOF
done
