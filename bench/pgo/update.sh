#!/bin/sh
# Rebuilds cmd/mlads/default.pgo, the CPU profile that `go build` uses for
# profile-guided optimisation of the mlads binary (Go's -pgo=auto picks up
# default.pgo in the main package's folder). It merges equal-length CPU
# profiles of the hot paths of the main jobs, taken from their benchmarks
# on the shared data (or the benchmarks' built-in fallbacks without it):
#
#   pcap → flows      BenchmarkMeter (read, decode, flow table, records)
#   Zeek conn.log     BenchmarkZeekTSV, BenchmarkZeekJSON
#   Suricata EVE      BenchmarkEVEFlow, BenchmarkEVENetflow
#   writing flows     BenchmarkJSONWriter (Community ID derived on write)
#   detection         BenchmarkScore, BenchmarkObserve
#
# Run it from anywhere after changing a hot path, and commit the profile:
#
#   bench/pgo/update.sh
#
# Environment: SHARED_DATA (default ../shared/data beside the checkout),
# BENCHTIME (default 3s per benchmark).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${SHARED_DATA:-$root/../shared/data}
benchtime=${BENCHTIME:-3s}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

profile() { # profile NAME PACKAGE BENCHMARK-REGEXP
	(cd "$root" && SHARED_DATA="$data" go test -count 1 -run '^$' -bench "$3" -benchtime "$benchtime" \
		-cpuprofile "$work/$1.prof" -o "$work/$1.test" "$2" > "$work/$1.out") ||
		{ cat "$work/$1.out" >&2; exit 1; }
	grep '^Benchmark' "$work/$1.out" | sed 's/^/  /'
}

profile pcap   ./internal/pcap/            '^BenchmarkMeter$'
profile zeek   ./internal/zeek/            '^BenchmarkZeek(TSV|JSON)$'
profile eve    ./internal/eve/             '^BenchmarkEVE(Flow|Netflow)$'
profile write  ./internal/flow/            '^BenchmarkJSONWriter$'
profile score  ./internal/detect/          '^BenchmarkScore$'
profile behave ./internal/detect/behavior/ '^BenchmarkObserve$'

go tool pprof -proto "$work"/*.prof > "$root/cmd/mlads/default.pgo" 2> "$work/pprof.err" ||
	{ cat "$work/pprof.err" >&2; exit 1; }
echo "wrote $root/cmd/mlads/default.pgo ($(wc -c < "$root/cmd/mlads/default.pgo") bytes)"
