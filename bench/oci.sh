# OCI image layouts built by hand and a docker-registry on loopback, for pull.sh and layers.sh (sourced, not run).
# shellcheck shell=bash

# oci_init DIR: an empty OCI image layout.
oci_init() {
  mkdir -p "$1/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$1/oci-layout"
  printf '{"schemaVersion":2,"manifests":[]}' > "$1/index.json"
}

# oci_blob DIR FILE: moves FILE into the layout's blobs; prints "sha256:HEX SIZE".
oci_blob() {
  local hex size
  hex=$(sha256sum "$2" | cut -d' ' -f1)
  size=$(stat -c %s "$2")
  mv "$2" "$1/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# oci_image DIR TAG TAR...: an image of the given uncompressed layer tars (in order; gzip -1 each), tagged TAG in
# index.json. Its config names the diff ids, Cmd ["sh"], this machine's architecture.
oci_image() {
  local dir=$1 tag=$2 tar diffid blob layers="" diffids="" arch config manifest
  shift 2
  for tar in "$@"; do
    diffid=sha256:$(sha256sum "$tar" | cut -d' ' -f1)
    gzip -1 -n -c "$tar" > "$dir/layer.tmp"
    read -r blob size < <(oci_blob "$dir" "$dir/layer.tmp")
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$blob\",\"size\":$size}"
    diffids+="${diffids:+,}\"$diffid\""
  done
  case $(uname -m) in aarch64) arch=arm64 ;; *) arch=amd64 ;; esac
  printf '{"architecture":"%s","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$arch" "$diffids" > "$dir/config.tmp"
  read -r config csize < <(oci_blob "$dir" "$dir/config.tmp")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
    "$config" "$csize" "$layers" > "$dir/manifest.tmp"
  read -r manifest msize < <(oci_blob "$dir" "$dir/manifest.tmp")
  jq -c --arg d "$manifest" --argjson s "$msize" --arg t "$tag" \
    '.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
      annotations: {"org.opencontainers.image.ref.name": $t}}]' "$dir/index.json" > "$dir/index.tmp"
  mv "$dir/index.tmp" "$dir/index.json"
}

# registry_start DIR: Debian's docker-registry on 127.0.0.1:(a free port), storage under DIR; writes host:port to
# DIR/host. Not to be called in a subshell (registry_stop waits for it as a child). Stopped by registry_stop DIR.
registry_start() {
  local dir=$1 port
  mkdir -p "$dir/storage"
  for _ in $(seq 20); do
    port=$((RANDOM % 20000 + 30000))
    ss -Htln "sport = :$port" | grep -q . || break
  done
  cat > "$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: 127.0.0.1:$port
EOF
  docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
  echo $! > "$dir/registry.pid"
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && { echo "127.0.0.1:$port" > "$dir/host"; return 0; }
    sleep 0.1
  done
  echo "docker-registry did not start: $(cat "$dir/registry.log")" >&2
  return 1
}

registry_stop() {
  local pid
  [ -f "$1/registry.pid" ] || return 0
  pid=$(cat "$1/registry.pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$1/registry.pid"
}

# now_us: a monotonic-enough clock in microseconds (EPOCHREALTIME, bash 5).
now_us() { echo "${EPOCHREALTIME/./}"; }
