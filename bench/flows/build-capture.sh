#!/usr/bin/env bash
# Builds a multi-million-packet Ethernet capture for throughput runs from the
# shared captures, as ../shared/data/README.md suggests: every Ethernet
# capture of zeek-btest/traces and ndpi-pcaps appended into one file, then
# that file repeated with shifted timestamps.
#
#   bench/flows/build-capture.sh OUT.pcap [REPEATS]   (default 20 repeats, about 3.5 M packets)
#
# Needs mergecap, editcap and capinfos (Debian: wireshark-common / tshark).
set -euo pipefail
out=${1:?usage: build-capture.sh OUT.pcap [REPEATS]}
repeats=${2:-20}
data=$(cd "$(dirname "$0")/../../../shared/data" 2>/dev/null && pwd) || { echo "no ../shared/data" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

list="$tmp/list"
: > "$list"
while IFS= read -r -d '' f; do
  # capinfos -T -m -Q -E: encapsulation; keep the Ethernet ones that read cleanly
  enc=$(capinfos -T -r -E "$f" 2>/dev/null | cut -f2) || continue
  [ "$enc" = "ether" ] && echo "$f" >> "$list"
done < <(find "$data/zeek-btest/traces" "$data/ndpi-pcaps" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 | sort -z)
echo "$(wc -l < "$list") Ethernet captures" >&2

# Convert each to plain pcap (mergecap writes pcapng otherwise) and append.
xargs -d '\n' mergecap -F pcap -a -w "$tmp/base.pcap" < "$list"
capinfos -c -M "$tmp/base.pcap" | tail -1 >&2

# Repeat with timestamps shifted by one day each time, so flows of one copy
# never meet those of the next in the flow table.
parts=()
for i in $(seq 0 $((repeats - 1))); do
  editcap -F pcap -t $((i * 86400)) "$tmp/base.pcap" "$tmp/part$i.pcap"
  parts+=("$tmp/part$i.pcap")
done
mergecap -F pcap -a -w "$out" "${parts[@]}"
capinfos -c -s -M "$out" >&2
