# Shared by the network benchmarks (sourced, not run).
# shellcheck shell=bash

# free_subnet A: prints "10.A.B" for a /24 that no host route covers or is covered by.
free_subnet() {
  local a=$1 b
  for _ in $(seq 20); do
    b=$((RANDOM % 200 + 20))
    if [ -z "$(ip -4 route show match "10.$a.$b.0/24" | grep -v '^default')$(ip -4 route show root "10.$a.$b.0/24")" ]; then
      echo "10.$a.$b"; return 0
    fi
  done
  echo "$(basename "$0"): no free 10.$a.x.0/24" >&2; return 1
}

# "median low high" in ms of the microsecond figures on stdin; low..high is the 95% confidence interval of the
# median from order statistics (ranks n/2 -+ 0.98 sqrt(n)), which assumes nothing about the distribution.
median_ci() {
  sort -n | awk '{ v[NR] = $1 } END {
    n = NR; m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    lo = int(n / 2 - 0.98 * sqrt(n)); hi = int(n / 2 + 1 + 0.98 * sqrt(n)) + 1
    if (lo < 1) lo = 1; if (hi > n) hi = n
    printf "%.1f %.1f %.1f", m / 1000, v[lo] / 1000, v[hi] / 1000 }'
}
