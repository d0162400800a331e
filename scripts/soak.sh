#!/usr/bin/env bash
# Soak (issue 15; outside CI): a node runs the lab intent (a PE pair joined by a PW trunk, TAPs in
# namespaces made by `fabric-node lab up`) for MINUTES under mixed real traffic (TCP iperf3, 64 B
# UDP, ping), while a change is proposed every 10 s. Reports, as one JSON line at the end: changes
# proposed/committed/lost, failed health checks, RSS at start/end and its slope (MB per minute,
# least squares over the samples; also after the first third, the warm-up), ping loss. Needs root, iperf3, curl and a built fabric-node.
#   scripts/soak.sh [MINUTES=30] [WORKDIR=/tmp/fabric-soak]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
work=${2:-/tmp/fabric-soak}
node_dll=Fabric.Node/bin/Debug/net10.0/fabric-node.dll
intent=samples/lab-intent.yaml
mgmt=127.0.0.1:${SOAK_MANAGEMENT_PORT:-18558}
fabric() { dotnet "$node_dll" "$@"; }
[ -f "$node_dll" ] || { echo "soak: build first (dotnet build Fabric.sln)" >&2; exit 2; }
for tool in iperf3 curl ping; do command -v $tool >/dev/null || { echo "soak: $tool is missing" >&2; exit 2; }; done

rm -rf "$work"; mkdir -p "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # The iperf3 servers run as daemons (-D): their PIDs are in their pid files.
  for f in "$work"/iperf-*-server.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  fabric lab down "$intent" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fabric lab up "$intent" > "$work/lab.txt"
ce_a=fabric-lab-lab-ce-a; ce_b=fabric-lab-lab-ce-b
# Started directly, not through the fabric() function: a backgrounded function is a subshell,
# and $! would be its PID (the RSS sampled below would be the shell's, not the node's).
dotnet "$node_dll" run --intent "$intent" --data "$work/data" --management "$mgmt" --port 0 > "$work/node.log" 2>&1 &
node=$!; pids+=($node)
for _ in $(seq 1 120); do
  curl -sf "http://$mgmt/health/ready" >/dev/null && [ "$(curl -s "http://$mgmt/intent/applied" | grep -o '"version":[0-9]*' | cut -d: -f2)" = 1 ] && break
  sleep 1
done
for _ in $(seq 1 60); do ip netns exec $ce_a ping -c1 -W1 10.88.0.2 >/dev/null 2>&1 && break; sleep 1; done

# Mixed traffic for the whole run, each generator bounded by the run's length.
seconds=$((minutes * 60))
ip netns exec $ce_b iperf3 -s -p 5201 -D -I "$work/iperf-tcp-server.pid" --logfile "$work/iperf-tcp-server.log"
ip netns exec $ce_b iperf3 -s -p 5202 -D -I "$work/iperf-udp-server.pid" --logfile "$work/iperf-udp-server.log"
ip netns exec $ce_a iperf3 -c 10.88.0.2 -p 5201 -t "$seconds" -b 300M -i 60 > "$work/iperf-tcp.txt" 2>&1 & pids+=($!)
ip netns exec $ce_a iperf3 -c 10.88.0.2 -p 5202 -u -l 64 -b 20M -t "$seconds" -i 60 > "$work/iperf-udp.txt" 2>&1 & pids+=($!)
ip netns exec $ce_a ping -i 0.2 -w "$seconds" -q 10.88.0.2 > "$work/ping.txt" 2>&1 & pids+=($!)

# A change every 10 s (a tenant whose vni moves), its health and memory sampled alongside.
proposed=0; committed=0; failed_health=0
: > "$work/rss.tsv"
start=$(date +%s)
while [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
  now=$(( $(date +%s) - start ))
  proposed=$((proposed + 1))
  { cat "$intent"; printf 'tenants:\n  - { name: soak, vni: %d }\n' $((5000 + proposed)); } > "$work/change.yaml"
  if fabric change propose "$work/change.yaml" --wait --management "$mgmt" --data "$work/data" >> "$work/changes.txt" 2>&1; then
    committed=$((committed + 1))
  fi
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://$mgmt/health/ready" || echo 000)
  [ "$code" = 200 ] || failed_health=$((failed_health + 1))
  rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$node/status)
  printf '%s\t%s\n' "$now" "$rss_kb" >> "$work/rss.tsv"
  sleep $(( 10 - ( ($(date +%s) - start) % 10 ) ))
done

listed=$(curl -s "http://$mgmt/changes?limit=500" | grep -o '"status":"committed"' | wc -l)
lost=$(( committed + 1 - listed )); [ $lost -lt 0 ] && lost=0   # +1: the intent proposed at start
# Least-squares slope of RSS (MB per minute) over the samples from second $1 on: the whole run,
# and after the first third (warm-up: tiered JIT, pools and GC generations growing to their size).
slope_from() { awk -v from="$1" '$1 >= from {n++; x+=$1/60; y+=$2/1024; xx+=($1/60)^2; xy+=($1/60)*($2/1024)} END {d=n*xx-x*x; printf "%.3f", (d==0)?0:(n*xy-x*y)/d}' "$work/rss.tsv"; }
slope=$(slope_from 0)
slope_warm=$(slope_from $((seconds / 3)))
rss_start=$(head -1 "$work/rss.tsv" | awk '{printf "%.0f", $2/1024}')
rss_end=$(tail -1 "$work/rss.tsv" | awk '{printf "%.0f", $2/1024}')
loss=$(grep -o '[0-9.]*% packet loss' "$work/ping.txt" | cut -d% -f1 || echo null)
printf '{"minutes":%s,"changes_proposed":%s,"changes_committed":%s,"changes_lost":%s,"failed_health_checks":%s,"rss_mb_start":%s,"rss_mb_end":%s,"rss_slope_mb_per_min":%s,"rss_slope_after_warmup_mb_per_min":%s,"ping_loss_pct":%s}\n' \
  "$minutes" "$proposed" "$committed" "$lost" "$failed_health" "$rss_start" "$rss_end" "$slope" "$slope_warm" "${loss:-null}"
