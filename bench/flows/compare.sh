#!/usr/bin/env bash
# Compares mlads's flow meter with its peers on one capture, in one run on
# one machine, and prints each tool's time, packets/s and its time relative
# to mlads on one core.
#
#   bench/flows/compare.sh CAPTURE.pcap [RUNS]
#   MLADS=/path/to/mlads bench/flows/compare.sh CAPTURE.pcap [RUNS]
#
# Every tool reads the same file, from the page cache: each is run once
# untimed (warm-up, and a check that it really produced flows), then RUNS
# times (default 3), and the fastest run counts (the machine is shared; the
# fastest is the least disturbed). One core: the tools run pinned to CPU 0
# (taskset) and mlads with GOMAXPROCS=1. Then mlads on two cores
# (GOMAXPROCS=2, pcap.shards=2) shows the scaling.
#
# Peers (Debian packages): tcpdump (raw read, no flows: the floor), nfdump
# (nfpcapd writes nfcapd files, nfdump -o json prints them: pcap to JSON
# flows like mlads), softflowd (exports NetFlow v9 to a closed local port),
# argus-server (writes an argus file), tshark -z conv,ip. A missing peer is
# reported and skipped.
set -euo pipefail
cap=$(realpath "${1:?usage: compare.sh CAPTURE.pcap [RUNS]}")
runs=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# softflowd 1.1.0 hangs in accept() on its control socket instead of
# reading the file when that socket's path is 13 characters or longer
# (/tmp/sfq.ctl works, /tmp/sf12.ctl hangs): keep it short.
sf=/tmp/sfm
trap 'rm -rf "$tmp" "$sf.pid" "$sf.ctl"' EXIT
# MLADS=/path/to/mlads uses that binary instead of building the work tree.
if [ -n "${MLADS:-}" ]; then cp "$MLADS" "$tmp/mlads"; else (cd "$root" && go build -o "$tmp/mlads" ./cmd/mlads); fi
pkts=$(capinfos -c -M "$cap" | awk -F': *' '/Number of packets/ {print $2}')
echo "capture: $cap, $pkts packets, $(du -h "$cap" | cut -f1)"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(uptime | sed 's/.*load/load/')"
echo "mlads: ${MLADS:-work tree} at $(cd "$root" && git rev-parse --short HEAD)"
echo

# Each peer is a function that writes its output (flows, or the tool's own
# summary) under $tmp/out/NAME so the check below can look at it.
mkdir -p "$tmp/out"
pin="taskset -c 0"
run_tcpdump()  { $pin tcpdump -n -r "$cap" -w /dev/null 2>"$tmp/out/tcpdump"; }
run_mlads1()   { $pin env GOMAXPROCS=1 MLADS_PCAP_SHARDS=1 "$tmp/mlads" flows --format json "$cap" 2>/dev/null | tail -c 4096 >"$tmp/out/mlads1"; }
run_mlads2()   { env GOMAXPROCS=2 MLADS_PCAP_SHARDS=2 "$tmp/mlads" flows --format json "$cap" 2>/dev/null | tail -c 4096 >"$tmp/out/mlads2"; }
run_nfdump()   {
  rm -rf "$tmp/nf" && mkdir -p "$tmp/nf"
  $pin nfpcapd -r "$cap" -w "$tmp/nf" >/dev/null 2>&1
  $pin nfdump -R "$tmp/nf" -o json 2>/dev/null | tail -c 4096 >"$tmp/out/nfdump"
}
run_softflowd() {
  $pin softflowd -d -6 -r "$cap" -n 127.0.0.1:9 -v 9 -p "$sf.pid" -c "$sf.ctl" </dev/null >"$tmp/out/softflowd" 2>&1
}
run_argus()    {
  rm -f "$tmp/a.argus"
  # An inner shell, so that bash's "Aborted" notice goes to /dev/null too.
  $pin bash -c 'argus -r "$1" -w "$2" 2>/dev/null; echo $? >"$3"' _ "$cap" "$tmp/a.argus" "$tmp/out/argus" 2>/dev/null
}
run_tshark()   { $pin tshark -n -q -z conv,ip -r "$cap" 2>/dev/null | tail -c 4096 >"$tmp/out/tshark"; }

# check NAME: did the tool produce flows? Prints a short proof.
check() {
  local f="$tmp/out/$1"
  case $1 in
    tcpdump)   grep -q 'reading from file' "$f" && echo "read the file" ;;
    mlads*)    grep -q '"id.orig_h"' "$f" && echo "JSON flows" ;;
    nfdump)    grep -q '"src4_addr"\|"src6_addr"' "$f" && echo "JSON flows, $(du -sh "$tmp/nf" | cut -f1) of nfcapd files" ;;
    softflowd) grep -q 'flushed' "$f" && grep -m1 -o 'Flows expired:.*\|flushed = *[0-9]*' "$f" | tr -s ' ' ;;
    argus)     # argus 3.0.8 aborts (heap corruption) on some captures; say how
               # many of the packets its records cover.
               local n; n=$(racount -r "$tmp/a.argus" 2>/dev/null | awk '$1 == "sum" {print $3}')
               [ "${n:-0}" -gt 0 ] && echo "records cover $n packets, exit status $(cat "$f")" ;;
    tshark)    grep -q '<->' "$f" && echo "conversation table" ;;
  esac
}

declare -A secs
order=()
timeit() {
  local name=$1 fn=$2 tool=$3
  if ! command -v "$tool" >/dev/null 2>&1; then
    printf '%-30s not installed, skipped\n' "$name"; return
  fi
  rm -f "$tmp/out/$fn"
  "run_$fn" || true
  local proof
  if ! proof=$(check "$fn"); then
    printf '%-30s produced no flows, skipped (see %s)\n' "$name" "$(head -c 300 "$tmp/out/$fn" 2>/dev/null)"; return
  fi
  local best="" t0 t1 s
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    "run_$fn" || true
    t1=$(date +%s.%N)
    s=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$s < $best" | bc -l)" = 1 ]; then best=$s; fi
  done
  secs[$name]=$best
  order+=("$name")
  printf '%-30s %7.2f s  %6.2f M packets/s   (%s)\n' "$name" "$best" "$(echo "$pkts / $best / 1000000" | bc -l)" "$proof"
}

timeit "tcpdump -r -w /dev/null"    tcpdump   tcpdump
timeit "mlads flows json, 1 core"   mlads1    taskset
timeit "mlads flows json, 2 cores"  mlads2    taskset
timeit "nfpcapd + nfdump -o json"   nfdump    nfpcapd
timeit "softflowd"                  softflowd softflowd
timeit "argus"                      argus     argus
timeit "tshark -z conv,ip"          tshark    tshark

m=${secs["mlads flows json, 1 core"]:-}
[ -n "$m" ] || exit 0
echo
echo "each tool's time / mlads's on one core (above 1: mlads is faster):"
for k in "${order[@]}"; do
  printf '  %-30s %6.2f\n' "$k" "$(echo "${secs[$k]} / $m" | bc -l)"
done
m2=${secs["mlads flows json, 2 cores"]:-}
[ -n "$m2" ] && printf 'mlads 1 -> 2 cores: %.2fx\n' "$(echo "$m / $m2" | bc -l)"
echo "$(uptime | sed 's/.*load/load/') (after)"
