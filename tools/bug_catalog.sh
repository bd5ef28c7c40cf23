#!/usr/bin/env bash
# Planted-bug catalog: does the default campaign catch each bug of tools/bugs/?
#
#   bash tools/bug_catalog.sh [--budget SECONDS] [--only NN] [--jobs J]
#
# Works in a scratch git worktree of HEAD (/tmp/shardsim-bugs/src, created
# once, moved to the current HEAD on every run) with its own build directory
# (/tmp/shardsim-bugs/build; Ninja, RelWithDebInfo, g++ like the default
# preset, benchmarks off). It builds `shardsim` unpatched and runs the
# campaign for the budget (it must pass), then for each tools/bugs/NN-*.patch
# (a cluster bug, by its catalog area, with --cluster):
# git apply, incremental build of `shardsim`, campaign, record, git apply -R.
# Prints a Markdown table and writes it to reports/bug_catalog.md.
# See tools/bugs/README.md.
set -uo pipefail

budget=60
only=""
jobs=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --budget) budget="${2:?--budget needs SECONDS}"; shift 2 ;;
    --only) only="${2:?--only needs NN}"; shift 2 ;;
    --jobs) jobs="${2:?--jobs needs J}"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bug_catalog.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
budget="${budget%s}"
if ! [[ "$budget" =~ ^[0-9]+$ && "$budget" -gt 0 ]]; then
  echo "bug_catalog.sh: --budget wants a number of seconds" >&2; exit 2
fi
if ! [[ "$jobs" =~ ^[0-9]+$ && "$jobs" -gt 0 ]]; then
  echo "bug_catalog.sh: --jobs wants a positive number" >&2; exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bugs_dir="$root/tools/bugs"
scratch=/tmp/shardsim-bugs
src="$scratch/src"
build="$scratch/build"
results="$scratch/results"
mkdir -p "$scratch" "$results"

log() { echo "[bug_catalog $(date +%H:%M:%S)] $*" >&2; }

# ---- The scratch worktree, at the current HEAD. ----
head="$(git -C "$root" rev-parse HEAD)"
if [[ ! -e "$src/.git" ]]; then
  log "creating worktree $src at ${head:0:12}"
  git -C "$root" worktree prune
  git -C "$root" worktree add --detach "$src" "$head" >&2 || exit 1
else
  log "refreshing worktree $src to ${head:0:12}"
  # Only the scratch worktree is reset here, never $root.
  git -C "$src" reset -q --hard && git -C "$src" checkout -q --detach "$head" || exit 1
fi

# ---- Configure once (like the default preset) and build unpatched. ----
if [[ ! -f "$build/build.ninja" ]]; then
  extra=()
  grep -q 'SHARDSIM_BENCHMARKS' "$src/CMakeLists.txt" && extra+=(-DSHARDSIM_BENCHMARKS=OFF)
  log "configuring $build"
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=g++ -DCMAKE_C_COMPILER=gcc "${extra[@]}" > "$results/configure.log" 2>&1 \
    || { cat "$results/configure.log" >&2; exit 1; }
fi
build_shardsim() {  # $1 = log file
  cmake --build "$build" --target shardsim -j "$jobs" > "$1" 2>&1
}
shardsim="$build/tools/shardsim"

# Runs the campaign; prints "rc elapsed" (wall seconds measured here).
# Extra arguments go to the campaign (--cluster for a cluster bug).
run_campaign() {  # $1 = json file, $2 = log file, [campaign options...]
  rm -f "$1"
  local start end rc
  start=$(date +%s.%N)
  # From its own directory: the campaign writes shrunk scenarios of failures
  # under ./scenarios/found, which must not land in the caller's tree.
  local dir="${1%.json}.run"
  rm -rf "$dir" && mkdir -p "$dir"
  # A planted bug's campaign ends at its first failure (time to first
  # failure is what the table reports); the unpatched one runs the budget.
  local stop="--stop-on-failure"
  [[ "$1" == */unpatched.json ]] && stop=""
  (cd "$dir" && "$shardsim" campaign --budget "${budget}s" --jobs "$jobs" --json "$1" --quiet $stop "${@:3}") > "$2" 2>&1
  rc=$?
  end=$(date +%s.%N)
  echo "$rc $(python3 -c "print(f'{$end - $start:.1f}')")"
}

# Summarises a campaign JSON as tab-separated: first-failure seconds,
# invariant, shrunk steps, failing seeds, seeds, first failure message.
# Uses failures[].first_failure_seconds / shrunk_steps when the campaign
# writes them; otherwise estimates the time from the earliest failing
# seed's position in the sweep (prefixed "~").
summarise() {  # $1 = json file
  python3 - "$1" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception as e:
    print("n/a\tno JSON summary\tn/a\t0\t0\t" + str(e)); sys.exit(0)
fails = j.get("failures", [])
seeds = j.get("seeds", 0)
if not fails:
    print(f"n/a\t-\tn/a\t0\t{seeds}\t"); sys.exit(0)
if all("first_failure_seconds" in f for f in fails):
    first = min(fails, key=lambda f: f["first_failure_seconds"])
    t = f'{first["first_failure_seconds"]:.1f}'
else:
    first = min(fails, key=lambda f: f.get("first_seed", 0))
    el = j.get("elapsed_seconds", 0)
    t = f'~{el * (first.get("first_seed", 0) + 1) / seeds:.1f}' if seeds and el else "n/a"
shrunk = first.get("shrunk_steps")
shrunk = "n/a" if shrunk is None else str(shrunk)
if first.get("original_steps") is not None and shrunk != "n/a":
    shrunk += f' (of {first["original_steps"]})'
msg = " ".join(str(first.get("failure", "")).split())[:400]
if first.get("scenario"):
    msg += f' [shrunk scenario: {first["scenario"]}, replay: {first.get("replay", "?")}]'
print(f'{t}\t{first.get("invariant", "?")}\t{shrunk}\t{j.get("failed", 0)}\t{seeds}\t{msg}')
EOF
}

rows=()      # Markdown table rows
details=()   # first failure message per bug
missed=()    # catalog notes of each bug not caught
md_escape() { local s="${1//|/\\|}"; echo "${s//$'\n'/ }"; }

json_rows=()  # the same rows as JSON objects (reports/bug_catalog.json, for `shardsim report --catalog`)
record() {  # name caught time invariant shrunk failed seeds message
  rows+=("| $1 | $2 | $3 | $(md_escape "$4") | $5 | $6 / $7 |")
  json_rows+=("$(python3 -c 'import json, sys
keys = ["bug", "caught", "time_to_first_failure_seconds", "invariant", "shrunk", "failed", "seeds", "message"]
print(json.dumps(dict(zip(keys, sys.argv[1:] + [""] * 8))))' "$@")")
  [[ -n "${8:-}" ]] && details+=("- **$1** (first failure): $(md_escape "$8")")
}

# ---- Unpatched baseline. ----
log "building shardsim (unpatched)"
if ! build_shardsim "$results/build-unpatched.log"; then
  tail -30 "$results/build-unpatched.log" >&2
  log "the unpatched build failed"; exit 1
fi
log "unpatched campaign (${budget}s, $jobs jobs)"
read -r rc wall < <(run_campaign "$results/unpatched.json" "$results/unpatched.log")
IFS=$'\t' read -r t inv shrunk failed seeds msg < <(summarise "$results/unpatched.json")
baseline_ok=yes
if [[ "$rc" == 0 ]]; then
  record "(unpatched)" "passes" "-" "-" "-" "$failed" "$seeds" ""
else
  baseline_ok=no
  record "(unpatched)" "FAILS (exit $rc)" "$t" "$inv" "$shrunk" "$failed" "$seeds" "$msg"
fi
log "unpatched: exit $rc, $failed failed of $seeds seeds"

# ---- Each bug. ----
shopt -s nullglob
patches=("$bugs_dir"/[0-9][0-9]-*.patch)
[[ ${#patches[@]} -eq 0 ]] && { log "no patches in $bugs_dir"; exit 1; }
for patch in "${patches[@]}"; do
  name="$(basename "$patch" .patch)"
  [[ -n "$only" && "${name%%-*}" != "$only" ]] && continue
  if ! git -C "$src" apply --check "$patch" 2> "$results/$name.apply.log"; then
    log "$name: does not apply"
    record "$name" "PATCH DOES NOT APPLY" "-" "$(head -1 "$results/$name.apply.log")" "-" "-" "-" ""
    continue
  fi
  git -C "$src" apply "$patch"
  log "$name: building"
  if ! build_shardsim "$results/$name.build.log"; then
    log "$name: build failed (see $results/$name.build.log)"
    record "$name" "BUILD FAILED" "-" "$(grep -m1 'error' "$results/$name.build.log")" "-" "-" "-" ""
  else
    # A bug of the replica-set layer (its catalog area says "cluster") is
    # hunted by the cluster campaign, as CI and the README run it.
    area="$(awk -F'\t' -v f="$name.patch" '$1 == f { print $2 }' "$bugs_dir/catalog.tsv")"
    mode=()
    [[ "$area" == *"(cluster"* ]] && mode=(--cluster)
    log "$name: campaign (${budget}s${mode:+, ${mode[*]}})"
    read -r rc wall < <(run_campaign "$results/$name.json" "$results/$name.log" "${mode[@]}")
    label="$name"
    [[ ${#mode[@]} -gt 0 ]] && label="$name (--cluster)"
    IFS=$'\t' read -r t inv shrunk failed seeds msg < <(summarise "$results/$name.json")
    case "$rc" in
      1) caught=yes ;;
      0) caught=no; t=n/a ;;
      *) caught="campaign error (exit $rc)" ;;
    esac
    log "$name: caught=$caught time=$t invariant=$inv"
    if [[ "$caught" == no ]]; then
      note="$(awk -F'\t' -v f="$name.patch" '$1 == f { print $5 }' "$bugs_dir/catalog.tsv")"
      # A cluster bug the campaign missed may still be caught by a
      # regression scenario CTest replays (scenario.cluster_regressions).
      if [[ ${#mode[@]} -gt 0 ]]; then
        bash "$src/tools/replay_cluster_scenarios.sh" "$shardsim" "$src/scenarios/regressions" \
          > "$results/$name.regressions.log" 2>&1
        caught_by="$(grep '^MISMATCH: ' "$results/$name.regressions.log" | sed 's|.*/||' | paste -sd, - | sed 's/,/, /g')"
        if [[ -n "$caught_by" ]]; then
          note+=". Caught by the regression scenarios CTest replays: ${caught_by}."
        else
          note+=". No regression scenario catches it either."
        fi
      fi
      missed+=("- **$label**: $(md_escape "${note:-no catalog entry}")")
    fi
    record "$label" "$caught" "$t" "$inv" "$shrunk" "$failed" "$seeds" "$msg"
  fi
  if ! git -C "$src" apply -R "$patch"; then
    log "$name: git apply -R failed; resetting the scratch worktree"
    git -C "$src" reset -q --hard
  fi
done

# ---- Report. ----
{
  echo "# Planted-bug catalog"
  echo
  echo "Generated by \`tools/bug_catalog.sh --budget $budget --jobs $jobs${only:+ --only $only}\` on"
  echo "commit \`${head:0:12}\`, $(date -u +%Y-%m-%dT%H:%MZ). Each bug is one patch of"
  echo "\`tools/bugs/\` (described in \`tools/bugs/catalog.tsv\`), run through"
  echo "\`shardsim campaign --budget ${budget}s --jobs $jobs\` (with \`--cluster\` for a bug whose"
  echo "catalog area is the replica-set layer, marked \"(--cluster)\"). Time to first failure: from the"
  echo "campaign's \`first_failure_seconds\` when it reports one, else \"~\" = estimated"
  echo "from the earliest failing seed's position in the sweep."
  masked=("$bugs_dir"/masked/[0-9][0-9]-*.patch)
  if [[ ${#masked[@]} -gt 0 ]]; then
    echo "Not run: $(for m in "${masked[@]}"; do basename "$m" .patch; done | paste -sd, - | sed 's/,/, /g')"
    echo "(\`tools/bugs/masked/\`: no campaign can catch them, each removing one of two defences"
    echo "against one race or planting a race the simulation opens no window for; its README says why)."
  fi
  echo
  echo "| bug | caught | time to first failure (s) | invariant | shrunk steps | failed / seeds |"
  echo "| --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  if [[ ${#missed[@]} -gt 0 ]]; then
    echo
    echo "## Not caught: why (from tools/bugs/catalog.tsv; investigation in tools/bugs/README.md)"
    echo
    printf '%s\n' "${missed[@]}"
  fi
  if [[ ${#details[@]} -gt 0 ]]; then
    echo
    echo "## First failure of each caught bug"
    echo
    printf '%s\n' "${details[@]}"
  fi
} > "$scratch/bug_catalog.md"
cat "$scratch/bug_catalog.md"
printf '%s\n' "${json_rows[@]}" | python3 -c 'import json, sys
rows = [json.loads(line) for line in sys.stdin if line.strip()]
print(json.dumps({"generated_by": "tools/bug_catalog.sh --budget " + sys.argv[1] + " --jobs " + sys.argv[2],
                  "commit": sys.argv[3], "generated_at": sys.argv[4], "budget_seconds": int(sys.argv[1]),
                  "rows": rows}, indent=1))' "$budget" "$jobs" "${head:0:12}" "$(date -u +%Y-%m-%dT%H:%MZ)" \
  > "$scratch/bug_catalog.json"
if [[ -z "$only" ]]; then
  mkdir -p "$root/reports"
  cp "$scratch/bug_catalog.md" "$root/reports/bug_catalog.md"
  cp "$scratch/bug_catalog.json" "$root/reports/bug_catalog.json"
  log "wrote $root/reports/bug_catalog.md and bug_catalog.json"
else
  log "--only: $root/reports/bug_catalog.md left alone ($scratch/bug_catalog.md has this run)"
fi
[[ "$baseline_ok" == yes ]] || { log "the unpatched engine FAILED its campaign"; exit 1; }
exit 0
