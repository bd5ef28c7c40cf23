#!/usr/bin/env bash
# tools/check_layers.sh must refuse an include that runs up the layers (a
# checker that cannot fail is a defect) and accept one that runs down.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/check_layers.sh"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree"/engine/{common,shard,snapshot} "$tree"/{sim,properties,scenarios,reports}
echo '#include "engine/common/assert.h"' > "$tree/engine/shard/down.h"
echo '#include "engine/shard/down.h"' > "$tree/engine/snapshot/fine.h"
bash "$script" "$tree" > /dev/null || { echo "FAIL: a downward include was refused"; exit 1; }
echo '#include "engine/snapshot/fine.h"' > "$tree/engine/shard/up.h"
if bash "$script" "$tree" > "$tree/out.txt"; then
  echo "FAIL: engine/shard including engine/snapshot was accepted"
  exit 1
fi
grep -q "engine/shard/up.h includes engine/snapshot/fine.h" "$tree/out.txt" || { echo "FAIL: not named"; exit 1; }
echo '#include "sim/world.h"' > "$tree/engine/shard/up.h"
if bash "$script" "$tree" > /dev/null; then echo "FAIL: engine including sim was accepted"; exit 1; fi
echo "check_layers_test: passed"
