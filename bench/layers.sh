#!/usr/bin/env bash
# `run --rm --net none IMAGE true` on a 20-layer image against a 1-layer image with the same content.
# Target: <= 1.2 x.
#
# The 20-layer image is busybox plus 19 layers of one small file each; the 1-layer image holds the same files in one
# layer. Both are built here as an OCI layout, copied with skopeo into Debian's docker-registry on 127.0.0.1 and
# pulled (so the layers are stored the way a pull stores them). A container's root is an overlay whose lower
# directories are the image's layers, named through the store's short links (images/l/...), so the cost of more layers
# is the overlay mount's (the kernel opens each lower) and the lookups that fall through them. The two runs alternate
# (A B, B A, ...); each figure is the median with the distribution-free 95% interval.
#
# Needs: scripts/setup.sh --no-demo done (out/minidocker, out/busybox.tar); apt packages docker-registry skopeo jq.
# Removes everything it made on exit, also on failure or Ctrl-C. RUNS=N timed runs each (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
# shellcheck source=bench/oci.sh
source bench/oci.sh
for tool in docker-registry skopeo jq; do
  command -v $tool >/dev/null || { apt-get install -y -qq docker-registry skopeo jq >/dev/null; break; }
done
md=$PWD/out/minidocker
if [ ! -x "$md" ] || [ ! -f out/busybox.tar ]; then echo "layers: run scripts/setup.sh --no-demo first" >&2; exit 1; fi
runs=${RUNS:-30}
work=$(mktemp -d /tmp/mdk-bench-layers-XXXXXX)
cleanup() {
  registry_stop "$work/registry"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

registry_start "$work/registry"
host=$(cat "$work/registry/host")
oci_init "$work/oci"
cp out/busybox.tar "$work/base.tar"
mkdir -p "$work/flat"
tar -C "$work/flat" -xf out/busybox.tar
mkdir -p "$work/flat/opt"
tars=("$work/base.tar")
for i in $(seq 19); do
  mkdir -p "$work/l$i/opt"
  head -c 4096 /dev/urandom > "$work/l$i/opt/file-$i"
  tar -C "$work/l$i" -cf "$work/l$i.tar" opt
  cp "$work/l$i/opt/file-$i" "$work/flat/opt/"
  tars+=("$work/l$i.tar")
done
tar -C "$work/flat" -cf "$work/flat.tar" .
oci_image "$work/oci" layers20 "${tars[@]}"
oci_image "$work/oci" layers1 "$work/flat.tar"
for tag in layers20 layers1; do
  skopeo copy -q --dest-tls-verify=false "oci:$work/oci:$tag" "docker://$host/bench:$tag"
  "$md" --root "$work/md" pull -q "$host/bench:$tag" >/dev/null
done
# Same content: the same file list in both.
diff <("$md" --root "$work/md" run --rm --net none "$host/bench:layers20" find / -xdev | sort) \
     <("$md" --root "$work/md" run --rm --net none "$host/bench:layers1" find / -xdev | sort) >/dev/null \
  || { echo "layers: the two images differ" >&2; exit 1; }

names=(layers20 layers1)
for name in "${names[@]}"; do "$md" --root "$work/md" run --rm --net none "$host/bench:$name" true; done # warm-up
for round in $(seq "$runs"); do
  for k in 0 1; do
    name=${names[$(((round + k) % 2))]}
    start=$(now_us)
    "$md" --root "$work/md" run --rm --net none "$host/bench:$name" true
    echo $(($(now_us) - start)) >> "$work/$name.us"
  done
done

read -r many_med many_lo many_hi <<< "$(median_ci < "$work/layers20.us")"
read -r one_med one_lo one_hi <<< "$(median_ci < "$work/layers1.us")"
echo "run --rm --net none IMAGE true, $runs runs each; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s median %6.1f ms  (95%% CI %.1f-%.1f)\n' "20 layers" "$many_med" "$many_lo" "$many_hi" \
  "1 layer" "$one_med" "$one_lo" "$one_hi"
awk -v a="$many_med" -v b="$one_med" 'BEGIN { printf "ratio 20 layers/1 layer = %.2f (target <= 1.2)\n", a / b }'
