#!/bin/sh
# compare.sh — mlads' log readers against the usual command-line tools, in one run.
#
# Builds (once, outside the repository) a big EVE file by repeating the flow
# events of the shared data, and a big Zeek conn.log TSV by repeating the
# data lines of a shared conn.log under one header. Then times, on one core
# (taskset -c 0, GOMAXPROCS=1):
#   jq -c over the EVE file            vs  logread (eve.Parser)
#   zeek-cut-style awk over the TSV    vs  logread (zeek.Parser)
# and prints wall and CPU seconds, lines per second and the ratios; then the
# parsers' in-process speed ratios against encoding/json and a plain tab
# split (go test -bench SpeedRatio), which hold on a busy machine.
#
# Environment: SHARED_DATA (default ../shared/data beside the checkout),
# EVE_LINES (default 500000), TSV_LINES (default 2000000), WORK (default
# ${TMPDIR:-/tmp}/mlads-bench-logs; the big files are kept there for reuse).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
data=${SHARED_DATA:-$root/../shared/data}
work=${WORK:-${TMPDIR:-/tmp}/mlads-bench-logs}
eve_lines=${EVE_LINES:-500000}
tsv_lines=${TSV_LINES:-2000000}
mkdir -p "$work"

eve_src="$data/slips-dataset/test6-malicious.suricata.json"
tsv_src="$data/stratosphere-labeled/security-datasets-for-testing/008-zeek-mixed/data/conn.log.labeled"
for f in "$eve_src" "$tsv_src"; do
	[ -r "$f" ] || { echo "compare.sh: $f not found (set SHARED_DATA)" >&2; exit 1; }
done
for tool in jq awk go; do
	command -v $tool >/dev/null || { echo "compare.sh: $tool not installed" >&2; exit 1; }
done

eve="$work/eve-$eve_lines.json"
tsv="$work/conn-$tsv_lines.log"
if [ ! -s "$eve" ]; then
	echo "building $eve ($eve_lines flow events)..." >&2
	grep '"event_type":"flow"' "$eve_src" > "$work/eve-one.json"
	n=$(wc -l < "$work/eve-one.json")
	reps=$(( (eve_lines + n - 1) / n ))
	i=0; : > "$eve.tmp"
	while [ $i -lt $reps ]; do cat "$work/eve-one.json"; i=$((i+1)); done | head -n "$eve_lines" > "$eve.tmp"
	mv "$eve.tmp" "$eve"
fi
if [ ! -s "$tsv" ]; then
	echo "building $tsv ($tsv_lines lines)..." >&2
	grep '^#' "$tsv_src" | grep -v '^#close' > "$tsv.tmp"
	grep -v '^#' "$tsv_src" > "$work/conn-one.tsv"
	n=$(wc -l < "$work/conn-one.tsv")
	reps=$(( (tsv_lines + n - 1) / n ))
	i=0
	while [ $i -lt $reps ]; do cat "$work/conn-one.tsv"; i=$((i+1)); done | head -n "$tsv_lines" >> "$tsv.tmp"
	mv "$tsv.tmp" "$tsv"
fi

bin="$work/logread"
(cd "$root" && go build -o "$bin" ./bench/logs/logread)

pin=""
command -v taskset >/dev/null && pin="taskset -c 0"

# measure NAME CMD...: runs CMD with output to /dev/null; prints "wall cpu".
measure() {
	name=$1; shift
	out="$work/time.$$"
	/usr/bin/env time -f "%e %U %S" -o "$out" $pin "$@" > /dev/null
	read wall usr sys < "$out"
	rm -f "$out"
	cpu=$(echo "$usr $sys" | awk '{printf "%.2f", $1+$2}')
	echo "$wall $cpu"
}

rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n/s; else print "inf" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a/b; else print "inf" }'; }

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
echo "load average before: $load (2 shared cores: CPU seconds are the fairer measure)"
echo

set -- $(measure jq jq -c . "$eve");                     jq_wall=$1 jq_cpu=$2
set -- $(measure eve env GOMAXPROCS=1 "$bin" "$eve");    eve_wall=$1 eve_cpu=$2
set -- $(measure evecid env GOMAXPROCS=1 "$bin" -community-id "$eve"); evecid_wall=$1 evecid_cpu=$2

# zeek-cut ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes conn_state
cut_awk='BEGIN { FS = OFS = "\t" } /^#/ { next } { print $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
set -- $(measure awk awk "$cut_awk" "$tsv");             awk_wall=$1 awk_cpu=$2
set -- $(measure tsv env GOMAXPROCS=1 "$bin" "$tsv");    tsv_wall=$1 tsv_cpu=$2
set -- $(measure tsvcid env GOMAXPROCS=1 "$bin" -community-id "$tsv"); tsvcid_wall=$1 tsvcid_cpu=$2

printf "%-42s %10s %8s %8s %14s\n" "reader" "lines" "wall s" "cpu s" "lines/cpu-s"
row() { printf "%-42s %10d %8s %8s %14s\n" "$1" "$2" "$3" "$4" "$(rate "$2" "$4")"; }
row "jq -c . (EVE)" "$eve_lines" "$jq_wall" "$jq_cpu"
row "mlads eve.Parser" "$eve_lines" "$eve_wall" "$eve_cpu"
row "mlads eve.Parser + Community ID derived" "$eve_lines" "$evecid_wall" "$evecid_cpu"
row "awk, zeek-cut style (TSV)" "$tsv_lines" "$awk_wall" "$awk_cpu"
row "mlads zeek.Parser" "$tsv_lines" "$tsv_wall" "$tsv_cpu"
row "mlads zeek.Parser + Community ID derived" "$tsv_lines" "$tsvcid_wall" "$tsvcid_cpu"
echo
echo "ratios (CPU time of the tool / CPU time of mlads; > 1 means mlads is faster):"
echo "  EVE:  jq / mlads = $(ratio "$jq_cpu" "$eve_cpu")x   (with the Community ID derived: $(ratio "$jq_cpu" "$evecid_cpu")x)"
echo "  TSV:  awk / mlads = $(ratio "$awk_cpu" "$tsv_cpu")x   (with the Community ID derived: $(ratio "$awk_cpu" "$tsvcid_cpu")x)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")"
echo
echo "in-process speed ratios against yardsticks (alternating short rounds, median over 5 runs; holds under load better than the rates above):"
SHARED_DATA="$data" "$root/bench/logs/ratios.sh" 5 | sed 's/^/  /'
