#!/bin/sh
# Runs the log readers' BenchmarkSpeedRatio (internal/zeek, internal/eve)
# RUNS times and prints every run's ratios and their median. Each run
# already times the parser against its yardstick (a plain tab split for
# TSV, encoding/json for JSON and EVE) in alternating short rounds; on a
# shared machine whose speed swings between runs, the median over runs is
# the figure to quote. "cid=true" adds deriving the Community ID, as the
# writers do for logs without it.
#
#   bench/logs/ratios.sh [RUNS]              # default 9; the test binaries as `go test` builds them
#   PGO=1 bench/logs/ratios.sh [RUNS]        # built with cmd/mlads/default.pgo, as the mlads binary is
#
# The issue's goals in these terms: TSV ≥ 0.44 × a tab split (2 M lines/s
# where the split does 4.5 M), JSON and EVE ≥ 6.5 × encoding/json (1 M/s
# where it does 154 k).
#
# Environment: SHARED_DATA (default ../shared/data beside the checkout).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-9}
pgo=""
[ "${PGO:-0}" = 1 ] && pgo="-pgo=$root/cmd/mlads/default.pgo"
data=${SHARED_DATA:-$root/../shared/data}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'); runs: $runs; ${pgo:-no PGO}"
(cd "$root" && SHARED_DATA="$data" go test $pgo -count "$runs" -run '^$' -bench SpeedRatio -benchtime 1x \
	./internal/zeek/ ./internal/eve/) |
	awk '
	/^pkg:/ { pkg = $2; sub(/.*\//, "", pkg) }
	/^BenchmarkSpeedRatio/ {
		for (i = 5; i + 1 <= NF; i += 2) {
			k = pkg " " $(i + 1); v[k] = v[k] " " $i; n[k]++
		}
	}
	END {
		for (k in v) {
			m = split(substr(v[k], 2), a, " ")
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
			printf "%-40s median %6.2f   min %6.2f   max %6.2f   (%d runs)\n", k, med, a[1], a[m], m
		}
	}' | sort
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
