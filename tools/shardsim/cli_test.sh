#!/usr/bin/env bash
# End-to-end checks of `shardsim`'s command line: for each bad (or edge)
# invocation, the exit status and a line of its output. Every one of these
# was wrong once (issue 14: a seed of -1 ran, `from-fuzz DIR` aborted, ...).
# Cases are cheap: none runs a campaign or more than a few small runs.
#
#   tools/shardsim/cli_test.sh SHARDSIM SOURCE_DIR
#
# Exit 0 when every case holds, 1 naming each that does not, 2 on bad usage.
set -uo pipefail
shardsim=${1:?usage: cli_test.sh SHARDSIM SOURCE_DIR}
source_dir=${2:?usage: cli_test.sh SHARDSIM SOURCE_DIR}
[ -x "$shardsim" ] || { echo "not executable: $shardsim" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
cases=0

# expect STATUS PATTERN ARGS...: `shardsim ARGS` exits with STATUS and its
# output (stdout and stderr) has a line matching the extended regex PATTERN
# (an empty one checks nothing),
# within 60 s (a usage error must come before the work, not after it).
expect() {
  local status=$1 pattern=$2
  shift 2
  cases=$((cases + 1))
  timeout 60 "$shardsim" "$@" > "$work/out" 2>&1
  local got=$?
  if [ "$got" -ne "$status" ] || { [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$work/out"; }; then
    echo "FAIL: shardsim $* exited $got (want $status), output (want /$pattern/):"
    head -n 5 "$work/out" | sed 's/^/  | /'
    failed=$((failed + 1))
  fi
}

mkdir -p "$work/dir"
: > "$work/empty"

# Numeric flags: digits only, in range (flag_checks.h).
expect 2 "^--seed: '-1' is not a whole decimal number" run --seed -1
expect 2 "^--seed: '18446744073709551616' is not a whole decimal number" run --seed 18446744073709551616
expect 2 "^--seed: '12abc' is not a whole decimal number" record --seed 12abc -o "$work/x.scn"
expect 2 "^--seed: '0x10' is not a whole decimal number" check-determinism --seed 0x10
expect 2 "first seed is above the last" campaign --seeds 9..5
expect 2 "two whole decimal numbers" campaign --seeds -1..3
expect 2 "first seed is above the last" check-determinism --cluster --seeds 3..1
expect 0 "^cluster seeds 0..2: 0 of 3 differ; digest of the trace hashes: [0-9a-f]{16}$" check-determinism --cluster --seeds 0..2
expect 2 "two whole decimal numbers" real --seeds 1..2x
expect 2 "^--jobs: '-2' is not a whole decimal number in 0..1024" campaign --jobs -2
expect 2 "^--peers: '-1' is not" run --cluster --peers -1
expect 2 "^--until: '-5' is not" replay "$work/empty" --until -5

# Input files: a directory, a missing file, an empty one.
expect 2 "from-fuzz: $work/dir is a directory" from-fuzz "$work/dir"
expect 2 "from-fuzz: cannot open $work/absent: No such file or directory" from-fuzz "$work/absent"
expect 0 "^tape " from-fuzz "$work/empty"  # libFuzzer's first input: a valid one
for command in replay crash-every; do
  expect 2 "$command: $work/dir is a directory" $command "$work/dir"
  expect 2 "$command: $work/empty: empty file" $command "$work/empty"
  expect 2 "$command: cannot open $work/absent: No such file" $command "$work/absent"
done
expect 2 "shrink: $work/dir is a directory" shrink "$work/dir" -o "$work/out.scn"
expect 2 "shrink: $work/empty: empty file" shrink "$work/empty" -o "$work/out.scn"
expect 2 "envelope: $work/dir is a directory" envelope "$work/dir"
expect 2 "envelope: $work/empty: empty file" envelope "$work/empty"

# Output paths: checked before the run (a campaign's budget is an hour here).
expect 2 "^shardsim campaign: --json $work/absent/x.json: the directory $work/absent does not exist" \
  campaign --budget 1h --json "$work/absent/x.json"
expect 2 "^shardsim campaign: --found-dir $work/empty/found: $work/empty is not a directory" \
  campaign --budget 1h --found-dir "$work/empty/found"
expect 2 "^shardsim real: --json $work/dir: is a directory" real --budget 1h --json "$work/dir"
expect 2 "^shardsim real: --json $work/absent/x.json: the directory" campaign --real --budget 1h \
  --json "$work/absent/x.json"
expect 2 "^shardsim record: -o $work/absent/s.scn: the directory" record --seed 1 -o "$work/absent/s.scn"
expect 2 "^shardsim record: -o $work/dir: is a directory" record --cluster --seed 1 -o "$work/dir"
expect 2 "^shardsim run: --trace-json $work/absent/t.json: the directory" run --cluster --seed 1 \
  --trace-json "$work/absent/t.json"
expect 2 "^shardsim run: --trace-json $work/absent/t.json: the directory" run --seed 1 \
  --trace-json "$work/absent/t.json"
scenario="$source_dir/scenarios/regressions/snapshot-without-forced-flush.scn"
expect 2 "^shardsim replay: --trace-json $work/dir: is a directory" replay "$scenario" --trace-json "$work/dir"
expect 2 "^shardsim shrink: -o $work/absent/s.scn: the directory" shrink "$scenario" -o "$work/absent/s.scn"
expect 2 "^shardsim from-fuzz: -o $work/dir: is a directory" from-fuzz "$work/empty" -o "$work/dir"
expect 2 "^shardsim crash-every: --failures-dir $work/empty/f: $work/empty is not a directory" crash-every \
  "$scenario" --failures-dir "$work/empty/f"
expect 2 "^shardsim envelope: -o $work/absent/e.md: the directory" envelope "$work/empty" -o "$work/absent/e.md"

# A shard run writes its trace as JSON (it once needed --cluster), and
# recording the events leaves the trace hash alone.
expect 0 "^trace-json: $work/t1.json \([0-9]+ events" run --seed 1 --trace-json "$work/t1.json"
cases=$((cases + 1))
with_json=$("$shardsim" run --seed 1 --trace-json "$work/t1.json" 2>/dev/null | grep '^trace-hash: ')
without=$("$shardsim" run --seed 1 | grep '^trace-hash: ')
if [ -z "$without" ] || [ "$with_json" != "$without" ] || ! grep -q '"traceEvents"' "$work/t1.json"; then
  echo "FAIL: run --seed 1 --trace-json: '$with_json' against '$without', or no traceEvents in the file"
  failed=$((failed + 1))
fi

# Scenario files end with a marker and pin their trace hash (scenarios/README.md).
regression="$source_dir/scenarios/regressions/hidden-entries-in-segments.scn"
cluster_regression="$source_dir/scenarios/regressions/cluster-ack-lost-to-a-skipped-replica.scn"
head -n -1 "$regression" > "$work/cut.scn"
expect 2 "cut.scn: truncated scenario: no end marker" replay "$work/cut.scn"
head -n -3 "$cluster_regression" > "$work/cut-cluster.scn"
expect 2 "cut-cluster.scn: truncated cluster scenario: no end marker" replay "$work/cut-cluster.scn"
expect 2 "cut.scn: truncated scenario" shrink "$work/cut.scn" -o "$work/out.scn"
expect 2 "cut.scn: truncated scenario" crash-every "$work/cut.scn"
sed 's/^trace-hash .*/trace-hash 0000000000000000/' "$regression" > "$work/drift.scn"
expect 1 "^trace drift: the replay's trace hash [0-9a-f]{16} is not the pinned 0000000000000000" replay "$work/drift.scn"
expect 0 "^trace: not compared with the pinned 0000000000000000 \(--verbose" replay "$work/drift.scn" --verbose
sed 's/^trace-hash .*/trace-hash 0000000000000000/' "$cluster_regression" > "$work/drift-cluster.scn"
expect 1 "^trace drift" replay "$work/drift-cluster.scn"
expect 0 "^trace: as pinned" replay "$regression"
expect 0 "^trace: as pinned" replay "$cluster_regression"
# A version-1 file (no end marker) is refused but by pin, which upgrades it.
sed '/^trace-hash /d; /^end /d; s/^shardsim-scenario 2$/shardsim-scenario 1/' "$regression" > "$work/v1.scn"
expect 2 "line [0-9]+: format version 1 has no end marker" replay "$work/v1.scn"
expect 0 "v1.scn: pass, trace-hash [0-9a-f]{16} \(was not pinned\)" pin "$work/v1.scn"
cmp -s "$work/v1.scn" "$regression" || { echo "FAIL: pin did not restore $regression's text"; failed=$((failed + 1)); }
expect 0 "v1.scn: pass, trace-hash [0-9a-f]{16} \(unchanged\)" pin "$work/v1.scn"
expect 1 "drift.scn: pass, trace-hash [0-9a-f]{16} \(was 0000000000000000\)|^pin: 2 files, 1 pinned, 1 not reproduced" \
  pin "$work/drift.scn" "$source_dir/scenarios/testdata/cluster-mismatch.scn"
cp "$source_dir/scenarios/testdata/cluster-mismatch.scn" "$work/mismatch.scn"
expect 1 "mismatch.scn: NOT pinned: it expects no-such-invariant and replays as pass" pin "$work/mismatch.scn"
cmp -s "$work/mismatch.scn" "$source_dir/scenarios/testdata/cluster-mismatch.scn" ||
  { echo "FAIL: pin changed a file that did not reproduce"; failed=$((failed + 1)); }
expect 2 "cut.scn: truncated scenario" pin "$work/cut.scn"
# What record and from-fuzz write replays as pinned.
expect 0 "^trace-hash: [0-9a-f]{16}" record --seed 7 -o "$work/s7.scn"
expect 0 "^trace: as pinned" replay "$work/s7.scn"
expect 0 "^trace-hash: [0-9a-f]{16}" record --cluster --seed 7 -o "$work/c7.scn"
expect 0 "^trace: as pinned" replay "$work/c7.scn"
expect 0 "" from-fuzz "$work/empty" -o "$work/fuzz.scn"
expect 0 "^trace: as pinned" replay "$work/fuzz.scn"

# Flags a command would parse and then ignore are refused.
expect 2 "The following argument was not expected: --json" record --seed 1 -o "$work/r.scn" --json
expect 2 "The following argument was not expected: --trace" record --seed 1 -o "$work/r.scn" --trace
expect 2 "The following argument was not expected: --json" check-determinism --seed 1 --json
expect 2 "^shardsim campaign: --real takes only --seeds, --budget, --json and --quiet, not --jobs" \
  campaign --real --jobs 2 --budget 1h
expect 2 "^shardsim campaign: --profile is a shard-run knob" campaign --cluster --profile faulty --budget 1h
expect 2 "^shardsim campaign: --found-dir: --shrink-replays 0 shrinks nothing" campaign --shrink-replays 0 \
  --found-dir "$work/f" --budget 1h
expect 2 "^shardsim crash-every: --max-saved bounds the files --failures-dir writes" crash-every "$scenario" \
  --max-saved 3
expect 2 "^shardsim run: --json prints one JSON object on stdout" run --seed 1 --json --verbose
# `run --json` prints one JSON object and nothing else; it holds the trace hash.
for run_args in "--seed 7" "--cluster --seed 7"; do
  cases=$((cases + 1))
  # shellcheck disable=SC2086 # (the words are flags)
  # (No JSON parser is installed by tools/setup.sh: the object is one line,
  # as nlohmann::json::dump writes it, and nothing follows it.)
  if ! "$shardsim" run $run_args --json > "$work/run.json" 2> /dev/null || [ "$(wc -l < "$work/run.json")" != 1 ] ||
    ! grep -Eq '^\{.*"trace_hash":"[0-9a-f]{16}".*\}$' "$work/run.json"; then
    echo "FAIL: shardsim run $run_args --json is not one JSON object with a trace_hash:"
    head -c 300 "$work/run.json" | sed 's/^/  | /'
    failed=$((failed + 1))
  fi
done
# Help and version.
expect 0 "^  faulty \(crash models: " campaign --help
expect 0 "^Subcommands:" help
expect 0 "^Usage: .*shardsim run \[OPTIONS\]" help run
expect 2 "^shardsim help: no command 'nosuch'" help nosuch
expect 0 "^shardsim [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{12}(-dirty)?|unknown), [A-Za-z+]+\)$" --version
expect 2 "A subcommand is required"

echo "cli_test: $cases cases, $failed failed"
[ "$failed" -eq 0 ]
