#!/usr/bin/env bash
# Checks what build.sh left in $OUT, as the runner image would use it:
# 1. each fuzz binary needs no shared library beyond libc, libm, libpthread,
#    libdl, librt, libstdc++/libc++(abi), libgcc_s and the loader (ldd);
# 2. each runs its unzipped seed corpus once (-runs=0) without a crash;
# 3. each fuzzes SECONDS (default 20) from those seeds without a crash,
#    with the options of its <target>.options (dict, max_len), and the last
#    libFuzzer status line is printed (runs, cov, ft, exec/s).
# Exit 1 if any check fails. Scratch files go to $WORK/check-out/.
#
#   OUT=... WORK=... bash fuzz/oss-fuzz/check_out.sh [SECONDS]
set -uo pipefail
: "${OUT:?}" "${WORK:?}"
seconds="${1:-20}"
scratch="$WORK/check-out"
rm -rf "$scratch" && mkdir -p "$scratch"
allowed='^(linux-vdso\.so|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|libstdc\+\+\.so|libc\+\+\.so|libc\+\+abi\.so|libgcc_s\.so|ld-linux)'
failed=0

# libfuzzer_flags TARGET: the [libfuzzer] options of TARGET.options as flags.
libfuzzer_flags() {
  local file="$OUT/$1.options" key value
  [ -f "$file" ] || return 0
  sed -n '/^\[libfuzzer\]/,/^\[/p' "$file" | grep '=' | while IFS='=' read -r key value; do
    key="$(echo "$key" | tr -d ' ')" value="$(echo "$value" | tr -d ' ')"
    [ "$key" = dict ] && value="$OUT/$value"
    echo "-$key=$value"
  done
}

for binary in "$OUT"/*; do
  [ -f "$binary" ] && [ -x "$binary" ] || continue
  target="$(basename "$binary")"
  echo "== $target"
  libs="$(ldd "$binary" | awk '{print $1}' | sed 's|.*/||')"
  echo "ldd: $(echo "$libs" | tr '\n' ' ')"
  outside="$(echo "$libs" | grep -Ev "$allowed" || true)"
  if [ -n "$outside" ]; then
    echo "FAIL: shared libraries outside the runner image's: $outside"
    failed=1
  fi

  seeds="$scratch/$target/seeds"
  mkdir -p "$seeds" "$scratch/$target/corpus" "$scratch/$target/artifacts"
  [ -f "$OUT/${target}_seed_corpus.zip" ] && unzip -q -o "$OUT/${target}_seed_corpus.zip" -d "$seeds"
  echo "seeds: $(find "$seeds" -type f | wc -l)"
  mapfile -t flags < <(libfuzzer_flags "$target")
  if ! "$binary" "${flags[@]}" -runs=0 "$seeds" >"$scratch/$target/seeds.log" 2>&1; then
    echo "FAIL: the seed corpus (log: $scratch/$target/seeds.log)"
    failed=1
    continue
  fi
  echo "seed corpus: $(grep -E 'INITED|DONE' "$scratch/$target/seeds.log" | tail -1)"
  if ! "$binary" "${flags[@]}" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2560 \
       -artifact_prefix="$scratch/$target/artifacts/" "$scratch/$target/corpus" "$seeds" \
       >"$scratch/$target/run.log" 2>&1; then
    echo "FAIL: ${seconds} s run (log: $scratch/$target/run.log)"
    failed=1
    continue
  fi
  echo "${seconds} s run: $(grep -E '^#[0-9]+' "$scratch/$target/run.log" | tail -1)"
  echo "artifacts: $(find "$scratch/$target/artifacts" -type f | wc -l)"
done
[ "$failed" = 0 ] && echo "all checks passed" || echo "SOME CHECKS FAILED"
exit "$failed"
