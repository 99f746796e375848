#!/usr/bin/env bash
# Usage: scripts/uapi-constants.sh ARCH NAME...   (ARCH: x86_64 or aarch64; x64/amd64 and arm64 also accepted)
# Prints "NAME VALUE" (decimal) for each kernel/libc constant as that architecture's C headers define it, e.g.
# O_DIRECTORY is 65536 on x86_64 and 16384 on aarch64, SYS_pivot_root 155 and 41. The project's per-architecture
# constant tables are checked against this. The values are read from the compiler's assembly output (-S), so a
# cross compiler is enough: nothing built for the other architecture has to run. Needs gcc for the host's
# architecture and Debian's ARCH-linux-gnu-gcc for the other (gcc-aarch64-linux-gnu; scripts/setup.sh installs it).
# Exit status 2 on bad usage, 1 if a name is not defined by those headers (the compiler's message says which).
set -euo pipefail

usage() { echo "usage: $0 x86_64|aarch64 NAME..." >&2; exit 2; }
[ $# -ge 2 ] || usage
case $1 in
  x86_64 | x64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) usage ;;
esac
shift
for name in "$@"; do
  # Only identifiers: each name is pasted into C source.
  [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "$0: not a C identifier: $name" >&2; exit 2; }
done

if [ "$(uname -m)" = "$arch" ]; then cc=gcc; else cc=$arch-linux-gnu-gcc; fi
command -v "$cc" >/dev/null || { echo "$0: $cc not found (apt-get install gcc-${arch//_/-}-linux-gnu)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo '#define _GNU_SOURCE'
  for header in fcntl.h sys/mount.h sched.h sys/syscall.h sys/file.h sys/wait.h sys/prctl.h sys/ioctl.h signal.h \
    errno.h sys/stat.h linux/close_range.h poll.h termios.h spawn.h dirent.h sys/socket.h linux/netlink.h \
    linux/seccomp.h linux/keyctl.h linux/bpf.h sys/resource.h linux/openat2.h; do
    echo "#include <$header>"
  done
  # One 64-bit object per name, in order: uapi_constant_I's initializer is the value, as the compiler computed it.
  i=0
  for name in "$@"; do
    echo "const long long uapi_constant_$i = (long long)($name);"
    i=$((i + 1))
  done
} >"$work/constants.c"

if ! (cd "$work" && "$cc" -S -O0 -o constants.s constants.c 2>errors); then
  grep -E 'error' "$work/errors" >&2 || cat "$work/errors" >&2
  exit 1
fi

# The label "uapi_constant_I:" is followed by its value: ".quad N" on x86_64, ".xword N" on aarch64 (".zero 8" for
# 0 on either). Printed in the order the names were given.
awk -v names="$*" '
  BEGIN { count = split(names, name, " ") }
  /^uapi_constant_[0-9]+:/ { sub(/^uapi_constant_/, ""); sub(/:.*/, ""); index_ = $0 + 1; next }
  index_ && $1 ~ /^\.(quad|xword|8byte|dword)$/ { value[index_] = $2; index_ = 0; next }
  index_ && $1 == ".zero" && $2 == 8 { value[index_] = 0; index_ = 0; next }
  END {
    for (i = 1; i <= count; i++) {
      if (!(i in value)) { print "uapi-constants: no value found for " name[i] > "/dev/stderr"; failed = 1; continue }
      print name[i], value[i]
    }
    exit failed
  }' "$work/constants.s"
