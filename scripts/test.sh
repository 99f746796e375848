#!/usr/bin/env bash
# Runs every test: unit tests (no root needed) and integration tests (root, real kernel) against the published
# NativeAOT binary. Installs what it needs first (scripts/setup.sh --no-demo). Prints "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-demo
export MINIDOCKER_BIN="$PWD/out/minidocker" MINIDOCKER_BUSYBOX_TAR="$PWD/out/busybox.tar"
passed=0 failed=0 skipped=0 rc=0

echo "== shellcheck"
# -x follows `source bench/lib.sh` (paths are from the repository root, where this runs).
shellcheck -x scripts/*.sh bench/*.sh rootfs/*.sh .ci/run || { echo "shellcheck: fix the findings above"; rc=1; }

# The lab's Apple Silicon VMs run linux-arm64: on x64 a cross publish (Debian's cross gcc, see src/Cli's csproj)
# proves it builds, and one run under qemu that it starts. Into out/arm64, beside the out/minidocker the tests use.
echo "== publish linux-arm64"
dotnet publish src/Cli -c Release -r linux-arm64 -o out/arm64 --nologo -v quiet
run_arm64=()
[ "$(uname -m)" = aarch64 ] || run_arm64=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
"${run_arm64[@]}" out/arm64/minidocker --version >/dev/null ||
  { echo "linux-arm64: out/arm64/minidocker does not start (${run_arm64[*]:-natively})"; exit 1; }
# Verbs that open, lock and write state files: an arm64 build with x86_64 constants fails here (O_DIRECTORY there is
# O_DIRECT, refused by open with EINVAL).
arm64_root=$(mktemp -d)
for verb in "ps -a" "images" "network ls"; do
  # shellcheck disable=SC2086 # the verb is two words on purpose
  "${run_arm64[@]}" out/arm64/minidocker --root "$arm64_root/state" $verb >/dev/null ||
    { echo "linux-arm64: 'minidocker $verb' failed (${run_arm64[*]:-natively})"; rm -rf "$arm64_root"; exit 1; }
done
rm -rf "$arm64_root"

echo "== dotnet format"
dotnet format MiniDocker.sln --verify-no-changes || { echo "dotnet format: run 'dotnet format MiniDocker.sln'"; rc=1; }
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
