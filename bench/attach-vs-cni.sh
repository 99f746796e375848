#!/usr/bin/env bash
# Attaching one container to a bridge network (IPAM, veth pair, eth0 with its address, default route, outbound NAT)
# and detaching it again: minidocker against the reference CNI plugins (Debian's containernetworking-plugins:
# bridge with isGateway+ipMasq and host-local IPAM), in one run, as a ratio. Target: minidocker <= 0.10 x CNI.
#
# What is compared, and why it is the same work on both sides:
# - minidocker attaches inside `run`; there is no verb that attaches alone. So its attach+detach is the difference
#   of two timings: `run --rm --net NET busybox true` minus `run --rm --net none busybox true`. Both runs
#   make and destroy the same namespaces and both bring lo up; only the network work differs (IPAM, endpoint
#   record, veth, move, eth0 address/MAC/up, route, /etc/hosts line, release). NAT is per network in minidocker
#   (one MASQUERADE rule made by `network create`), so an attach adds no rule; that is its design, not a shortcut.
# - CNI is timed the way a runtime drives it: `bridge` ADD then DEL (each exec'ing host-local), started from this
#   shell, against a network namespace made beforehand. ipMasq makes the plugin add a chain and two rules per
#   container on ADD and remove them on DEL.
# - The ratio is of attach+detach, because minidocker's `run --rm` cannot be timed without its detach. What that
#   detach does synchronously is bookkeeping (lease, endpoint record): the veth pair goes with the container's
#   namespace, which the kernel destroys in the background after the last process exits. CNI's DEL deletes the
#   veth itself (a runtime calls DEL before it drops the namespace) and removes the ipMasq chain. So ADD alone is
#   printed too, with minidocker's figure against it: the comparison least favourable to minidocker.
# - The kernel floor does only the netlink part, the cheapest way, with ip(8) (two processes to add, one to
#   delete): the veth pair created with its peer already in the namespace (as CNI's bridge plugin does), bridge
#   port, up, address, route; then delete. Creating the peer in the host namespace and moving it costs far more on
#   this kernel (moving a device waits for RCU grace periods; 18-50 ms against 2 ms in a trial).
# Timing: the two runs of minidocker's difference alternate (A B, B A, A B...), and the figure is the median of the
# per-pair differences; every figure comes with the distribution-free 95% confidence interval of its median.
# hyperfine runs all of A before all of B; on this shared 2-core machine the load changes within seconds, and the
# difference of its two medians drifted by more than the effect being measured. Each timed run starts after a
# pause (SETTLE), so that it does not pay for the previous run's namespace teardown.
#
# Needs: scripts/setup.sh --no-demo done (out/minidocker, out/busybox.tar), bash 5, apt package
# containernetworking-plugins. Makes a private --root, a network, a netns, the CNI bridge mdkcni0 and a floor
# bridge, and removes all of them (and the CNI rules, via CNI DEL) on exit, also on failure, Ctrl-C or SIGTERM.
# RUNS=N changes the number of timed runs per command (default 40), SETTLE=S the pause before each (0.2 s).
# IPV6=1 makes all three dual stack: minidocker `network create --ipv6` with a ULA /64, CNI host-local with an IPv4
# and an IPv6 range (the bridge plugin then adds the IPv6 gateway, address, route and ip6tables masquerade), and the
# floor adds a nodad IPv6 address and default route.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
[ -x /usr/lib/cni/bridge ] || apt-get install -y -qq containernetworking-plugins >/dev/null
md=$PWD/out/minidocker
if [ ! -x "$md" ] || [ ! -f out/busybox.tar ]; then echo "attach-vs-cni: run scripts/setup.sh --no-demo first" >&2; exit 1; fi
runs=${RUNS:-40}
settle=${SETTLE:-0.2}
cni_bridge=mdkcni0
# The CNI bridge is deleted at the end: refuse to start rather than delete one that someone else made.
if ip link show "$cni_bridge" >/dev/null 2>&1; then echo "attach-vs-cni: $cni_bridge already exists; remove it first" >&2; exit 1; fi

# A 10.A.B.0/24 that no host route covers or splits (the host's own 192.0.2.0/24, other test networks).

suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d /tmp/mdk-bench-attach-XXXXXX)
root=$work/state
net=mdkbench-$suffix
netns=mdkbench-$suffix
floor_ns=mdkfloor-$suffix
floor_br=mdkflb$suffix
cni_id=mdkbench-$suffix
md_net=$(free_subnet 231)
cni_net=$(free_subnet 232)
floor_net=$(free_subnet 233)
ipv6=${IPV6:-0}
ula=fd$(od -An -N1 -tx1 /dev/urandom | tr -d ' \n'):$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')

cni() { # cni ADD|DEL CONF
  CNI_COMMAND=$1 CNI_PATH=/usr/lib/cni CNI_NETNS=/run/netns/$netns CNI_IFNAME=eth0 CNI_CONTAINERID=$cni_id \
    /usr/lib/cni/bridge < "$2"
}

# The IPv6 network (minidocker's and CNI's bridge plugin alike) turns on IPv6 forwarding and never turns it off, as
# ip_forward; the host gets its own setting back on exit (as NetworkIpv6Tests does).
forwarding6=/proc/sys/net/ipv6/conf/all/forwarding
forwarding6_before=$(cat "$forwarding6" 2>/dev/null || true)

cleanup() {
  set +e
  if [ -d "$root" ]; then
    mapfile -t ids < <("$md" --root "$root" ps -aq 2>/dev/null)
    [ ${#ids[@]} -gt 0 ] && "$md" --root "$root" rm -f "${ids[@]}" >/dev/null 2>&1
    [ -f "$root/networks/$net.json" ] && "$md" --root "$root" network rm "$net" >/dev/null
  fi
  # DEL is idempotent: it removes the veth, the address lease and the ipMasq chain if a cycle was cut short.
  [ -f "$work/bridge.conf" ] && cni DEL "$work/bridge.conf" >/dev/null 2>&1
  ip link del "$cni_bridge" 2>/dev/null
  ip link del "$floor_br" 2>/dev/null
  ip netns del "$netns" 2>/dev/null
  ip netns del "$floor_ns" 2>/dev/null
  rm -rf "$work"
  if [ -n "$forwarding6_before" ] && [ "$(cat "$forwarding6")" != "$forwarding6_before" ]; then
    echo "$forwarding6_before" > "$forwarding6"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# minidocker: a private state root, one network.
"$md" --root "$root" image import -c 'CMD ["sh"]' out/busybox.tar busybox >/dev/null
if [ "$ipv6" = 1 ]; then
  "$md" --root "$root" network create --ipv6 --subnet "$md_net.0/24" --subnet "$ula:1::/64" "$net" >/dev/null
else
  "$md" --root "$root" network create --subnet "$md_net.0/24" "$net" >/dev/null
fi

# CNI: a network namespace standing for the container, and the plugin configuration.
ip netns add "$netns"
cat > "$work/bridge.conf" <<EOF
{
  "cniVersion": "0.4.0", "name": "$net", "type": "bridge", "bridge": "$cni_bridge",
  "isGateway": true, "ipMasq": true,
  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$cni_net.0/24" }]$( [ "$ipv6" = 1 ] && echo ", [{ \"subnet\": \"$ula:2::/64\" }]" )],
            "dataDir": "$work/cni-ipam" }
}
EOF
# Kernel floor: the same netlink operations by ip(8), on a bridge and namespace of their own.
ip netns add "$floor_ns"
ip link add "$floor_br" type bridge
ip addr add "$floor_net.1/24" dev "$floor_br"
[ "$ipv6" = 1 ] && ip addr add "$ula:3::1/64" dev "$floor_br" nodad
ip link set "$floor_br" up
printf '%s\n' "link add mdkflh$suffix type veth peer name eth0 netns $floor_ns" "link set mdkflh$suffix master $floor_br" \
  "link set mdkflh$suffix up" > "$work/floor-host.batch"
printf '%s\n' "addr add $floor_net.2/24 dev eth0" "link set eth0 up" "route add default via $floor_net.1 dev eth0" \
  > "$work/floor-ns.batch"
[ "$ipv6" = 1 ] && printf '%s\n' "addr add $ula:3::2/64 dev eth0 nodad" "route add ::/0 via $ula:3::1 dev eth0" >> "$work/floor-ns.batch"

cmd_md_net() { "$md" --root "$root" run --rm --net "$net" busybox true; }
cmd_md_none() { "$md" --root "$root" run --rm --net none busybox true; }
cmd_cni_add() { cni ADD "$work/bridge.conf"; }
cmd_cni_del() { cni DEL "$work/bridge.conf"; }
cmd_floor_add() { ip -batch "$work/floor-host.batch" && ip -n "$floor_ns" -batch "$work/floor-ns.batch"; }
cmd_floor_del() { ip link del "mdkflh$suffix"; }

# once NAME [FILE]: runs cmd_NAME; appends its wall time in microseconds to FILE. The pause before it lets the
# kernel finish tearing down the previous run's namespace (it does that in the background after the last process
# exits, waiting for RCU grace periods), so that a run does not pay for its predecessor. SETTLE=0 charges part of
# that background work to the next run instead.
once() {
  sleep "$settle"
  local t0=$EPOCHREALTIME t1
  "cmd_$1" > /dev/null 2> "$work/stderr" || { echo "attach-vs-cni: $1 failed:" >&2; cat "$work/stderr" >&2; exit 1; }
  t1=$EPOCHREALTIME
  [ -z "${2:-}" ] || echo $((${t1/./} - ${t0/./})) >> "$2"
}
# paired A B: three warm-up runs each, then $runs runs each, alternating which goes first.
paired() {
  local i
  for i in 1 2 3; do once "$1"; once "$2"; done
  : > "$work/$1.us"; : > "$work/$2.us"
  for ((i = 0; i < runs; i++)); do
    if ((i % 2)); then once "$2" "$work/$2.us"; once "$1" "$work/$1.us"
    else once "$1" "$work/$1.us"; once "$2" "$work/$2.us"; fi
  done
}
# cycle ADD DEL: three warm-up cycles, then $runs cycles, each half timed on its own.
cycle() {
  local i
  for i in 1 2 3; do once "$1"; once "$2"; done
  : > "$work/$1.us"; : > "$work/$2.us"
  for ((i = 0; i < runs; i++)); do once "$1" "$work/$1.us"; once "$2" "$work/$2.us"; done
}
differences() { paste -d' ' "$work/$1.us" "$work/$2.us" | awk '{ print $1 - $2 }'; }
show() { # show LABEL "median low high"
  local m lo hi; read -r m lo hi <<< "$2"
  printf '%-54s %7.1f ms  (95%% CI %.1f .. %.1f)\n' "$1" "$m" "$lo" "$hi"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores; other jobs skew every figure below)"
echo "NET = $net on $md_net.0/24; CNI on $cni_bridge, $cni_net.0/24; $runs timed runs per command$( [ "$ipv6" = 1 ] && echo "; dual stack, $ula:1::/64 (CNI :2::/64, floor :3::/64)")"
paired md_net md_none
cycle cni_add cni_del
cycle floor_add floor_del

sums() { paste -d' ' "$work/$1.us" "$work/$2.us" | awk '{ print $1 + $2 }'; }
md_attach=$(differences md_net md_none | median_ci)
cni_add=$(median_ci < "$work/cni_add.us")
cni_cycle=$(sums cni_add cni_del | median_ci)
floor_add=$(median_ci < "$work/floor_add.us")
show "minidocker run --rm --net NET busybox true" "$(median_ci < "$work/md_net.us")"
show "minidocker run --rm --net none busybox true" "$(median_ci < "$work/md_none.us")"
show "  => minidocker attach+detach (paired difference)" "$md_attach"
show "CNI bridge+host-local ADD" "$cni_add"
show "CNI bridge+host-local DEL" "$(median_ci < "$work/cni_del.us")"
show "  => CNI ADD+DEL (per-cycle sum)" "$cni_cycle"
show "kernel floor: ip(8) veth into netns, addr, up, route" "$floor_add"
show "kernel floor: ip(8) link del (what CNI DEL waits for)" "$(median_ci < "$work/floor_del.us")"
awk -v m="${md_attach%% *}" -v c="${cni_cycle%% *}" -v a="${cni_add%% *}" -v f="${floor_add%% *}" 'BEGIN {
  printf "ratio minidocker/CNI attach+detach = %.2f (target <= 0.10, i.e. <= %.1f ms: %s)\n", m / c, 0.10 * c, (m <= 0.10 * c ? "met" : "not met")
  printf "  minidocker attach+detach / CNI ADD alone = %.2f; kernel floor add / CNI ADD+DEL = %.2f\n", m / a, f / c }'
