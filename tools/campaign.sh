#!/usr/bin/env bash
# The main job: sets up, builds (default preset) and runs a simulation
# campaign of the shard engine. Extra arguments go to `shardsim campaign`
# (default: a one-minute budget on every core), then renders the fault
# envelope into reports/fault_envelope.md. Exit status: 0 all seeds passed,
# 1 a failure was found (replay commands are printed), 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default --target shardsim -j "$(nproc)"
mkdir -p reports
status=0
./build/default/tools/shardsim campaign --json reports/campaign.json "$@" || status=$?
# The fault-tolerance envelope of this campaign (docs/faults.md).
if [ "$status" -ne 2 ] && [ -f reports/campaign.json ]; then
  ./build/default/tools/shardsim envelope reports/campaign.json -o reports/fault_envelope.md || true
  echo "fault envelope: reports/fault_envelope.md"
fi
exit "$status"
