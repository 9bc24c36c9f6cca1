#!/usr/bin/env bash
# Live capture throughput: a shared capture replayed by tcpreplay into a veth
# at increasing rates while `mlads capture` reads the other end, with one
# socket pinned to one core, then with fanout 2 on two cores. For each rate
# it prints what was sent, what the sockets received, and where packets
# were lost:
#
#   kernel   sent by tcpreplay, never reached the socket (veth/backlog drops:
#            the receiving interface's rx_dropped, and what is otherwise
#            missing between tcpreplay's count and the socket's)
#   ring     reached the socket, dropped because its ring was full: the
#            reader (decoder, flow table, output) fell behind
#   pipeline flows the reader could not hand on; `mlads capture` writes to
#            /dev/null, so 0 here: in the daemon a full queue shows as
#            queue_stalls and then as ring drops
#
# Run as root (network namespaces), with tcpreplay (Debian: tcpreplay):
#
#   bench/capture/run.sh [CAPTURE]            default: ../shared/data/ndpi-pcaps/pcap/1kxun.pcap
#   RATES="100000 400000 1000000 topspeed" SECONDS_PER_RATE=4 MLADS=/path/to/mlads bench/capture/run.sh
#
# The machine is shared: the load average is printed before and after, and
# the ratios (fanout 2 against 1, received against sent) are what carries
# over to another machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
pcap=${1:-$repo/../shared/data/ndpi-pcaps/pcap/1kxun.pcap}
rates=${RATES:-"50000 100000 200000 400000 800000 topspeed"}
secs=${SECONDS_PER_RATE:-4}
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }
command -v tcpreplay >/dev/null || { echo "needs tcpreplay (apt-get install tcpreplay)" >&2; exit 1; }
[ -f "$pcap" ] || { echo "no capture $pcap" >&2; exit 1; }

tmp=$(mktemp -d)
a=mlads-bench-a-$$ b=mlads-bench-b-$$ va=mbencha$$ vb=mbenchb$$
cleanup() { ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
mlads=${MLADS:-}
if [ -z "$mlads" ]; then
  (cd "$repo" && go build -o "$tmp/mlads" ./cmd/mlads)
  mlads=$tmp/mlads
fi

ip netns add "$a"; ip netns add "$b"
ip link add "$va" netns "$a" type veth peer name "$vb" netns "$b"
for ns in "$a" "$b"; do
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$a" link set "$va" up; ip -n "$b" link set "$vb" up
# a larger backlog, so that the kernel drops as little as it can
sysctl -q -w net.core.netdev_max_backlog=65536 || true

echo "capture: $pcap ($(stat -c %s "$pcap") bytes); mlads: $mlads"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
printf '%-7s %-9s %10s %10s %10s %9s %9s %9s\n' fanout rate sent sent/s received kernel ring pipeline

best1=0 best2=0
rxdrop() { ip netns exec "$b" cat /sys/class/net/"$vb"/statistics/rx_dropped; }
for fanout in 1 2; do
  cpus=0; [ "$fanout" = 2 ] && cpus=0-1
  for rate in $rates; do
    rx0=$(rxdrop)
    ip netns exec "$b" env GOMAXPROCS="$fanout" taskset -c "$cpus" "$mlads" capture -i "$vb" --fanout "$fanout" \
      --for "$((secs + 2))s" > /dev/null 2> "$tmp/capture.err" &
    cap=$!
    sleep 1
    if [ "$rate" = topspeed ]; then speed=(--topspeed); else speed=(--pps="$rate"); fi
    ip netns exec "$a" taskset -c 1 tcpreplay -q -i "$va" "${speed[@]}" --loop=0 --duration="$secs" --preload-pcap "$pcap" \
      > "$tmp/replay.out" 2>&1 || true
    wait "$cap" || { cat "$tmp/capture.err" >&2; exit 1; }
    sent=$(grep -oE 'Actual: [0-9]+ packets' "$tmp/replay.out" | grep -oE '[0-9]+' || echo 0)
    pps=$(grep -oE 'Rated: [0-9.]+ Bps, [0-9.]+ Mbps, [0-9.]+ pps' "$tmp/replay.out" | grep -oE '[0-9.]+ pps' | cut -d' ' -f1 || echo 0)
    line=$(grep -E "^mlads: $vb \(" "$tmp/capture.err")
    received=$(sed -E 's/.*: ([0-9]+) frames received.*/\1/' <<<"$line")
    ring=$(sed -E 's/.*ring ([0-9]+).*/\1/' <<<"$line")
    kernel=$(( $(rxdrop) - rx0 ))
    missing=$(( sent - received - ring ))
    [ "$missing" -gt "$kernel" ] && kernel=$missing
    printf '%-7s %-9s %10s %10.0f %10s %9s %9s %9s\n' "$fanout" "$rate" "$sent" "${pps:-0}" "$received" "$kernel" "$ring" 0
    if [ "$kernel" = 0 ] && [ "$ring" = 0 ] && [ "$sent" -gt 0 ]; then
      r=${pps%.*}
      if [ "$fanout" = 1 ] && [ "$r" -gt "$best1" ]; then best1=$r; fi
      if [ "$fanout" = 2 ] && [ "$r" -gt "$best2" ]; then best2=$r; fi
    fi
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "SUMMARY: highest zero-drop rate, one socket on one core: $best1 packets/s"
echo "SUMMARY: highest zero-drop rate, fanout 2 on two cores:  $best2 packets/s"
if [ "$best1" -gt 0 ]; then
  echo "SUMMARY: fanout 2 / fanout 1 = $(awk -v a="$best2" -v b="$best1" 'BEGIN { printf "%.2f", a / b }')"
fi
echo "SUMMARY: a rate is zero-drop only when tcpreplay reached it: a sender slower than the reader caps the result (see sent/s)"
