#!/usr/bin/env bash
# A campaign split with --shard over 4 parts and merged says what the
# unsplit campaign says: the same seeds, passes, failures, counters, fault
# envelope, coverage and cluster figures (tools/shardsim/merge_command.h).
#   shard_merge_test.sh SHARDSIM WORK_DIR [SEEDS]
set -euo pipefail
shardsim="$1" work="$2" seeds="${3:-0..239}"
rm -rf "$work" && mkdir -p "$work"
run() { "$shardsim" campaign --seeds "$seeds" --jobs 2 --quiet --shrink-replays 0 "$@" >/dev/null; }
run --json "$work/whole.json"
for part in 0 1 2 3; do run --shard "$part/4" --json "$work/part-$part.json"; done
"$shardsim" merge "$work"/part-{0,1,2,3}.json -o "$work/merged.json"
python3 - "$work/merged.json" "$work/whole.json" <<'PY'
import json, sys
merged, whole = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
problems = [key for key in ["seeds", "passed", "failed", "failing_seeds", "steps", "stats", "faults", "coverage", "mix"]
            if merged[key] != whole[key]]
problems += ["cluster." + key for key in ["seeds", "failed", "stats", "coverage", "peers_per_seed", "messages_dropped",
                                          "required_transitions_missing"] if merged["cluster"][key] != whole["cluster"][key]]
if merged["parts"] != 4 or [r["first"] for r in merged["seed_range"]["ranges"]] != sorted(r["first"] for r in merged["seed_range"]["ranges"]):
    problems.append("parts / seed ranges")
if merged["seed_range"]["first"] != whole["seed_range"]["first"] or merged["seed_range"]["last"] != whole["seed_range"]["last"]:
    problems.append("seed_range bounds")
print(f"shard_merge_test: {merged['seeds']} seeds in 4 parts merged; " + ("equal to the unsplit campaign" if not problems
      else "DIFFER in: " + ", ".join(problems)))
sys.exit(1 if problems else 0)
PY
