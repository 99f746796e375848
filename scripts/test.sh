#!/usr/bin/env bash
# Runs every test: unit tests (no root needed) and integration tests (root, real kernel) against the published
# NativeAOT binary. Installs what it needs first (scripts/setup.sh --no-demo). Prints "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-demo
export MINIDOCKER_BIN="$PWD/out/minidocker" MINIDOCKER_BUSYBOX_TAR="$PWD/out/busybox.tar"

passed=0 failed=0 skipped=0 rc=0
results=$(mktemp -d)
for project in tests/*/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "== $name"
  set +e
  dotnet test "$project" --nologo --logger "trx;LogFileName=$name.trx" --results-directory "$results" 2>&1 | tee "$results/$name.log" | grep -vE '^\s*$'
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" = 0 ] || rc=1
  line=$(grep -E '(Passed|Failed)! +- +Failed: ' "$results/$name.log" | tail -n 1 || true)
  if [ -z "$line" ]; then echo "$name: no test summary (build failure?)"; rc=1; continue; fi
  f=$(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$line"); p=$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$line")
  s=$(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done
rm -rf "$results"
if [ "$skipped" -gt 0 ]; then echo "tests: $passed passed, $failed failed, $skipped skipped"; else echo "tests: $passed passed, $failed failed"; fi
[ "$failed" = 0 ] && [ "$rc" = 0 ]
