#!/usr/bin/env bash
# Name resolution latency (issue 13): the round trip of one DNS A query for another container's name, three ways,
# in one run:
#  (a) from inside a container on a user network to its nameserver (the network's gateway, where aardvark-dns
#      listens): the path a program in the container pays for every lookup;
#  (b) from the host straight to aardvark-dns at the same address, for the same name: the same server without the
#      container's network namespace, veth and bridge in between;
#  (c) from the host to a local caching resolver: dnsmasq on a loopback address with the same name as a static
#      entry (--no-resolv --no-hosts --addn-hosts), standing for the host resolver (systemd-resolved or dnsmasq on
#      127.0.0.53 is how most hosts resolve).
# and the ratios (a)/(c) and (a)/(b).
#
# Why not the figures issue 13 names first: Docker's embedded DNS (127.0.0.11) needs dockerd, which is not installed
# and must not be (it rewrites the host's firewall); this host's own resolver is off the machine, and no benchmark
# traffic may leave it. So (c) is a resolver of the kind most hosts run, on loopback, answering from its cache.
#
# The client is bench/dnsq.c, compiled static here (it runs as is in the busybox container, bind-mounted
# read-only): sequential queries, one at a time over one connected UDP socket, each timed with CLOCK_MONOTONIC from
# send to the matching answer; it fails unless every query got its answer (RCODE 0, at least one record). In (a) it
# runs by `exec` in a second container on the network. All queries stay on this machine: aardvark-dns answers the
# name itself (it forwards only names it does not know), dnsmasq has no upstream at all.
# Timing: COUNT queries per path (default 1000), in ROUNDS rounds (20) that alternate the order of the paths
# (a b c, c b a, ...), each round after WARMUP untimed queries (50); mean, p50 and p99 (nearest rank) are of all of
# a path's round trips, and the ratios are also given as the median over rounds of the per-round p50 ratios. Why:
# on this shared 2-core machine, under other jobs' load, back-to-back blocks of 100 queries host -> aardvark-dns
# had a p50 of 54 us or of 190 us, switching every second or so; one block of 1000 per path, run a then b then c,
# gave (a) 55 us in one run and 200 us in the next.
#
# Needs: scripts/setup.sh --no-demo done (out/minidocker, out/busybox.tar), gcc with a static libc (libc6-dev),
# aardvark-dns; installs dnsmasq-base if missing (the binary only; no service is started). Makes a private --root
# under /tmp, a network, two containers and a dnsmasq process, and removes all of them on exit, also on failure,
# Ctrl-C or SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
command -v dnsmasq >/dev/null || apt-get install -y -qq dnsmasq-base >/dev/null
md=$PWD/out/minidocker
if [ ! -x "$md" ] || [ ! -f out/busybox.tar ]; then echo "dns: run scripts/setup.sh --no-demo first" >&2; exit 1; fi
[ -x /usr/lib/podman/aardvark-dns ] || { echo "dns: aardvark-dns is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
count=${COUNT:-1000}
warmup=${WARMUP:-50}
rounds=${ROUNDS:-20}

suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d /tmp/mdk-bench-dns-XXXXXX)
root=$work/state
net=mdkdns-$suffix
name=target-$suffix
subnet=$(free_subnet 238)
dnsmasq_pid=

cleanup() {
  set +e
  [ -n "$dnsmasq_pid" ] && kill "$dnsmasq_pid" 2>/dev/null && wait "$dnsmasq_pid" 2>/dev/null
  if [ -d "$root" ]; then
    mapfile -t ids < <("$md" --root "$root" ps -aq 2>/dev/null)
    [ ${#ids[@]} -gt 0 ] && "$md" --root "$root" rm -f "${ids[@]}" >/dev/null 2>&1
    # Removing the network stops this root's aardvark-dns.
    [ -f "$root/networks/$net.json" ] && "$md" --root "$root" network rm "$net" >/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$work/bin"
gcc -O2 -static -Wall -Wextra -Werror -o "$work/bin/dnsq" bench/dnsq.c

"$md" --root "$root" image import -c 'CMD ["sh"]' out/busybox.tar busybox >/dev/null
"$md" --root "$root" network create --subnet "$subnet.0/24" "$net" >/dev/null
"$md" --root "$root" run -d --name "$name" --net "$net" busybox sleep 3600 >/dev/null
# The client: a second container on the network with the static dnsq bind-mounted read-only; each round is an exec.
"$md" --root "$root" run -d --name "client-$suffix" --net "$net" -v "$work/bin:/bench:ro" busybox sleep 3600 >/dev/null
target_ip=$("$md" --root "$root" inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$name")
gateway=$subnet.1

# A loopback address and UDP port nothing listens on, for dnsmasq; its only name is the container's, at the same
# address aardvark-dns gives.
for _ in $(seq 20); do
  lo_addr=127.0.0.$((RANDOM % 200 + 20)); lo_port=$((RANDOM % 20000 + 20000))
  [ -z "$(ss -Hlun "sport = :$lo_port")" ] && break
done
# dnsmasq reads its hosts file after it has become nobody: the work directory opens to search (not listing) and
# the file's own directory to reading.
chmod 0711 "$work"
mkdir -m 0755 "$work/dnsmasq"
echo "$target_ip $name" > "$work/dnsmasq/hosts"
# --pid-file: without it dnsmasq would write /run/dnsmasq.pid, a system dnsmasq's file.
dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$work/dnsmasq/hosts" --listen-address="$lo_addr" \
  --port="$lo_port" --bind-interfaces --pid-file="$work/dnsmasq.pid" --user=nobody --group=nogroup \
  --log-facility="$work/dnsmasq.log" &
dnsmasq_pid=$!
for _ in $(seq 50); do
  [ -n "$(ss -Hlun "src $lo_addr:$lo_port")" ] && break
  kill -0 "$dnsmasq_pid" 2>/dev/null || { echo "dns: dnsmasq did not start:" >&2; cat "$work/dnsmasq.log" >&2; exit 1; }
  sleep 0.1
done

# stats: "mean p50 p99 count" of the microsecond figures on stdin (p50, p99: nearest rank, as dnsq prints them).
stats() {
  sort -n | awk '{ v[NR] = $1; sum += $1 } END {
    n = NR; p50 = int((n * 50 + 99) / 100); p99 = int((n * 99 + 99) / 100)
    printf "%.1f %.1f %.1f %d\n", sum / n, v[p50], v[p99], n }'
}
show() { # show LABEL "mean p50 p99 count"
  local mean p50 p99 n; read -r mean p50 p99 n <<< "$2"
  printf '%-58s mean %7.1f us  p50 %7.1f  p99 %7.1f  (%d queries)\n' "$1" "$mean" "$p50" "$p99" "$n"
}
# The nameserver the client container was given, read from its own resolv.conf.
# shellcheck disable=SC2016 # the awk program is for the container's awk, $2 is its field
nameserver=$("$md" --root "$root" exec "client-$suffix" awk '/^nameserver/ { print $2; exit }' /etc/resolv.conf)
per_round=$(( (count + rounds - 1) / rounds ))
run_a() { "$md" --root "$root" exec "client-$suffix" /bench/dnsq -r "$nameserver" 53 "$name" "$per_round" "$warmup"; }
run_b() { "$work/bin/dnsq" -r "$gateway" 53 "$name" "$per_round" "$warmup"; }
run_c() { "$work/bin/dnsq" -r "$lo_addr" "$lo_port" "$name" "$per_round" "$warmup"; }
once() { # once a|b|c ROUND: one round of that path, its round trips in $work/KEY.ROUND.us
  "run_$1" > "$work/$1.$2.us" 2> "$work/stderr" || { echo "dns: path ($1) failed:" >&2; cat "$work/stderr" >&2; exit 1; }
}
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores; other jobs skew every figure below)"
echo "name $name -> $target_ip on $net ($subnet.0/24); the container's nameserver $nameserver:53 (aardvark-dns);" \
  "dnsmasq on $lo_addr:$lo_port; $rounds rounds of $per_round queries per path, $warmup warm-up each"
for ((i = 0; i < rounds; i++)); do
  if ((i % 2)); then once c "$i"; once b "$i"; once a "$i"; else once a "$i"; once b "$i"; once c "$i"; fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
a=$(cat "$work"/a.*.us | stats); b=$(cat "$work"/b.*.us | stats); c=$(cat "$work"/c.*.us | stats)
show "(a) container -> its nameserver (aardvark-dns)" "$a"
show "(b) host -> aardvark-dns at $gateway" "$b"
show "(c) host -> local caching resolver (dnsmasq, loopback)" "$c"
awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN {
  split(a, A, " "); split(b, B, " "); split(c, C, " ")
  printf "ratio (a)/(c) container vs host resolver, all queries:   mean %.2f, p50 %.2f, p99 %.2f\n", A[1] / C[1], A[2] / C[2], A[3] / C[3]
  printf "ratio (a)/(b) container vs host to aardvark, all queries: mean %.2f, p50 %.2f, p99 %.2f\n", A[1] / B[1], A[2] / B[2], A[3] / B[3] }'
# The same ratios of p50s round by round (the three blocks of a round are next to each other in time), and their
# median: less at the mercy of which path a busy second of this machine fell on.
for ((i = 0; i < rounds; i++)); do
  read -r _ a50 _ < <(stats < "$work/a.$i.us"); read -r _ b50 _ < <(stats < "$work/b.$i.us")
  read -r _ c50 _ < <(stats < "$work/c.$i.us")
  echo "$a50 $b50 $c50"
done > "$work/rounds"
printf 'median over rounds of p50 ratios: (a)/(c) %s, (a)/(b) %s (per-round p50 of (a) from %s to %s us)\n' \
  "$(awk '{ print $1 / $3 }' "$work/rounds" | median)" "$(awk '{ print $1 / $2 }' "$work/rounds" | median)" \
  "$(cut -d' ' -f1 "$work/rounds" | sort -g | head -1)" "$(cut -d' ' -f1 "$work/rounds" | sort -g | tail -1)"
