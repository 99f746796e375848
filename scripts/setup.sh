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
# scripts/test.sh lints the scripts with shellcheck. On x64, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (the
# cross gcc, the target's libc) build the linux-arm64 binary and give scripts/uapi-constants.sh aarch64's headers,
# and qemu-user-static starts that binary once (test.sh). On arm64 (the lab's VMs) that build is native; x86_64's
# headers for uapi-constants.sh are then wanted but not required (other_arch, below).
# libseccomp2 compiles the default seccomp filter from golang-github-containers-common's /usr/share/containers/seccomp.json.
packages=(busybox-static iptables nftables iproute2 curl zstd xz-utils bzip2 gzip tar gcc libc6-dev zlib1g-dev
  shellcheck libseccomp2 golang-github-containers-common tini
  docker-registry skopeo attr aardvark-dns)
# The labs (docs/labs) and their tests watch with tcpdump and conntrack; network inspect --graph --format svg runs
# graphviz's dot. vagrant (for `vagrant validate` in VagrantfileTests) is optional below: Ubuntu no longer ships it.
packages+=(tcpdump conntrack graphviz)
optional=(vagrant)
other_arch=()
case $(dpkg --print-architecture) in
  amd64) packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static) ;;
  arm64) other_arch=(gcc-x86-64-linux-gnu libc6-dev-amd64-cross) ;;
esac
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
if [ ${#other_arch[@]} -gt 0 ] && ! dpkg -s "${other_arch[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq "${other_arch[@]}" >/dev/null ||
    echo "setup.sh: note: could not install ${other_arch[*]}: scripts/uapi-constants.sh x86_64 will not work here" >&2
fi

if ! dpkg -s "${optional[@]}" >/dev/null 2>&1; then
  { apt-get update -qq && apt-get install -y -qq "${optional[@]}" >/dev/null 2>&1; } ||
    echo "setup.sh: note: could not install ${optional[*]}: the Vagrantfile test will fail here" >&2
fi

# --userns=auto cuts containers' id ranges from the subordinate ids of "minidocker" (src/Runtime/Userns/IdRanges.cs
# says why a user of its own): 512 ranges of 65536, placed after every range already given, so no login user shares one.
bash scripts/subids.sh

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
