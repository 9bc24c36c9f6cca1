#!/usr/bin/env bash
# The cost of detection on a capture, as a ratio: the wall time of
# `mlads analyze CAPTURE` (learn from the capture, then score it) over that of
# `mlads flows CAPTURE` (decode and meter only), in alternating runs of the
# same binary, so that the machine's load swings hit both alike.
#
#   bench/analyze/ratio.sh CAPTURE [RUNS]     (default 5 runs; CAPTURE from bench/flows/build-capture.sh)
#
# Prints each pair and the median of the ratios.
set -euo pipefail
cap=${1:?usage: ratio.sh CAPTURE [RUNS]}
runs=${2:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp -d)/mlads; trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$root" && go build -o "$bin" ./cmd/mlads)

wall() { # prints the wall seconds of one run of mlads "$@", output discarded
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" "$@" > /dev/null 2>/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

ratios=()
for i in $(seq 1 "$runs"); do
  f=$(wall flows "$cap")
  a=$(wall analyze "$cap")
  r=$(echo "$a / $f" | bc -l)
  ratios+=("$r")
  printf 'run %d: flows %.2f s, analyze %.2f s, ratio %.2f\n' "$i" "$f" "$a" "$r"
done
printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {printf "median ratio analyze/flows over %d runs: %.2f\n", NR, a[int((NR+1)/2)]}'
