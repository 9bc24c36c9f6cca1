#!/usr/bin/env bash
# Generates one capture per nmap scan type, for the stealth-scan tests of
# internal/detect/behavior (TestNmapCaptures). Run as root on Linux with nmap,
# tcpdump and iproute2 (Debian: nmap tcpdump iproute2):
#
#   testdata/nmap/gen.sh
#
# Two network namespaces joined by a veth pair: mlads-scan (10.77.0.1) scans
# mlads-target (10.77.0.2), where a few services listen. tcpdump records the
# scan on the target's side into testdata/nmap/<type>.pcap. Only these two
# namespaces' own addresses are ever scanned.
set -euo pipefail
cd "$(dirname "$0")"
scan=mlads-scan target=mlads-target
cleanup() { ip netns del "$scan" 2>/dev/null || true; ip netns del "$target" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$scan"; ip netns add "$target"
ip link add veth-scan type veth peer name veth-target
ip link set veth-scan netns "$scan"; ip link set veth-target netns "$target"
ip -n "$scan" addr add 10.77.0.1/24 dev veth-scan; ip -n "$target" addr add 10.77.0.2/24 dev veth-target
for ns in "$scan" "$target"; do ip -n "$ns" link set lo up; done
ip -n "$scan" link set veth-scan up; ip -n "$target" link set veth-target up
# no offloads, so checksums in the capture are real
ip netns exec "$scan" ethtool -K veth-scan tx off rx off >/dev/null 2>&1 || true
ip netns exec "$target" ethtool -K veth-target tx off rx off >/dev/null 2>&1 || true

# a few open TCP and UDP ports on the target
pids=()
for p in 22 80 443; do ip netns exec "$target" python3 -m http.server "$p" --bind 10.77.0.2 >/dev/null 2>&1 & pids+=($!); done
ip netns exec "$target" python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.77.0.2", 53)); [s.recvfrom(2048) for _ in iter(int, 1)]' & pids+=($!)
sleep 1

run() { # name, nmap flags...
  local name=$1; shift
  ip netns exec "$target" tcpdump -i veth-target -w "$name.pcap" -U -s 256 not arp >/dev/null 2>&1 & local td=$!
  sleep 0.5
  ip netns exec "$scan" nmap -n -Pn --max-retries 0 -T4 "$@" 10.77.0.2 >/dev/null
  sleep 0.5
  kill "$td"; wait "$td" 2>/dev/null || true
  echo "$name.pcap: $(stat -c %s "$name.pcap") bytes"
}
run syn -sS -p 1-200
run connect -sT -p 1-200
run fin -sF -p 1-200
run null -sN -p 1-200
run xmas -sX -p 1-200
run ack -sA -p 1-200
run window -sW -p 1-200
run maimon -sM -p 1-200
run udp -sU -p 1-60
run ipproto -sO -p 1-60
kill "${pids[@]}" 2>/dev/null || true
