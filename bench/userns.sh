#!/usr/bin/env bash
# Times `minidocker run --rm --net none --userns=auto busybox true` against the same run in the host's user namespace
# (the default), side by side in one hyperfine run, and prints the ratio: the cost of the user namespace (clone3 from
# C, the id maps, one idmapped mount per layer and the overlay made from outside, bind-mounted device nodes).
# Needs: out/minidocker and out/busybox.tar (scripts/setup.sh --no-demo), the minidocker entry in /etc/subuid and
# /etc/subgid (scripts/subids.sh); apt packages hyperfine jq.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine jq; do command -v $tool >/dev/null || { apt-get install -y -qq hyperfine jq >/dev/null; break; }; done
md=$PWD/out/minidocker
work=$(mktemp -d /tmp/mdk-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

"$md" --root "$work/state" image import -c 'CMD ["sh"]' out/busybox.tar busybox >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$work/result.json" \
  -n host-userns "$md --root $work/state run --rm --net none busybox true" \
  -n userns-auto "$md --root $work/state run --rm --net none --userns=auto busybox true"
jq -r '.results as $r | ($r[] | select(.command=="host-userns").mean) as $h | ($r[] | select(.command=="userns-auto").mean) as $u
  | "host userns mean \($h*1000|floor) ms, --userns=auto mean \($u*1000|floor) ms, ratio auto/host = \(($u/$h)*100|round/100)"' "$work/result.json"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
