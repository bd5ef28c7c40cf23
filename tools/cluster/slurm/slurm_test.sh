#!/usr/bin/env bash
# The Slurm path for real, on this one machine: starts munge and a
# single-node Slurm (controller and node daemon, no systemd, no cgroups),
# submits a campaign of N parts with submit.sh, waits for the merge job and
# checks that all.json sums exactly what one campaign over the same seeds
# finds. Needs root and Debian's slurm-wlm and munge (--install installs
# them). Everything it starts runs from a scratch directory and is stopped
# on exit. Exit codes: 0 the merged result is right, 1 it is not (or the
# jobs failed), 2 bad usage, 77 Slurm or munge could not start on this
# machine (nothing was tested; the message says why).
#   tools/cluster/slurm/slurm_test.sh --shardsim build/default/tools/shardsim [--parts 3] [--seeds 0..299] [--install]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shardsim="" parts=3 seeds="0..299" install=no timeout_seconds=600
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shardsim) shardsim="$2"; shift 2 ;;
    --parts) parts="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --install) install=yes; shift ;;
    *) echo "slurm_test: unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { echo "slurm_test: $*" >&2; }
[[ -x "$shardsim" ]] || { log "--shardsim PATH to a built shardsim is required"; exit 2; }
shardsim="$(cd "$(dirname "$shardsim")" && pwd)/$(basename "$shardsim")"
[[ $(id -u) -eq 0 ]] || { log "needs root (it starts munged and the Slurm daemons)"; exit 2; }
# python3 compares the merged summary with a direct campaign's.
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v python3 >/dev/null; then
  [[ "$install" == yes ]] || { log "slurm-wlm, munge or python3 is missing (--install installs them)"; exit 2; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge python3 >/dev/null
fi

work="$(mktemp -d /tmp/shardsim-slurm.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
host="$(hostname -s)"
mkdir -p "$work"/{state,spool,run,munge,out}
chmod 755 "$work"

# munge: its own key, socket and pid file, so a machine's own munged (if
# any) is left alone.
dd if=/dev/urandom of="$work/munge/munge.key" bs=128 count=1 status=none
chown -R munge:munge "$work/munge"
# The socket's directory must let every user reach it; the key stays private.
chmod 755 "$work/munge" && chmod 400 "$work/munge/munge.key"
munge_socket="$work/munge/munge.socket"
if ! runuser -u munge -- /usr/sbin/munged --key-file="$work/munge/munge.key" --socket="$munge_socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed"; then
  log "SKIP: munged did not start here (log: $work/munge/munged.log)"
  exit 77
fi
pids+=("$(cat "$work/munge/munged.pid")")

cpus="$(nproc)"
cat > "$work/slurm.conf" <<CONF
ClusterName=shardsim-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$munge_socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -D -i >"$work/slurmctld.stdout" 2>&1 &
pids+=($!)
slurmd -D >"$work/slurmd.stdout" 2>&1 &
pids+=($!)
for ((i = 0; ; i++)); do
  state="$(sinfo -h -o %T 2>/dev/null || true)"
  [[ "$state" == idle* ]] && break
  if ((i > 60)); then
    log "SKIP: the Slurm node never became idle here (state '$state'); logs in $work"
    tail -5 "$work/slurmctld.log" "$work/slurmd.log" >&2 || true
    exit 77
  fi
  sleep 1
done
log "single-node Slurm up ($cpus CPUs) in $work"

start=$SECONDS
"$here/submit.sh" --parts "$parts" --seeds "$seeds" --out "$work/out" --shardsim "$shardsim" -- --cpus-per-task=1
while [[ -n "$(squeue -h -o %i 2>/dev/null)" ]]; do
  if ((SECONDS - start > timeout_seconds)); then log "jobs still queued after ${timeout_seconds}s"; squeue >&2; exit 1; fi
  sleep 2
done
log "array and merge jobs done in $((SECONDS - start)) s"
[[ -s "$work/out/all.json" ]] || { log "no all.json; job logs:"; tail -n 20 "$work"/out/*.out >&2; exit 1; }

# The same seeds in one campaign on this machine: the merged counters,
# coverage, envelope and failures must be the ones it finds.
"$shardsim" campaign --seeds "$seeds" --jobs 2 --quiet --shrink-replays 0 \
  --json "$work/whole.json" >/dev/null || true
python3 - "$work/out/all.json" "$work/whole.json" "$parts" <<'PY'
import json, sys
merged, whole, parts = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
problems = []
if merged["parts"] != parts: problems.append(f"parts {merged['parts']} != {parts}")
if len(merged["seed_range"]["ranges"]) != parts: problems.append("seed ranges per part")
for key in ["seeds", "passed", "failed", "steps", "stats", "coverage", "faults", "failing_seeds"]:
    if merged[key] != whole[key]: problems.append(f"{key} differs: {str(merged[key])[:200]} vs {str(whole[key])[:200]}")
for key in ["seeds", "failed", "stats", "coverage", "peers_per_seed", "messages_dropped"]:
    if merged["cluster"][key] != whole["cluster"][key]: problems.append(f"cluster.{key} differs")
if [f["signature"]["key"] for f in merged["failures"]] != [f["signature"]["key"] for f in whole["failures"]]:
    problems.append("failure signatures differ")
print(f"slurm_test: merged {merged['seeds']} seeds from {merged['parts']} parts on hosts {merged['identity']['hosts']}: "
      f"{merged['failed']} failed, {merged['seeds_per_second']:.1f} seeds/s; "
      + ("equal to one campaign over the same seeds" if not problems else "DIFFERS: " + "; ".join(problems)))
sys.exit(1 if problems else 0)
PY
