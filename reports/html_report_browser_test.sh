#!/usr/bin/env bash
# The HTML report in a real browser: renders a small campaign's report (with
# the checked-in planted-bug catalog) and loads it in Debian's headless
# Chromium, which must run the page's script without an error and show every
# section, the verdict and the charts. Exit 77 (skipped) when Chromium is
# not installed.
#   reports/html_report_browser_test.sh SHARDSIM SOURCE_DIR WORK_DIR
set -euo pipefail
shardsim="$1" source_dir="$2" work="$3"
browser="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$browser" ]] || { echo "SKIP: chromium is not installed (apt-get install chromium)"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
# A campaign with a failure: --profile with a value the run refuses is not
# it; a real failing seed needs a planted bug, so the failing document is a
# passing campaign's summary with one failure group added by hand.
"$shardsim" campaign --seeds 0..39 --jobs 2 --quiet --shrink-replays 0 \
  --json "$work/campaign.json" >/dev/null
"$shardsim" report "$work/campaign.json" --catalog "$source_dir/reports/bug_catalog.json" \
  -o "$work/index.html" --junit "$work/junit.xml"
check_page() {  # $1 = html file, then patterns the rendered DOM must hold
  local page="$1"; shift
  # No network: every host resolves to nothing, so a page that fetched
  # anything would show it as a console error.
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --host-resolver-rules="MAP * ~NOTFOUND" --enable-logging=stderr --v=0 \
    --user-data-dir="$work/profile" --dump-dom "file://$page" > "$page.dom" 2> "$page.log" || true
  local ok=yes
  for pattern in 'data-rendered="yes"' '<section id="identity">' '<section id="throughput">' \
                 '<section id="failures">' '<section id="coverage">' '<section id="envelope">' \
                 '<section id="catalog">' '<svg class="chart"' "$@"; do
    grep -qF -- "$pattern" "$page.dom" || { echo "FAIL: $page: the rendered page lacks $pattern"; ok=no; }
  done
  if grep -E "CONSOLE.*(Uncaught|Error)|Failed to load resource" "$page.log"; then
    echo "FAIL: $page: the browser reported errors (above)"; ok=no
  fi
  [[ "$ok" == yes ]]
}
check_page "$work/index.html" 'Every seed passed' 'Time to first failure' 'Shrunk scenario size' '40 seeds, all passed'
python3 - "$work/campaign.json" "$work/failing.json" <<'PY'
import json, sys
campaign = json.load(open(sys.argv[1]))
campaign["failed"], campaign["passed"] = 1, campaign["passed"] - 1
campaign["failures"] = [{"invariant": "recovery", "count": 1, "first_seed": 7, "failure": "after reload <b>x</b>",
                         "replay": "shardsim run --seed 7",
                         "signature": {"key": "recovery | after reload | wal | ", "invariant": "recovery",
                                       "check": "after reload", "component": "wal", "message_class": ""}}]
json.dump(campaign, open(sys.argv[2], "w"))
PY
"$shardsim" report "$work/failing.json" -o "$work/failing.html" --junit "$work/failing.xml"
check_page "$work/failing.html" '1 of 40 seeds failed' 'shardsim run --seed 7' 'after reload &lt;b&gt;x&lt;/b&gt;'
grep -q 'failures="1"' "$work/failing.xml" || { echo "FAIL: the JUnit XML does not count the failure"; exit 1; }
echo "html_report_browser_test: both pages rendered in $("$browser" --version 2>/dev/null | head -1) without errors"
