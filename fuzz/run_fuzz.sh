#!/usr/bin/env bash
# Runs a libFuzzer campaign on one fuzz target of the `fuzz` preset.
#
#   fuzz/run_fuzz.sh TARGET [--budget SECONDS] [--jobs N] [--merge-back]
#                    [--fast | --build-dir DIR] [--work DIR] [-- LIBFUZZER_FLAG...]
#
# --fast runs the fuzz-fast preset's binary (build/fuzz-fast: no sanitizer;
# about four times the exec/s of fuzz_shard) instead of the fuzz preset's
# (build/fuzz: ASan).
#
# The campaign fuzzes a working copy of fuzz/corpus/TARGET (the checked-in
# corpus changes only with --merge-back, which adds to it the fewest new
# inputs that cover the edges the run reached beyond it: a set-cover merge on
# edges alone, not hit counts or comparisons, so the corpus stays small)
# with -fork=N for --budget seconds
# (default 300, jobs default 1), keeping going after a crash so every crash
# of the budget is collected. Findings (crash-*, leak-*, timeout-*, oom-*)
# go to WORK/artifacts; the full log is WORK/fuzz.log. At the end it prints
# exec/s, cov and ft (from libFuzzer's last status line) and the findings;
# exit status 1 if anything was found, 2 on bad usage.
#
# Allocations over 512 MiB are reported as findings (-malloc_limit_mb): the
# inputs are at most tens of KiB, so that much memory means the engine
# trusted a size field. Override with `-- -malloc_limit_mb=...`. (libFuzzer
# sees allocations through ASan's allocator only: with --fast just the 2 GiB
# RSS limit applies.)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

usage() { sed -n '4,5p' "$0" | sed 's/^# *//' >&2; exit 2; }

[ $# -ge 1 ] || usage
target="$1"; shift
budget=300 jobs=1 merge_back=0 build_dir="$root/build/fuzz" preset=fuzz work="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget="${2:?}"; shift 2 ;;
    --jobs) jobs="${2:?}"; shift 2 ;;
    --merge-back) merge_back=1; shift ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --fast) build_dir="$root/build/fuzz-fast"; preset=fuzz-fast; shift ;;
    --work) work="${2:?}"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) usage ;;
  esac
done

binary="$build_dir/fuzz/$target"
seeds="$root/fuzz/corpus/$target"
dict="$root/fuzz/$target.dict"
if [ ! -x "$binary" ]; then
  echo "no $binary; build it: cmake --preset $preset && cmake --build --preset $preset --target $target" >&2
  exit 2
fi
[ -d "$seeds" ] || { echo "no seed corpus $seeds" >&2; exit 2; }

work="${work:-$build_dir/fuzz-runs/$target-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$work/corpus" "$work/artifacts"
cp -n "$seeds"/* "$work/corpus/" 2>/dev/null || true
dict_flag=()
[ -f "$dict" ] && dict_flag=("-dict=$dict")

echo "== $target: ${budget}s, $jobs job(s), work dir $work"
set +e
"$binary" -fork="$jobs" -ignore_crashes=1 -max_total_time="$budget" -timeout=30 \
  -rss_limit_mb=2048 -malloc_limit_mb=512 "${dict_flag[@]}" \
  -artifact_prefix="$work/artifacts/" "${extra[@]}" "$work/corpus" >"$work/fuzz.log" 2>&1
status=$?
set -e
echo "libFuzzer exit status: $status (log: $work/fuzz.log)"

if [ "$merge_back" = 1 ]; then
  before=$(ls "$seeds" | wc -l)
  # (-merge=1 keeps every input with a new feature: 1,513 files where these
  # flags keep 224 with the same edges, fuzz_shard 2026-12-04.)
  "$binary" -set_cover_merge=1 -use_counters=0 -use_cmp=0 "${dict_flag[@]}" "$seeds" "$work/corpus" \
    >"$work/merge.log" 2>&1
  echo "merged into $seeds: $before -> $(ls "$seeds" | wc -l) files"
fi

# libFuzzer's last status line, e.g. "#123: cov: 900 ft: 2000 corp: 50 exec/s: 800 ...".
last=$(grep -E '(^#[0-9]+.*cov: [0-9]+)' "$work/fuzz.log" | tail -n 1 || true)
field() { sed -n "s|.*$1:* \([0-9][0-9]*\).*|\1|p" <<<"$last"; }
count() { find "$work/artifacts" -maxdepth 1 -name "$1-*" | wc -l; }
crashes=$(count crash) leaks=$(count leak) timeouts=$(count timeout) ooms=$(count oom)
echo "== $target summary"
echo "exec/s:   $(field exec/s)"
echo "cov:      $(field cov)"
echo "ft:       $(field ft)"
echo "corpus:   $(ls "$work/corpus" | wc -l) files"
echo "crashes:  $crashes (leaks $leaks, timeouts $timeouts, ooms $ooms) in $work/artifacts"
for file in "$work"/artifacts/*; do
  [ -e "$file" ] && echo "  replay: $build_dir/fuzz/${target}_repro $file"
done
[ $((crashes + leaks + timeouts + ooms)) -eq 0 ] || exit 1
