#!/usr/bin/env bash
# Submits a shardsim campaign to Slurm: an array of N parts, then a merge.
#   tools/cluster/slurm/submit.sh --parts N --out DIR [--seeds A..B | --budget 1h] [--shardsim PATH] [-- sbatch flags]
# Prints the two job ids; DIR/all.json is the merged summary when the merge
# job ends (squeue / sacct show progress).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
parts="" out="" seeds="" budget="" shardsim="$(command -v shardsim || true)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --parts) parts="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --budget) budget="$2"; shift 2 ;;
    --shardsim) shardsim="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) echo "submit.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$parts" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: --parts N (N >= 1) is required" >&2; exit 2; }
[[ -n "$out" ]] || { echo "submit.sh: --out DIR (shared by every node) is required" >&2; exit 2; }
[[ -x "$shardsim" ]] || { echo "submit.sh: no shardsim binary (--shardsim PATH)" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
shardsim="$(cd "$(dirname "$shardsim")" && pwd)/$(basename "$shardsim")"
export SHARDSIM="$shardsim" SHARDSIM_OUT="$out" SHARDSIM_SEEDS="$seeds" SHARDSIM_BUDGET="$budget" SHARDSIM_PARTS="$parts"
array_job="$(sbatch --parsable --export=ALL --chdir="$out" --array="0-$((parts - 1))" "$@" "$here/shardsim-part.sbatch")"
merge_job="$(sbatch --parsable --export=ALL --chdir="$out" --dependency="afterany:${array_job%%;*}" "$@" \
  "$here/shardsim-merge.sbatch")"
echo "array job $array_job ($parts parts), merge job $merge_job -> $out/all.json"
