#!/usr/bin/env python3
"""Reference implementation of FlowHash.Compute, independent of the C# code, for the
known-answer values in FlowHashTests (and for any other tool that must agree with the fabric on
which PW or entropy port a flow gets). Words are composed from field values, as FlowKey.Word0..5."""
M = (1 << 64) - 1
K0, K1, K2, K3 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db, 0x8ebc6af09c88c6e3, 0x589965cc75374cc3
K4, K5, K6 = 0x1d8e4e27c47d124f, 0x9e3779b97f4a7c15, 0xd6e8feb86659fd93

def fold(x, y):
    p = x * y
    return ((p & M) ^ x) ^ ((p >> 64) ^ y)

def flow_hash(tenant, in_port, ethertype, dst_mac, src_mac, outer_vlan, inner_vlan, label,
              src_ip, dst_ip, src_port, dst_port, proto, flags):
    w = [tenant | in_port << 32 | ethertype << 48, dst_mac, src_mac,
         outer_vlan | inner_vlan << 16 | label << 32, src_ip | dst_ip << 32,
         src_port | dst_port << 16 | proto << 32 | flags << 40]
    a = fold(w[0] ^ K0, w[1] ^ K1)
    b = fold(w[2] ^ K2, w[3] ^ K3)
    c = fold(w[4] ^ K4, w[5] ^ K5)
    return fold(fold(a ^ K6, b ^ K1) ^ c, K5 ^ 48)

if __name__ == "__main__":
    # The Tcp64 fixture on port 1, tenant 7 (flags Ipv4|Transport = 0x18), and the all-zero key.
    print("%016X" % flow_hash(7, 1, 0x0800, 0x525400ABCDEF, 0x525400123456, 0, 0, 0,
                              0x0A000001, 0x0A000002, 43210, 80, 6, 0x18))
    print("%016X" % flow_hash(*[0] * 14))
