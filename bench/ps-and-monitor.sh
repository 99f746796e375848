#!/usr/bin/env bash
# `ps` with many containers, and what each detached container's monitor costs in memory.
#   Targets: `ps` (and `ps -a`) under 50 ms with 200 running containers (hyperfine mean);
#            monitor resident memory at most 5 MB per container (average over the monitors).
# The monitors all map the same minidocker binary and libraries, so VmRSS (what /proc/PID/status reports and the
# target names) counts shared file pages once per monitor; PSS (smaps_rollup) divides them among the monitors and
# is what 200 containers really cost. Both are printed, with the private anonymous part (RssAnon).
# Needs: out/minidocker and out/busybox.tar (scripts/setup.sh --no-demo), or MINIDOCKER_BIN / MINIDOCKER_BUSYBOX_TAR;
# apt package hyperfine. Usage: bench/ps-and-monitor.sh [COUNT]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
md=${MINIDOCKER_BIN:-$PWD/out/minidocker}
tar=${MINIDOCKER_BUSYBOX_TAR:-$PWD/out/busybox.tar}
count=${1:-200}
root=$(mktemp -d /tmp/mdk-bench-ps-XXXXXX)

cleanup() {
  local ids=()
  mapfile -t ids < <("$md" --root "$root" ps -aq 2>/dev/null)
  [ ${#ids[@]} -eq 0 ] || "$md" --root "$root" rm -f "${ids[@]}" >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap cleanup EXIT

"$md" --root "$root" image import -c 'CMD ["sh"]' "$tar" busybox >/dev/null
echo "== starting $count containers (run -d --network none busybox sleep 600)"
start=$(date +%s.%N)
seq "$count" | xargs -P 4 -I{} "$md" --root "$root" run -d --network none --name "bench{}" busybox sleep 600 >/dev/null
echo "   $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
running=$("$md" --root "$root" ps -q | wc -l)
[ "$running" = "$count" ] || { echo "only $running of $count containers run" >&2; exit 1; }

echo "== ps with $count containers"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$root/ps.json" \
  -n "ps" "$md --root $root ps" -n "ps -a" "$md --root $root ps -a"
ps_ms=$(python3 -c 'import json,sys; print(max(r["mean"] for r in json.load(open(sys.argv[1]))["results"]) * 1000)' "$root/ps.json")

echo "== monitor memory"
rss=0 anon=0 pss=0 n=0
for state in "$root"/containers/*/state.json; do
  pid=$(grep -o '"monitorPid": [0-9]*' "$state" | grep -o '[0-9]*$')
  [ -r "/proc/$pid/status" ] || continue
  rss=$((rss + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")))
  anon=$((anon + $(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status")))
  pss=$((pss + $(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")))
  n=$((n + 1))
done
awk -v rss="$rss" -v anon="$anon" -v pss="$pss" -v n="$n" -v ps="$ps_ms" 'BEGIN {
  printf "monitors: %d; average VmRSS %.2f MB, RssAnon %.2f MB, PSS %.2f MB\n", n, rss/n/1024, anon/n/1024, pss/n/1024
  printf "ps: slowest mean %.1f ms (target < 50): %s\n", ps, ps < 50 ? "met" : "NOT met"
  printf "monitor VmRSS (target <= 5 MB): %s; PSS: %s\n", rss/n/1024 <= 5 ? "met" : "NOT met", pss/n/1024 <= 5 ? "met" : "NOT met"
}'
