#!/usr/bin/env python3
"""Builds the hex frames of WireFixtures.cs, independently of the C# code under test.

Checksums are computed here (RFC 1071) and every frame is decoded by tshark with checksum
validation on (see check_with_tshark.sh), so a fixture is only as trusted as two independent
implementations agreeing. Run: python3 make_fixtures.py > fixtures.txt
"""
import struct

def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def mac(s): return bytes(int(x, 16) for x in s.split(":"))
def ip(s): return bytes(int(x) for x in s.split("."))

def eth(dst, src, etype, payload): return mac(dst) + mac(src) + struct.pack("!H", etype) + payload
def vlan(pcp, vid, etype): return struct.pack("!HH", (pcp << 13) | vid, etype)

def ipv4(src, dst, proto, payload, ttl=64, ident=0, flags_frag=0x4000, options=b"", tos=0):
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, ihl * 4 + len(payload), ident, flags_frag, ttl, proto, 0, ip(src), ip(dst)) + options
    c = csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload

def pseudo(src, dst, proto, length): return ip(src) + ip(dst) + struct.pack("!BBH", 0, proto, length)

def udp(src, dst, sport, dport, payload, checksum=True):
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    c = 0
    if checksum:
        c = csum(pseudo(src, dst, 17, length) + hdr + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, c) + payload

def tcp(src, dst, sport, dport, seq, ack, flags, window, payload=b"", options=b""):
    off = 5 + len(options) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, window, 0, 0) + options
    c = csum(pseudo(src, dst, 6, len(hdr) + len(payload)) + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload

def icmp(type_, code, rest, data):
    msg = struct.pack("!BBHI", type_, code, 0, rest) + data
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]

def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac(sha) + ip(spa) + mac(tha) + ip(tpa)

def pad60(frame): return frame + b"\0" * max(0, 60 - len(frame))

def mpls(label, tc, s, ttl): return struct.pack("!I", (label << 12) | (tc << 9) | (s << 8) | ttl)

A = "52:54:00:12:34:56"
B = "52:54:00:ab:cd:ef"
BC = "ff:ff:ff:ff:ff:ff"
frames = {}

frames["ArpRequest"] = pad60(eth(BC, A, 0x0806, arp(1, A, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.2")))
frames["ArpReply"] = pad60(eth(A, B, 0x0806, arp(2, B, "10.0.0.2", A, "10.0.0.1")))

ping_data = bytes.fromhex("5f1a2b3c00000000" "a086010000000000") + bytes(range(0x10, 0x38))  # Linux ping -s 56: timeval + 0x10..0x37
frames["IcmpEchoRequest"] = eth(B, A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 1, icmp(8, 0, (0x0B1D << 16) | 1, ping_data), ident=0x1c46))
frames["IcmpEchoReply"] = eth(A, B, 0x0800, ipv4("10.0.0.2", "10.0.0.1", 1, icmp(0, 0, (0x0B1D << 16) | 1, ping_data), ident=0x8a01, flags_frag=0))

probe = ipv4("10.0.0.1", "8.8.8.8", 17, udp("10.0.0.1", "8.8.8.8", 33434, 33434, b"\0" * 32), ttl=1, ident=0x4242, flags_frag=0)
frames["IcmpTimeExceeded"] = eth(A, "52:54:00:00:00:fe", 0x0800, ipv4("10.0.0.254", "10.0.0.1", 1, icmp(11, 0, 0, probe[:28]), ttl=64, ident=0x0101, flags_frag=0))
blocked = ipv4("10.0.0.1", "10.0.0.2", 17, udp("10.0.0.1", "10.0.0.2", 40000, 9, b"discard me"), ident=0x5151)
frames["IcmpPortUnreachable"] = eth(A, B, 0x0800, ipv4("10.0.0.2", "10.0.0.1", 1, icmp(3, 3, 0, blocked), ttl=64, ident=0x0202, flags_frag=0, tos=0xc0))

frames["Udp"] = eth(B, A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udp("10.0.0.1", "10.0.0.2", 5000, 9999, b"hello fabric"), ident=0x0303))

syn_opts = bytes.fromhex("020405b4" "0402" "080a" "0001e240" "00000000" "01" "030307")
frames["TcpSyn"] = eth(B, A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcp("10.0.0.1", "10.0.0.2", 43210, 80, 0x12345678, 0, 0x02, 64240, options=syn_opts), ident=0x0404))
frames["Tcp64"] = eth(B, A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcp("10.0.0.1", "10.0.0.2", 43210, 80, 0x12345679, 0x9abcdef0, 0x18, 502, payload=b"GET / HTTP"), ident=0x0505))

router_alert = bytes.fromhex("94040000")
frames["Ipv4RouterAlert"] = eth(B, A, 0x0800, ipv4("10.0.0.1", "224.0.0.22", 17, udp("10.0.0.1", "224.0.0.22", 1000, 2000, b"opt"), ttl=1, options=router_alert, ident=0x0606, flags_frag=0))

big = udp("10.0.0.1", "10.0.0.2", 7000, 7001, bytes(i & 0xFF for i in range(1600)))
frames["Ipv4FirstFragment"] = eth(B, A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, big[:1480], ident=0x7777, flags_frag=0x2000))
frames["Ipv4LaterFragment"] = eth(B, A, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, big[1480:], ident=0x7777, flags_frag=1480 // 8))

inner_udp = ipv4("10.1.0.1", "10.1.0.2", 17, udp("10.1.0.1", "10.1.0.2", 1234, 5678, b"tagged"), ident=0x0808)
frames["VlanUdp"] = eth(B, A, 0x8100, vlan(5, 100, 0x0800) + inner_udp)
frames["QinQUdp"] = eth(B, A, 0x88A8, vlan(0, 200, 0x8100) + vlan(3, 100, 0x0800) + inner_udp)

pe1, pe2 = "02:00:00:00:01:01", "02:00:00:00:01:02"
ce_frame = frames["Udp"]
pw = mpls(1000, 0, 0, 255) + mpls(5000, 0, 1, 0) + struct.pack("!I", 0x00000001) + ce_frame  # PW label, RFC 6391 flow label, CW seq 1
frames["MplsInUdpPw"] = eth(pe2, pe1, 0x0800, ipv4("192.168.1.1", "192.168.1.2", 17, udp("192.168.1.1", "192.168.1.2", 0xC000 | 0x1234, 6635, pw), ident=0x0909))
ach = mpls(1000, 0, 1, 255) + struct.pack("!I", 0x10000007) + bytes(24)  # ACH, channel type 0x0007 (BFD)
frames["MplsInUdpAch"] = eth(pe2, pe1, 0x0800, ipv4("192.168.1.1", "192.168.1.2", 17, udp("192.168.1.1", "192.168.1.2", 0xC000 | 0x0042, 6635, ach), ident=0x0a0a))

vx = struct.pack("!II", 0x08000000, 5001 << 8) + ce_frame
frames["Vxlan"] = eth(pe2, pe1, 0x0800, ipv4("192.168.1.1", "192.168.1.2", 17, udp("192.168.1.1", "192.168.1.2", 0xC000 | 0x0777, 4789, vx), ident=0x0b0b))
gopt = struct.pack("!HBB", 0x0102, 0x80, 1) + bytes.fromhex("deadbeef")
gn = struct.pack("!BBHI", (0 << 6) | (len(gopt) // 4), 0x00, 0x6558, 7000 << 8) + gopt + ce_frame
frames["Geneve"] = eth(pe2, pe1, 0x0800, ipv4("192.168.1.1", "192.168.1.2", 17, udp("192.168.1.1", "192.168.1.2", 0xC000 | 0x0999, 6081, gn), ident=0x0c0c))

def bootp(op, xid, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, options):
    b = struct.pack("!BBBBIHH4s4s4s4s", op, 1, 6, 0, xid, 0, flags, ip(ciaddr), ip(yiaddr), ip(siaddr), ip(giaddr))
    b += mac(chaddr) + bytes(10) + bytes(64) + bytes(128) + bytes([99, 130, 83, 99]) + options + b"\xff"
    return b + bytes(max(0, 300 - len(b)))

disc_opts = bytes([53, 1, 1]) + bytes([61, 7, 1]) + mac(A) + bytes([50, 4]) + ip("10.0.0.50") + bytes([55, 5, 1, 3, 6, 51, 54])
frames["DhcpDiscover"] = eth(BC, A, 0x0800, ipv4("0.0.0.0", "255.255.255.255", 17, udp("0.0.0.0", "255.255.255.255", 68, 67, bootp(1, 0x3903F326, 0x8000, "0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0", A, disc_opts)), ttl=64, ident=0, flags_frag=0, tos=0x10))
offer_opts = (bytes([53, 1, 2]) + bytes([54, 4]) + ip("10.0.0.254") + bytes([51, 4]) + struct.pack("!I", 3600)
              + bytes([1, 4]) + ip("255.255.255.0") + bytes([3, 4]) + ip("10.0.0.254") + bytes([6, 8]) + ip("10.0.0.254") + ip("8.8.8.8"))
frames["DhcpOffer"] = eth(BC, "52:54:00:00:00:fe", 0x0800, ipv4("10.0.0.254", "255.255.255.255", 17, udp("10.0.0.254", "255.255.255.255", 67, 68, bootp(2, 0x3903F326, 0x8000, "0.0.0.0", "10.0.0.50", "10.0.0.254", "0.0.0.0", A, offer_opts)), ident=0x0d0d, flags_frag=0))

for name, f in frames.items():
    print(name, f.hex())
