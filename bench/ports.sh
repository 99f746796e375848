#!/usr/bin/env bash
# Published ports, three figures in one run:
#  (a) publishing one port, minidocker `run -p` against Debian's CNI portmap plugin chained after bridge.
#      Target: minidocker <= 0.20 x portmap.
#  (b) publishing the 200th container's port (199 running containers with a published port each) against the 1st.
#      Target: <= 1.5 x.
#  (c) TCP throughput through a published port (127.0.0.1:HOSTPORT, DNAT) against straight to the container's IP.
#      Target: >= 0.9 x.
#
# How each is measured, so that both sides do the same work:
# (a) minidocker publishes inside `run`, so its cost is the difference of two timings on the same network:
#     `run --rm -p HOSTPORT:80 busybox true` minus `run --rm busybox true` (rules added at start and removed at exit,
#     plus the hairpin flag on the veth). CNI's is the difference of two cycles driven as a runtime drives a chain:
#     bridge ADD, portmap ADD (prevResult + runtimeConfig.portMappings), portmap DEL, bridge DEL, minus bridge ADD+DEL.
#     host-local is pinned to one address so the portmap configuration (its prevResult) can be written beforehand,
#     outside the timing; a runtime builds it in memory.
# (b) the same minidocker difference, once with no other container and once on top of 199 detached containers with
#     -p on distinct host ports, and the time of the first and last ten of those `run -d` (rules and all). The target
#     is judged on adding alone (`run -d -p` minus `run -d`, each container removed untimed afterwards), because
#     removing a rule with iptables-nft costs in proportion to the chain (about 16-20 ms per `iptables-restore -D`
#     at 600 rules, by spec or by number); the add+remove figure is printed too.
# (c) the container runs busybox `nc -ll -p 5001 -e dd of=/dev/null bs=1M` (a persistent server whose handler reads
#     the socket in big blocks, so the receiver is not the bottleneck) with -p 127.0.0.1:HOSTPORT:5001; the host
#     writes MB MiB of zeros with dd into a bash /dev/tcp socket, to the container's IP:5001 and to
#     127.0.0.1:HOSTPORT, alternately, ROUNDS times each; the ratio is of the median MiB/s per path. Single
#     transfers vary by up to 2x on this 2-core machine (where the scheduler puts sender, softirq and receiver), for
#     both paths alike, hence the many rounds. Traffic goes only to 127.0.0.1 and to the container made here.
# Timing: the two runs of each difference alternate (A B, B A, A B...), and the figure is the median of the
# per-pair differences; every figure comes with the distribution-free 95% confidence interval of its median.
# hyperfine runs all of A before all of B; on this shared 2-core machine the load changes within seconds, and the
# difference of its two medians drifted by more than the effect (it gave -2 ms for publishing one port). Each timed
# run starts after a pause (SETTLE), so that it does not pay for the previous run's namespace teardown.
#
# Needs: scripts/setup.sh --no-demo done (out/minidocker, out/busybox.tar), bash 5; apt packages jq
# containernetworking-plugins. Makes a private --root, a network, 200 containers, a netns and the CNI bridge mdkcni0;
# removes all of them on exit, also on failure, Ctrl-C or SIGTERM, and the CNI plugins' iptables rules (CNI DEL, then the
# CNI-HOSTPORT-* chains that portmap leaves behind, if this script made them and nobody else has a mapping in them).
# RUNS=N timed runs per command (default 40), SETTLE=S the pause before each (0.2 s), COUNT=N containers for (b)
# (default 200), MB=N MiB per transfer in (c) (default 1000), ROUNDS=N transfers per path in (c) (default 9).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
command -v jq >/dev/null || apt-get install -y -qq jq >/dev/null
[ -x /usr/lib/cni/portmap ] || apt-get install -y -qq containernetworking-plugins >/dev/null
md=$PWD/out/minidocker
if [ ! -x "$md" ] || [ ! -f out/busybox.tar ]; then echo "ports: run scripts/setup.sh --no-demo first" >&2; exit 1; fi
runs=${RUNS:-40}
settle=${SETTLE:-0.2}
count=${COUNT:-200}
mb=${MB:-1000}
rounds=${ROUNDS:-9}
cni_bridge=mdkcni0
if ip link show "$cni_bridge" >/dev/null 2>&1; then echo "ports: $cni_bridge already exists; remove it first" >&2; exit 1; fi

# A 10.A.B.0/24 that no host route covers or splits (the host's own 192.0.2.0/24, other test networks).

# count+2 consecutive host ports below the ephemeral range that nothing listens on.
free_port_base() {
  local base listening
  listening=$(ss -Htln | awk '{ n = split($4, a, ":"); print a[n] }')
  for _ in $(seq 20); do
    base=$((20000 + RANDOM % 40 * 250))
    if ! echo "$listening" | awk -v lo="$base" -v hi=$((base + count + 1)) '$1 >= lo && $1 <= hi { found = 1 } END { exit !found }'; then
      echo "$base"; return 0
    fi
  done
  echo "ports: no free range of $((count + 2)) host ports" >&2; return 1
}

suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d /tmp/mdk-bench-ports-XXXXXX)
root=$work/state
net=mdkports-$suffix
netns=mdkports-$suffix
cni_id=mdkports-$suffix
md_net=$(free_subnet 234)
cni_net=$(free_subnet 235)
port=$(free_port_base)        # (a), (b): the measured publish
cni_port=$((port + count))     # (a): CNI's mapping (no listener needed: only rules are made)
tcp_port=$((port + count + 1)) # (c)
# Containers 1..count-1 of (b) publish port+1 .. port+count-1.
hostport_chains_before=$(iptables -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1 && echo yes || echo no)

cni() { # cni ADD|DEL PLUGIN CONF
  CNI_COMMAND=$1 CNI_PATH=/usr/lib/cni CNI_NETNS=/run/netns/$netns CNI_IFNAME=eth0 CNI_CONTAINERID=$cni_id \
    "/usr/lib/cni/$2" < "$3"
}

# portmap's DEL removes the container's chain but leaves its skeleton (three CNI-HOSTPORT-* chains and the jumps
# to them from PREROUTING, OUTPUT and POSTROUTING). Removed rule by rule, as iptables-save prints them, and only
# when this script made them and no other container's mapping is in CNI-HOSTPORT-DNAT.
remove_portmap_skeleton() {
  [ "$hostport_chains_before" = no ] || return 0
  iptables-save -t nat > "$work/nat.save" || return 0
  grep -q '^:CNI-HOSTPORT-DNAT ' "$work/nat.save" || return 0
  grep -q '^-A CNI-HOSTPORT-DNAT ' "$work/nat.save" && return 0
  {
    echo '*nat'
    grep -E '^-A [^ ]+ .*-j CNI-HOSTPORT-(DNAT|MASQ|SETMARK)$|^-A CNI-HOSTPORT-(MASQ|SETMARK) ' "$work/nat.save" | sed 's/^-A /-D /'
    for chain in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
      grep -q "^:$chain " "$work/nat.save" && echo "-X $chain"
    done
    echo COMMIT
  } | iptables-restore --noflush
}

cleanup() {
  set +e
  if [ -d "$root" ]; then
    mapfile -t ids < <("$md" --root "$root" ps -aq 2>/dev/null)
    [ ${#ids[@]} -gt 0 ] && "$md" --root "$root" rm -f "${ids[@]}" >/dev/null 2>&1
    [ -f "$root/networks/$net.json" ] && "$md" --root "$root" network rm "$net" >/dev/null
  fi
  # DEL is idempotent: portmap's removes the mapping, bridge's the veth, the lease and the ipMasq chain.
  [ -f "$work/portmap.conf" ] && cni DEL portmap "$work/portmap.conf" >/dev/null 2>&1
  [ -f "$work/bridge.conf" ] && cni DEL bridge "$work/bridge.conf" >/dev/null 2>&1
  remove_portmap_skeleton
  ip link del "$cni_bridge" 2>/dev/null
  ip netns del "$netns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


"$md" --root "$root" image import -c 'CMD ["sh"]' out/busybox.tar busybox >/dev/null
"$md" --root "$root" network create --subnet "$md_net.0/24" "$net" >/dev/null

# CNI: bridge (pinned to one address) and portmap configurations; the portmap one carries the bridge's result.
ip netns add "$netns"
cat > "$work/bridge.conf" <<EOF
{
  "cniVersion": "0.4.0", "name": "$net", "type": "bridge", "bridge": "$cni_bridge",
  "isGateway": true, "ipMasq": true,
  "ipam": { "type": "host-local", "dataDir": "$work/cni-ipam",
            "ranges": [[{ "subnet": "$cni_net.0/24", "rangeStart": "$cni_net.2", "rangeEnd": "$cni_net.2" }]] }
}
EOF
cni ADD bridge "$work/bridge.conf" > "$work/bridge-result.json"
cni DEL bridge "$work/bridge.conf"
jq -n --arg name "$net" --argjson port "$cni_port" --slurpfile prev "$work/bridge-result.json" '{
  cniVersion: "0.4.0", name: $name, type: "portmap", capabilities: { portMappings: true }, snat: true,
  prevResult: $prev[0],
  runtimeConfig: { portMappings: [{ hostPort: $port, containerPort: 80, protocol: "tcp" }] } }' > "$work/portmap.conf"
cmd_cni_portmap() {
  cni ADD bridge "$work/bridge.conf" && cni ADD portmap "$work/portmap.conf" &&
    cni DEL portmap "$work/portmap.conf" && cni DEL bridge "$work/bridge.conf"
}
cmd_cni_bridge() { cni ADD bridge "$work/bridge.conf" && cni DEL bridge "$work/bridge.conf"; }
cmd_md_p() { "$md" --root "$root" run --rm --net "$net" -p "$port:80" busybox true; }
cmd_md() { "$md" --root "$root" run --rm --net "$net" busybox true; }
# Adding alone (what (b)'s target names): a detached container that keeps its rules; removed untimed by `after`.
cmd_md_dp() { "$md" --root "$root" run -d --name mdk-add --net "$net" -p "$port:80" busybox sleep 3600; }
cmd_md_d() { "$md" --root "$root" run -d --name mdk-add --net "$net" busybox sleep 3600; }
after_md_dp() { "$md" --root "$root" rm -f mdk-add; }
after_md_d() { "$md" --root "$root" rm -f mdk-add; }

# once NAME [FILE]: runs cmd_NAME; appends its wall time in microseconds to FILE. The pause before it lets the
# kernel finish tearing down the previous run's namespace (it does that in the background after the last process
# exits, waiting for RCU grace periods), so that a run does not pay for its predecessor.
once() {
  sleep "$settle"
  local t0=$EPOCHREALTIME t1
  "cmd_$1" > /dev/null 2> "$work/stderr" || { echo "ports: $1 failed:" >&2; cat "$work/stderr" >&2; exit 1; }
  t1=$EPOCHREALTIME
  [ -z "${2:-}" ] || echo $((${t1/./} - ${t0/./})) >> "$2"
  if declare -F "after_$1" >/dev/null; then "after_$1" > /dev/null 2>&1; fi
}
# paired A B TAG: three warm-up runs each, then $runs runs each, alternating which goes first, into A.TAG, B.TAG.
paired() {
  local i
  for i in 1 2 3; do once "$1"; once "$2"; done
  : > "$work/$1.$3"; : > "$work/$2.$3"
  for ((i = 0; i < runs; i++)); do
    if ((i % 2)); then once "$2" "$work/$2.$3"; once "$1" "$work/$1.$3"
    else once "$1" "$work/$1.$3"; once "$2" "$work/$2.$3"; fi
  done
}
of() { median_ci < "$work/$1"; }
differences() { paste -d' ' "$work/$1" "$work/$2" | awk '{ print $1 - $2 }' | median_ci; }
show() { # show LABEL "median low high"
  local m lo hi; read -r m lo hi <<< "$2"
  printf '  %-56s %7.1f ms  (95%% CI %.1f .. %.1f)\n' "$1" "$m" "$lo" "$hi"
}
ratio() { awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { printf "%.2f", a / b }'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores; other jobs skew every figure below)"
echo "NET = $net on $md_net.0/24; CNI on $cni_bridge, $cni_net.0/24; $runs timed runs per command"

echo "== (a) publishing one port: minidocker run -p against CNI bridge+portmap"
paired md_p md first
paired cni_portmap cni_bridge a
md_first=$(differences md_p.first md.first)
cni_pub=$(differences cni_portmap.a cni_bridge.a)
show "minidocker run --rm --net NET -p $port:80 busybox true" "$(of md_p.first)"
show "minidocker run --rm --net NET busybox true" "$(of md.first)"
show "  => minidocker publish, add+remove (paired difference)" "$md_first"
show "CNI bridge ADD, portmap ADD, portmap DEL, bridge DEL" "$(of cni_portmap.a)"
show "CNI bridge ADD, bridge DEL" "$(of cni_bridge.a)"
show "  => CNI portmap ADD+DEL (paired difference)" "$cni_pub"
r=$(ratio "$md_first" "$cni_pub")
echo "(a) ratio minidocker/portmap publish = $r (target <= 0.20: $(awk -v r="$r" 'BEGIN { print (r <= 0.20 ? "met" : "not met") }'))"

paired md_dp md_d first
md_add_first=$(differences md_dp.first md_d.first)

echo "== (b) publishing the ${count}th container's port against the 1st"
: > "$work/starts"
for i in $(seq 1 $((count - 1))); do
  t0=$EPOCHREALTIME
  "$md" --root "$root" run -d --net "$net" -p "$((port + i)):80" busybox sleep 3600 >/dev/null
  t1=$EPOCHREALTIME
  echo $((${t1/./} - ${t0/./})) >> "$work/starts"
done
show "run -d -p of containers 1..10" "$(head -n 10 "$work/starts" | median_ci)"
show "run -d -p of containers $((count - 10))..$((count - 1))" "$(tail -n 10 "$work/starts" | median_ci)"
paired md_p md last
md_last=$(differences md_p.last md.last)
show "with $((count - 1)) running: run --rm --net NET -p $port:80 ... true" "$(of md_p.last)"
show "with $((count - 1)) running: run --rm --net NET busybox true" "$(of md.last)"
show "  => publish of the ${count}th (paired difference)" "$md_last"
show "  => publish of the 1st, from (a)" "$md_first"
echo "(b) add+remove ratio ${count}th/1st = $(ratio "$md_last" "$md_first"); whole run -p ${count}th/1st = $(ratio "$(of md_p.last)" "$(of md_p.first)")"
paired md_dp md_d last
md_add_last=$(differences md_dp.last md_d.last)
show "  => adding the ${count}th's rules: run -d -p minus run -d" "$md_add_last"
show "  => adding the 1st's rules: run -d -p minus run -d" "$md_add_first"
r=$(ratio "$md_add_last" "$md_add_first")
echo "(b) ratio adding the ${count}th container's rules / the 1st's = $r (target <= 1.5: $(awk -v r="$r" 'BEGIN { print (r <= 1.5 ? "met" : "not met") }'))"
t0=$EPOCHREALTIME
mapfile -t ids < <("$md" --root "$root" ps -aq)
"$md" --root "$root" rm -f "${ids[@]}" >/dev/null
t1=$EPOCHREALTIME
echo "  rm -f of $((count - 1)) containers in one call: $(( (${t1/./} - ${t0/./}) / 1000 )) ms"

echo "== (c) TCP throughput: published port against the container's IP ($mb MiB per transfer)"
server=$("$md" --root "$root" run -d --net "$net" -p "127.0.0.1:$tcp_port:5001" busybox nc -ll -p 5001 -e dd of=/dev/null bs=1M)
ip=$("$md" --root "$root" network inspect "$net" | jq -r --arg id "$server" '.[0].Containers[$id].IPv4Address | split("/")[0]')
for _ in $(seq 50); do (exec 3>"/dev/tcp/$ip/5001") 2>/dev/null && break; sleep 0.1; done
send() { # prints MiB/s for one transfer to HOST PORT
  local t0=$EPOCHREALTIME t1
  dd if=/dev/zero bs=1M count="$mb" status=none > "/dev/tcp/$1/$2"
  t1=$EPOCHREALTIME
  awk -v mb="$mb" -v us=$((${t1/./} - ${t0/./})) 'BEGIN { printf "%.0f\n", mb / (us / 1e6) }'
}
: > "$work/direct"; : > "$work/published"
for ((i = 0; i < rounds; i++)); do
  if ((i % 2)); then
    send 127.0.0.1 "$tcp_port" >> "$work/published"; send "$ip" 5001 >> "$work/direct"
  else
    send "$ip" 5001 >> "$work/direct"; send 127.0.0.1 "$tcp_port" >> "$work/published"
  fi
done
# Every transfer must have reached the container's server (each handler's dd logs "records in" at EOF).
for _ in $(seq 20); do
  served=$("$md" --root "$root" logs "$server" 2>&1 | grep -c 'records in' || true)
  [ "$served" -ge $((2 * rounds)) ] && break
  sleep 0.1
done
[ "$served" -ge $((2 * rounds)) ] || { echo "ports: the container's server saw $served transfers, not $((2 * rounds))" >&2; exit 1; }
spread() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "min %d, median %d, max %d MiB/s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '  %-40s %s\n' "straight to $ip:5001" "$(spread "$work/direct")"
printf '  %-40s %s\n' "published 127.0.0.1:$tcp_port -> :5001" "$(spread "$work/published")"
awk -v p="$(median "$work/published")" -v d="$(median "$work/direct")" 'BEGIN {
  printf "(c) ratio published/direct throughput (medians) = %.2f (target >= 0.9: %s)\n", p / d, (p >= 0.9 * d ? "met" : "not met") }'
