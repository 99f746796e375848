#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for MiniDocker and (unless --no-demo) runs the headline job:
#   installs apt packages, builds and publishes the NativeAOT `minidocker` to /usr/local/bin, creates the
#   `busybox` image from Debian's busybox-static, then a bridge network with a published web server.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=1
[ "${1:-}" = "--no-demo" ] && demo=0
[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (sudo $0)" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross: the linux-arm64 publish (cross gcc, the target's libc) and the
# aarch64 side of scripts/uapi-constants.sh; qemu-user-static runs that arm64 binary once as a check (test.sh).
packages=(busybox-static iptables nftables iproute2 curl zstd xz-utils bzip2 gzip tar gcc libc6-dev zlib1g-dev
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static shellcheck)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ! command -v dotnet >/dev/null 2>&1; then missing+=(dotnet-sdk-10.0); fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  if ! apt-get install -y -qq "${missing[@]}" >/dev/null; then
    echo "setup.sh: apt-get could not install: ${missing[*]}" >&2
    command -v dotnet >/dev/null 2>&1 || echo "setup.sh: the .NET 10 SDK is needed; on Debian add Microsoft's package repository (https://learn.microsoft.com/dotnet/core/install/linux-debian) and re-run" >&2
    exit 1
  fi
fi

echo "== building minidocker (NativeAOT)"
dotnet publish src/Cli -c Release -o out --nologo -v quiet
install -m 0755 out/minidocker /usr/local/bin/minidocker

echo "== building the busybox image from $(command -v busybox)"
bash rootfs/build-busybox.sh out/busybox.tar
minidocker image import -c 'CMD ["sh"]' out/busybox.tar busybox >/dev/null
minidocker images

[ $demo = 1 ] || exit 0
echo "== the headline job"
minidocker network inspect testbr >/dev/null 2>&1 || minidocker network create --subnet 10.20.0.0/24 testbr
minidocker rm -f web >/dev/null 2>&1 || true
minidocker run -d --name web -net testbr -p 8080:80 busybox sh -c 'mkdir -p /www && echo "hello from minidocker" > /www/index.html && exec httpd -f -p 80 -h /www'
for _ in $(seq 1 50); do curl -fsS http://127.0.0.1:8080/ 2>/dev/null && break; sleep 0.1; done
minidocker network list
minidocker ps
