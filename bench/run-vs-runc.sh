#!/usr/bin/env bash
# Times `minidocker run --rm --net none busybox true` (runc's default spec also gives an empty netns) against `runc run` of the same root filesystem (Debian's runc), in one
# hyperfine run, and prints the ratio. Target: within 0.8 of runc's time (issues 10 and 12).
# Needs: scripts/setup.sh --no-demo done (out/minidocker, out/busybox.tar); apt packages runc hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in runc hyperfine jq; do command -v $tool >/dev/null || { apt-get install -y -qq runc hyperfine jq >/dev/null; break; }; done
md=$PWD/out/minidocker
work=$(mktemp -d /tmp/mdk-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

"$md" --root "$work/state" image import -c 'CMD ["sh"]' out/busybox.tar busybox >/dev/null
mkdir -p "$work/bundle/rootfs"
tar -xf out/busybox.tar -C "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec && jq '.process.args=["true"] | .process.terminal=false' config.json > c && mv c config.json)

hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$work/result.json" \
  -n minidocker "$md --root $work/state run --rm --net none busybox true" \
  -n runc "runc --root $work/runc run --bundle $work/bundle mdk-bench-runc"
jq -r '.results as $r | ($r[] | select(.command=="minidocker").mean) as $m | ($r[] | select(.command=="runc").mean) as $c
  | "minidocker mean \($m*1000|floor) ms, runc mean \($c*1000|floor) ms, ratio minidocker/runc = \(($m/$c)*100|round/100)"' "$work/result.json"
