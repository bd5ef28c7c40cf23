#!/usr/bin/env bash
# A shardsim campaign over machines you can ssh into, with GNU parallel:
# part I of N runs on whichever host is free, its JSON comes back, and the
# parts are merged here.
#   tools/cluster/parallel/run.sh --parts N --budget 30m [--hosts FILE] [--seeds A..B] [--out DIR]
# FILE lists one ssh login per line, GNU parallel's --sshloginfile format
# ("2/user@host" runs two parts at once there); without --hosts every part
# runs on this machine. Each host needs `shardsim` on its PATH (the same
# build: merge refuses mixed commits).
set -euo pipefail
parts="" budget="" seeds="" hosts="" out="shardsim-parts"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --parts) parts="$2"; shift 2 ;;
    --budget) budget="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --hosts) hosts="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$parts" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --parts N is required" >&2; exit 2; }
[[ -n "$budget" || -n "$seeds" ]] || { echo "run.sh: --budget or --seeds is required" >&2; exit 2; }
command -v parallel >/dev/null || { echo "run.sh: GNU parallel is not installed (apt-get install parallel)" >&2; exit 2; }
mkdir -p "$out"
flags="--quiet --jobs 2${budget:+ --budget $budget}${seeds:+ --seeds $seeds}"
remote=()
[[ -n "$hosts" ]] && remote=(--sshloginfile "$hosts" --return "part-{}.json" --cleanup)
# Exit 1 of a part means a seed failed; its JSON is there to merge.
( cd "$out" && seq 0 $((parts - 1)) | parallel --jobs 1 "${remote[@]}" --line-buffer --tagstring 'part {}' \
    "shardsim campaign $flags --shard {}/$parts --found-dir found-{} --json part-{}.json >/dev/null; [ \$? -le 1 ]" )
files=()
for ((i = 0; i < parts; i++)); do files+=("$out/part-$i.json"); done
shardsim merge "${files[@]}" -o "$out/all.json"
