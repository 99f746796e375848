#!/usr/bin/env bash
# Gives the user "minidocker" subordinate uids and gids for `run --userns=auto` if it has none: COUNT ids starting at
# the first multiple of 65536 above every range /etc/subuid and /etc/subgid already hold (at least 100000, where
# useradd starts), so that no login user's range overlaps a container's. Idempotent.
set -euo pipefail
count=${1:-$((65536 * 512))}
touch /etc/subuid /etc/subgid
end=$(awk -F: 'NF == 3 && $1 != "minidocker" { e = $2 + $3; if (e > max) max = e } END { print max + 0 }' /etc/subuid /etc/subgid)
start=$(( end <= 100000 ? 100000 : (end + 65535) / 65536 * 65536 ))
for file in /etc/subuid /etc/subgid; do
  grep -q '^minidocker:' "$file" && continue
  echo "minidocker:$start:$count" >> "$file"
  echo "subids.sh: $file: minidocker:$start:$count"
done
