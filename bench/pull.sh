#!/usr/bin/env bash
# Pulling a multi-layer image from a local registry, cold store each time: `minidocker pull` against
# `skopeo copy docker://... dir:` (download and verify only, no extraction) and against `podman pull` (download,
# verify, extract into its overlay store). Target: minidocker <= 0.5 x podman.
#
# The image: LAYERS layers (default 6) of MB MiB (default 4) of random data each (incompressible, so the time is
# in moving, hashing and writing bytes, not in inflating), gzip -1 as registries mostly hold layers, built here as an
# OCI layout and copied with skopeo into Debian's docker-registry on 127.0.0.1 (plain HTTP; nothing leaves the host).
# Each timed run starts from an empty store: minidocker a fresh --root, skopeo a fresh directory, podman a fresh
# --root/--runroot (its overlay driver, --tls-verify=false). The three alternate (A B C, B C A, ...) so that a change
# in the machine's load hits all alike; each figure is the median with the distribution-free 95% interval.
#
# Needs: scripts/setup.sh --no-demo done (out/minidocker); apt packages docker-registry skopeo podman jq (installed
# here when missing). Removes everything it made on exit, also on failure or Ctrl-C. RUNS=N timed runs each (9).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
# shellcheck source=bench/oci.sh
source bench/oci.sh
for tool in docker-registry skopeo podman jq; do
  command -v $tool >/dev/null || { apt-get install -y -qq docker-registry skopeo podman jq >/dev/null; break; }
done
md=$PWD/out/minidocker
[ -x "$md" ] || { echo "pull: run scripts/setup.sh --no-demo first" >&2; exit 1; }
runs=${RUNS:-9}
layers=${LAYERS:-6}
mb=${MB:-4}
work=$(mktemp -d /tmp/mdk-bench-pull-XXXXXX)
cleanup() {
  registry_stop "$work/registry"
  # podman's store may hold overlay mounts of its own; unmount anything under the work directory before removing it.
  grep -o " $work/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

registry_start "$work/registry"
host=$(cat "$work/registry/host")
oci_init "$work/oci"
tars=()
for i in $(seq "$layers"); do
  mkdir -p "$work/l$i/data"
  head -c "$((mb << 20))" /dev/urandom > "$work/l$i/data/random-$i"
  tar -C "$work/l$i" -cf "$work/l$i.tar" data
  tars+=("$work/l$i.tar")
done
oci_image "$work/oci" bench "${tars[@]}"
skopeo copy -q --dest-tls-verify=false "oci:$work/oci:bench" "docker://$host/bench:1"
ref=$host/bench:1

run_minidocker() { rm -rf "$work/md"; "$md" --root "$work/md" pull -q "$ref" >/dev/null; }
run_skopeo() { rm -rf "$work/dir"; skopeo copy -q --src-tls-verify=false "docker://$ref" "dir:$work/dir"; }
run_podman() {
  rm -rf "$work/podman"
  podman --root "$work/podman/root" --runroot "$work/podman/run" --storage-driver overlay \
    pull -q --tls-verify=false "$ref" >/dev/null
}

names=(minidocker skopeo podman)
for name in "${names[@]}"; do "run_$name"; done # warm-up: page cache, first-run setup of each tool
for round in $(seq "$runs"); do
  for k in 0 1 2; do
    name=${names[$(((round + k) % 3))]}
    start=$(now_us)
    "run_$name"
    echo $(($(now_us) - start)) >> "$work/$name.us"
  done
done
run_minidocker
stored=$(du -sm "$work/md/images" | cut -f1)

read -r md_med md_lo md_hi <<< "$(median_ci < "$work/minidocker.us")"
read -r sk_med sk_lo sk_hi <<< "$(median_ci < "$work/skopeo.us")"
read -r pm_med pm_lo pm_hi <<< "$(median_ci < "$work/podman.us")"
echo "image: $layers layers x $mb MiB random (gzip -1), $runs runs each, cold store; minidocker's store after: $stored MB"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s median %8.1f ms  (95%% CI %.1f-%.1f)\n' minidocker "$md_med" "$md_lo" "$md_hi" \
  skopeo "$sk_med" "$sk_lo" "$sk_hi" podman "$pm_med" "$pm_lo" "$pm_hi"
awk -v m="$md_med" -v s="$sk_med" -v p="$pm_med" 'BEGIN {
  printf "ratio minidocker/podman = %.2f (target <= 0.5), minidocker/skopeo = %.2f\n", m / p, m / s }'
