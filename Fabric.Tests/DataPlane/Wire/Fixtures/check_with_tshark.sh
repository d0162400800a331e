#!/bin/sh
# Decodes every fixture with tshark, checksum validation on; prints one summary line per frame
# and fails if tshark reports a bad checksum or a malformed packet.
set -e
dir=$(mktemp -d)
python3 "$(dirname "$0")/make_fixtures.py" | while read -r name hex; do
  echo "$hex" | sed 's/../& /g; s/^/000000 /' > "$dir/$name.txt"
  text2pcap -q "$dir/$name.txt" "$dir/$name.pcap" >/dev/null 2>&1
  out=$(tshark -r "$dir/$name.pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE \
        -d udp.port==6635,mpls -o mpls.flowlabel_in_mpls_header:TRUE -V 2>&1)
  summary=$(tshark -r "$dir/$name.pcap" -d udp.port==6635,mpls -T fields -e frame.protocols 2>/dev/null)
  if echo "$out" | grep -Eiq "\[Bad|incorrect|Malformed"; then echo "FAIL $name"; echo "$out" | grep -Ei "bad|incorrect|malformed"; exit 1; fi
  echo "ok   $name  $summary"
done
rm -rf "$dir"
