#!/usr/bin/env bash
# Compares mlads's flow meter with its peers on one capture, in one run on
# one machine, and prints packets/s and each tool's time relative to mlads.
#
#   bench/flows/compare.sh CAPTURE.pcap
#
# One core: every tool runs pinned to CPU 0 (taskset) and mlads with
# GOMAXPROCS=1. Then mlads with GOMAXPROCS=2 on both cores shows scaling.
# Peers (Debian packages): nfdump (nfpcapd), softflowd, argus-server,
# tshark, tcpdump. A missing peer is reported and skipped.
set -euo pipefail
cap=${1:?usage: compare.sh CAPTURE.pcap}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go build -o "$tmp/mlads" ./cmd/mlads)
pkts=$(capinfos -c -M "$cap" | awk -F': *' '/Number of packets/ {print $2}')
echo "capture: $cap, $pkts packets, $(du -h "$cap" | cut -f1)"

# timeit NAME CMD...: run once to warm the page cache, then time a second run.
declare -A secs
timeit() {
  local name=$1; shift
  if ! command -v "${1#taskset}" >/dev/null 2>&1 && [ "$1" != taskset ] && [ "$1" != env ]; then
    echo "$name: not installed, skipped"; return
  fi
  "$@" >/dev/null 2>&1 || true
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$tmp/$name.err" || { echo "$name: failed: $(tail -1 "$tmp/$name.err")"; return; }
  t1=$(date +%s.%N)
  secs[$name]=$(echo "$t1 - $t0" | bc -l)
  printf '%-28s %8.2f s  %8.2f M packets/s\n' "$name" "${secs[$name]}" "$(echo "$pkts / ${secs[$name]} / 1000000" | bc -l)"
}

pin="taskset -c 0"
timeit "tcpdump (raw read)"        $pin tcpdump -n -r "$cap" -w /dev/null
timeit "mlads flows json (1 core)"  $pin env GOMAXPROCS=1 "$tmp/mlads" flows --format json "$cap"
timeit "nfpcapd+nfdump json"        $pin bash -c "rm -rf $tmp/nf && mkdir -p $tmp/nf && nfpcapd -r '$cap' -w $tmp/nf >/dev/null 2>&1 && nfdump -R $tmp/nf -o json"
timeit "softflowd"                  $pin softflowd -r "$cap" -n 127.0.0.1:9 -D
timeit "argus"                      $pin argus -r "$cap" -w "$tmp/a.argus"
timeit "tshark -z conv,ip"          $pin tshark -n -q -z conv,ip -r "$cap"
timeit "mlads flows json (2 cores)" env GOMAXPROCS=2 "$tmp/mlads" flows --format json "$cap"

m=${secs["mlads flows json (1 core)"]:-}
[ -n "$m" ] || exit 0
echo
echo "time relative to mlads on one core (higher = mlads faster):"
for k in "${!secs[@]}"; do
  printf '  %-28s %6.2fx\n' "$k" "$(echo "${secs[$k]} / $m" | bc -l)"
done | sort
