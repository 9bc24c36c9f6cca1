#!/usr/bin/env bash
# Live capture throughput: a shared capture sent into a veth by blast
# (bench/capture/blast: frames held in memory, AF_PACKET sendmmsg batches,
# qdisc bypassed) or by tcpreplay, at increasing rates while `mlads capture` reads the other end, with one
# socket pinned to one core, then with fanout 2 on two cores. For each rate
# it prints what was sent, what the sockets received, and where packets
# were lost:
#
#   received frames that reached the socket, the ring's drops included
#            (the kernel's tp_packets)
#   kernel   sent, never reached the socket (veth/backlog drops: the
#            receiving interface's rx_dropped, and what is otherwise
#            missing between the sender's count and the socket's); blast
#            sends a frame the kernel refused again (its send errors), so
#            with blast these are refusals, not frames missing downstream
#   ring     reached the socket, dropped because its ring was full: the
#            reader (decoder, flow table, output) fell behind
#   cpu-s    user+sys seconds of `mlads capture` (GNU time); frames/cpu-s is
#            received over it: the reader's one-core ceiling if the kernel
#            could deliver more (the copy into the ring is not in it: it
#            runs in the sender's softirq)
#   pipeline flows the reader could not hand on; `mlads capture` writes to
#            /dev/null, so 0 here: in the daemon a full queue shows as
#            queue_stalls and then as ring drops
#
# The sender runs on CPU 1 and the one-socket reader on CPU 0; the veth's
# receive path (and the copy into the socket's ring) runs in the sender's
# softirq, on CPU 1, so the sender's rate at top speed is the veth path's
# ceiling on this machine.
#
# Run as root (network namespaces):
#
#   bench/capture/run.sh [CAPTURE]            default: ../shared/data/ndpi-pcaps/pcap/1kxun.pcap
#   RATES="100000 400000 1000000 topspeed" SECONDS_PER_RATE=4 MLADS=/path/to/mlads bench/capture/run.sh
#   SENDER=tcpreplay bench/capture/run.sh     the former sender (Debian: tcpreplay), 120-200 k packets/s here
#   RX_ON_READER=1 bench/capture/run.sh       RPS moves the veth's receive path (and the copy into the ring)
#                                             to CPU 0, the reader's core, as a NIC interrupt on that core would
#   RING_MB=512 bench/capture/run.sh          ring per socket in the rate steps (default 64 MiB, mlads's own)
#   DRAIN_SECONDS=2 DRAIN_RING_MB=1024 DRAIN_RUNS=3 bench/capture/run.sh
#                                             the drain step after the rates (0: skip it): the ring of a
#                                             stopped reader is filled for DRAIN_SECONDS, then the reader
#                                             reads it empty alone on its core(s); frames/s of wall time,
#                                             best of DRAIN_RUNS
#   RATES=none DRAIN_RUNS=3 bench/capture/run.sh
#                                             the drain step only
#   PIN=0 bench/capture/run.sh                leave the reader threads to the scheduler; by default
#                                             (PIN=1) socket i's reader is pinned to CPU i
#                                             (capture.cpus: 0 for one socket, 0,1 for fanout 2), as
#                                             the scheduler otherwise may run both readers on one core;
#                                             in the rate steps the sender runs on CPU 1 too, so fanout
#                                             2's second reader shares CPU 1 with it there
#
# The machine is shared: the load average is printed before and after, and
# the ratios (fanout 2 against 1, received against sent) are what carries
# over to another machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
pcap=${1:-$repo/../shared/data/ndpi-pcaps/pcap/1kxun.pcap}
rates=${RATES:-"100000 200000 400000 600000 800000 1000000 topspeed"}
secs=${SECONDS_PER_RATE:-4}
sender=${SENDER:-blast}
pin=${PIN:-1}
[ "$rates" = none ] && rates=""
case $pin in 0|1) ;; *) echo "PIN must be 0 or 1, not $pin" >&2; exit 1 ;; esac
# pinned CPUs of a fanout (capture.cpus): socket i on CPU i; empty: none
pincpus() { if [ "$pin" = 1 ]; then seq -s, 0 $(($1 - 1)); fi; }
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }
case $sender in
  blast) ;;
  tcpreplay) command -v tcpreplay >/dev/null || { echo "needs tcpreplay (apt-get install tcpreplay)" >&2; exit 1; } ;;
  *) echo "SENDER must be blast or tcpreplay, not $sender" >&2; exit 1 ;;
esac
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
[ "$sender" = blast ] && (cd "$repo" && go build -o "$tmp/blast" ./bench/capture/blast)

ip netns add "$a"; ip netns add "$b"
ip link add "$va" netns "$a" type veth peer name "$vb" netns "$b"
for ns in "$a" "$b"; do
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$a" link set "$va" up; ip -n "$b" link set "$vb" up
if [ "${RX_ON_READER:-0}" = 1 ]; then
  ip netns exec "$b" sh -c "echo 1 > /sys/class/net/$vb/queues/rx-0/rps_cpus"
  echo "receive path: RPS to CPU 0 (the reader's core)"
fi
# a larger backlog, so that the kernel drops as little as it can
sysctl -q -w net.core.netdev_max_backlog=65536 || true

echo "capture: $pcap ($(stat -c %s "$pcap") bytes); mlads: $mlads; sender: $sender on CPU 1; readers pinned (capture.cpus): $([ "$pin" = 1 ] && echo "yes, socket i on CPU i" || echo no)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
[ -n "$rates" ] && printf '%-7s %-9s %10s %10s %10s %9s %9s %9s %8s %12s\n' fanout rate sent sent/s received kernel ring pipeline cpu-s frames/cpu-s

best1=0 best2=0 any1=0 any2=0 perbest=0 loss1="" loss2="" top1=0 top2=0
rxdrop() { ip netns exec "$b" cat /sys/class/net/"$vb"/statistics/rx_dropped; }
# losses sets received and ring from the capture's summary, and kernel: the
# interface's rx_dropped since rx0, or what else of sent never reached the
# socket ("frames received" counts the ring's drops too: tp_packets).
losses() {
  local line missing
  line=$(grep -E "^mlads: $vb \(" "$tmp/capture.err")
  received=$(sed -E 's/.*: ([0-9]+) frames received.*/\1/' <<<"$line")
  ring=$(sed -E 's/.*ring ([0-9]+).*/\1/' <<<"$line")
  kernel=$(( $(rxdrop) - rx0 ))
  missing=$(( sent - received ))
  if [ "$missing" -gt "$kernel" ]; then kernel=$missing; fi
}
for fanout in 1 2; do
  cpus=0; [ "$fanout" = 2 ] && cpus=0-1
  for rate in $rates; do
    rx0=$(rxdrop)
    ip netns exec "$b" env MLADS_CAPTURE_RING_MB="${RING_MB:-64}" MLADS_CAPTURE_CPUS="$(pincpus "$fanout")" GOMAXPROCS="$fanout" taskset -c "$cpus" /usr/bin/time -f '%U %S' -o "$tmp/time" "$mlads" capture -i "$vb" --fanout "$fanout" \
      --for "$((secs + 2 + ${RING_MB:-64} / 128))s" > /dev/null 2> "$tmp/capture.err" &
    cap=$!
    sleep 1
    if [ "$sender" = blast ]; then
      pace=(); [ "$rate" != topspeed ] && pace=(-pps "$rate")
      # blast waits until the reader (time's child) is idle: its ring is allocated
      reader=$(pgrep -P "$cap" || echo 0)
      ip netns exec "$a" taskset -c 1 "$tmp/blast" -i "$va" "${pace[@]}" -for "${secs}s" -ready "$reader" "$pcap" \
        > "$tmp/replay.out" 2>&1 || { cat "$tmp/replay.out" >&2; exit 1; }
      sent=$(sed -nE 's/^blast: sent ([0-9]+) packets.*/\1/p' "$tmp/replay.out")
      pps=$(sed -nE 's/^blast: .*: ([0-9.]+) pps.*/\1/p' "$tmp/replay.out")
    else
      if [ "$rate" = topspeed ]; then speed=(--topspeed); else speed=(--pps="$rate"); fi
      ip netns exec "$a" taskset -c 1 tcpreplay -q -i "$va" "${speed[@]}" --loop=0 --duration="$secs" --preload-pcap "$pcap" \
        > "$tmp/replay.out" 2>&1 || true
      sent=$(grep -oE 'Actual: [0-9]+ packets' "$tmp/replay.out" | grep -oE '[0-9]+' || echo 0)
      pps=$(grep -oE 'Rated: [0-9.]+ Bps, [0-9.]+ Mbps, [0-9.]+ pps' "$tmp/replay.out" | grep -oE '[0-9.]+ pps' | cut -d' ' -f1 || echo 0)
    fi
    wait "$cap" || { cat "$tmp/capture.err" >&2; exit 1; }
    losses
    cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$tmp/time")
    per=$(awk -v r="$received" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0 ? r / c : 0) }')
    printf '%-7s %-9s %10s %10.0f %10s %9s %9s %9s %8s %12s\n' "$fanout" "$rate" "$sent" "${pps:-0}" "$received" "$kernel" "$ring" 0 "$cpu" "$per"
    if [ "$fanout" = 1 ] && [ "$per" -gt "$perbest" ]; then perbest=$per; fi
    if [ "$kernel" = 0 ] && [ "$ring" = 0 ] && [ "$sent" -gt 0 ]; then
      r=${pps%.*}
      if [ "$fanout" = 1 ] && [ -z "$loss1" ] && [ "$r" -gt "$best1" ]; then best1=$r; fi
      if [ "$fanout" = 2 ] && [ -z "$loss2" ] && [ "$r" -gt "$best2" ]; then best2=$r; fi
      if [ "$fanout" = 1 ] && [ "$r" -gt "$any1" ]; then any1=$r; fi
      if [ "$fanout" = 2 ] && [ "$r" -gt "$any2" ]; then any2=$r; fi
    elif [ "$sent" -gt 0 ]; then
      what="at $rate (sent $(printf '%.0f' "${pps:-0}")/s): kernel $kernel, ring $ring"
      if [ "$fanout" = 1 ] && [ -z "$loss1" ]; then loss1=$what; fi
      if [ "$fanout" = 2 ] && [ -z "$loss2" ]; then loss2=$what; fi
    fi
    if [ "$rate" = topspeed ]; then
      if [ "$fanout" = 1 ]; then top1=$(printf '%.0f' "${pps:-0}"); else top2=$(printf '%.0f' "${pps:-0}"); fi
    fi
  done
done

# Drain: the reader alone on its core(s). blast stops the reader, sends
# DRAIN_SECONDS at top speed into its ring (DRAIN_RING_MB per socket: sized so
# that nothing is dropped), continues it and times how long it takes to
# read the ring empty (bench/capture/blast/drain.go). No sender competes,
# so this is the reader's own rate, end to end from a real AF_PACKET ring
# through the decoder and the flow table: what it holds when the kernel
# delivers faster than one spare core lets a sender send here.
drain_secs=${DRAIN_SECONDS:-2}
ring_mb=${DRAIN_RING_MB:-1024}
drain1=0 drain2=0 drain1cpu=0
if [ "$drain_secs" != 0 ]; then
  echo
  echo "drain: ${drain_secs}s sent into a stopped reader (ring ${ring_mb} MiB per socket), then read empty"
  printf '%-7s %10s %10s %9s %9s %8s %8s %12s %12s\n' fanout sent received kernel ring wall-s cpu-s frames/s frames/cpu-s
  for run in $(seq "${DRAIN_RUNS:-3}"); do
  for fanout in 1 2; do
    cpus=0; [ "$fanout" = 2 ] && cpus=0-1
    rx0=$(rxdrop)
    ip netns exec "$b" env MLADS_CAPTURE_RING_MB="$ring_mb" MLADS_CAPTURE_CPUS="$(pincpus "$fanout")" GOMAXPROCS="$fanout" taskset -c "$cpus" "$mlads" capture -i "$vb" --fanout "$fanout" \
      --for 120s > /dev/null 2> "$tmp/capture.err" &
    cap=$!
    # ip netns exec, env and taskset exec one another: $cap becomes mlads
    pid=$cap
    while [ "$(readlink /proc/"$pid"/exe 2>/dev/null)" != "$(readlink -f "$mlads")" ]; do sleep 0.05; done
    ip netns exec "$a" taskset -c 1 "$tmp/blast" -i "$va" -for "${drain_secs}s" -drain "$pid" "$pcap" \
      > "$tmp/replay.out" 2>&1 || { cat "$tmp/replay.out" >&2; kill -INT "$pid"; exit 1; }
    kill -INT "$pid"
    wait "$cap" || { cat "$tmp/capture.err" >&2; exit 1; }
    sent=$(sed -nE 's/^blast: sent ([0-9]+) packets.*/\1/p' "$tmp/replay.out")
    wall=$(sed -nE 's/^blast: drained by [0-9]+ in ([0-9.]+)s of wall time.*/\1/p' "$tmp/replay.out")
    cpu=$(sed -nE 's/^blast: drained .*, ([0-9.]+)s of CPU time.*/\1/p' "$tmp/replay.out")
    losses
    rate=$(awk -v r="$received" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0 ? r / w : 0) }')
    percpu=$(awk -v r="$received" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0 ? r / c : 0) }')
    printf '%-7s %10s %10s %9s %9s %8s %8s %12s %12s\n' "$fanout" "$sent" "$received" "$kernel" "$ring" "$wall" "$cpu" "$rate" "$percpu"
    if [ "$kernel" != 0 ] || [ "$ring" != 0 ]; then
      echo "drain: frames lost while the reader was stopped: raise DRAIN_RING_MB or lower DRAIN_SECONDS; the rate above is not valid" >&2
      rate=0 percpu=0
    fi
    # the best run: the one other processes on the shared machine took the
    # reader's core from least (wall-s near cpu-s / fanout)
    if [ "$fanout" = 1 ]; then
      [ "$rate" -gt "$drain1" ] && drain1=$rate
      [ "$percpu" -gt "$drain1cpu" ] && drain1cpu=$percpu
    else
      [ "$rate" -gt "$drain2" ] && drain2=$rate
    fi
  done
  done
fi

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
if [ -n "$rates" ]; then
  echo "SUMMARY: highest zero-drop rate below the first loss, one socket on one core: $best1 packets/s (any step: $any1)"
  echo "SUMMARY: highest zero-drop rate below the first loss, fanout 2 on two cores:  $best2 packets/s (any step: $any2)"
  if [ "$best1" -gt 0 ]; then
    echo "SUMMARY: fanout 2 / fanout 1 = $(awk -v a="$best2" -v b="$best1" 'BEGIN { printf "%.2f", a / b }')"
  fi
  echo "SUMMARY: first loss, one core: ${loss1:-none}"
  echo "SUMMARY: first loss, fanout 2:  ${loss2:-none}"
  echo "SUMMARY: sender ($sender, CPU 1, veth receive path on the same CPU) at top speed: $top1 packets/s (fanout 1 run), $top2 packets/s (fanout 2 run)"
  if [ "${RX_ON_READER:-0}" = 1 ]; then
    echo "SUMMARY: reader's CPU time (user+sys of mlads capture, with the receive softirq it was interrupted by, not the part"
    echo "SUMMARY: that ran while it slept): at most $perbest frames per CPU-second on one core"
  else
    echo "SUMMARY: reader's CPU time (user+sys of mlads capture; the copy into its ring is the sender CPU's softirq, not counted):"
    echo "SUMMARY: at most $perbest frames per reader CPU-second on one core, the reader's projected one-core ceiling"
  fi
  echo "SUMMARY: a rate is zero-drop only when the sender reached it (see sent/s): with no loss at top speed, the sender and"
  echo "SUMMARY: the veth path, not the reader, set the limit"
fi
if [ "$drain_secs" != 0 ]; then
  echo "SUMMARY: drain (reader alone, ring filled while it was stopped, no frame lost; best of ${DRAIN_RUNS:-3}; readers pinned: $([ "$pin" = 1 ] && echo yes || echo no)): one socket on one core"
  echo "SUMMARY: $drain1 frames/s of wall time ($drain1cpu per reader CPU-second), fanout 2 on two cores $drain2 frames/s$( [ "$drain1" -gt 0 ] && awk -v a="$drain2" -v b="$drain1" 'BEGIN { printf " (ratio %.2f)", a / b }')"
fi
