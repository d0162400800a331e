using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Flow;

/// <summary>What the extractor found, beyond the field values themselves.</summary>
[Flags]
public enum FlowKeyFlags : byte
{
    None = 0,
    /// <summary>At least one 802.1Q/802.1ad tag was present (OuterVlan holds the first).</summary>
    Vlan = 0x01,
    /// <summary>Two tags were present (InnerVlan holds the second).</summary>
    QinQ = 0x02,
    /// <summary>An MPLS label stack was present (MplsLabel holds the top label).</summary>
    Mpls = 0x04,
    /// <summary>The IPv4 fields are set (an IPv4 header was parsed, directly or under MPLS).</summary>
    Ipv4 = 0x08,
    /// <summary>The L4 fields are set (TCP/UDP ports, or ICMP type/code and identifier).</summary>
    Transport = 0x10,
    /// <summary>
    /// The datagram is an IPv4 fragment, first or later: one flag for both, so every fragment of
    /// a datagram has the same key (and hash, and path). Ipv4View tells first from later.
    /// </summary>
    Fragment = 0x20,
    /// <summary>ARP: the address fields hold sender/target protocol addresses, IpProtocol the opcode's low byte.</summary>
    Arp = 0x40,
}

/// <summary>
/// The fixed flow key, filled in one bounded pass by <see cref="FlowKeyExtractor"/> (the shape of
/// Open vSwitch's struct flow, cut down to what Fabric forwards on). 48 bytes, six 64-bit words,
/// no padding: equality and <see cref="FlowHash"/> read it as words, so every byte is a field and
/// an unset field is zero. A mutable struct on purpose: the extractor fills it in place.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FlowKey : IEquatable<FlowKey>
{
    public const int SizeInBytes = 48;

    // ---- word 0: where the frame came from -------------------------------------------------
    /// <summary>Tenant (VNI) the frame belongs to: given by the ingress port or tunnel, never parsed.</summary>
    public uint Tenant;
    /// <summary>Fabric port id the frame entered on.</summary>
    public ushort IngressPort;
    /// <summary>EtherType after the VLAN tags (MPLS EtherType when a label stack follows).</summary>
    public EtherType EtherType;

    // ---- words 1-2: L2 -----------------------------------------------------------------------
    /// <summary>Ethernet destination address.</summary>
    public MacAddress Destination;
    /// <summary>Ethernet source address.</summary>
    public MacAddress Source;

    // ---- word 3: tags and labels --------------------------------------------------------------
    /// <summary>VLAN id of the first (outer: S-tag under QinQ) tag; 0 when untagged.</summary>
    public VlanId OuterVlan;
    /// <summary>VLAN id of the second (inner: C-tag) tag; 0 without QinQ.</summary>
    public VlanId InnerVlan;
    /// <summary>Top MPLS label; 0 without a label stack (see <see cref="FlowKeyFlags.Mpls"/>).</summary>
    public MplsLabel MplsLabel;

    // ---- word 4: L3 ------------------------------------------------------------------------------
    /// <summary>IPv4 source (ARP: sender protocol address).</summary>
    public Ipv4Address SourceAddress;
    /// <summary>IPv4 destination (ARP: target protocol address).</summary>
    public Ipv4Address DestinationAddress;

    // ---- word 5: L4 and flags -----------------------------------------------------------------
    /// <summary>TCP/UDP source port; ICMP: type &lt;&lt; 8 | code. 0 for any fragment.</summary>
    public ushort SourcePort;
    /// <summary>TCP/UDP destination port; ICMP echo/timestamp: identifier. 0 for any fragment.</summary>
    public ushort DestinationPort;
    /// <summary>IPv4 protocol (ARP: low byte of the opcode).</summary>
    public IpProtocol IpProtocol;
    /// <summary>Which parts were present; fragment flags.</summary>
    public FlowKeyFlags Flags;
    /// <summary>Always zero: keeps the key at six whole words.</summary>
    private readonly ushort _reserved;

    /// <summary>ICMP: the message type (kept in the high byte of <see cref="SourcePort"/>).</summary>
    public readonly Icmpv4Type IcmpType => (Icmpv4Type)(SourcePort >> 8);

    /// <summary>ICMP: the <see cref="SourcePort"/> value of a message of <paramref name="type"/> and <paramref name="code"/>.</summary>
    public static ushort IcmpTypeCode(Icmpv4Type type, byte code = 0) => (ushort)((byte)type << 8 | code);

    public readonly bool IsFragment => (Flags & FlowKeyFlags.Fragment) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref readonly ulong Word(in FlowKey key, int index) =>
        ref Unsafe.Add(ref Unsafe.As<FlowKey, ulong>(ref Unsafe.AsRef(in key)), index);

    // The key as six words composed from field values, not read from memory: the flow hash is
    // then defined by the fields whatever the machine's byte order, and reading fields back at
    // the width they were written avoids store-forwarding stalls right after extraction.
    // On a little-endian machine each equals the in-memory word.
    internal readonly ulong Word0 => Tenant | ((ulong)IngressPort << 32) | ((ulong)(ushort)EtherType << 48);
    internal readonly ulong Word1 => Destination.ToUInt64();
    internal readonly ulong Word2 => Source.ToUInt64();
    internal readonly ulong Word3 => OuterVlan.Value | ((ulong)InnerVlan.Value << 16) | ((ulong)MplsLabel.Value << 32);
    internal readonly ulong Word4 => SourceAddress.ToUInt32() | ((ulong)DestinationAddress.ToUInt32() << 32);
    internal readonly ulong Word5 => SourcePort | ((ulong)DestinationPort << 16) | ((ulong)(byte)IpProtocol << 32) | ((ulong)(byte)Flags << 40);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Equals(FlowKey other) => Equals(in this, in other);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Equals(in FlowKey a, in FlowKey b) =>
        ((Word(a, 0) ^ Word(b, 0)) | (Word(a, 1) ^ Word(b, 1)) | (Word(a, 2) ^ Word(b, 2))
         | (Word(a, 3) ^ Word(b, 3)) | (Word(a, 4) ^ Word(b, 4)) | (Word(a, 5) ^ Word(b, 5))) == 0;

    public override readonly bool Equals(object? obj) => obj is FlowKey other && Equals(other);
    public override readonly int GetHashCode() => (int)FlowHash.Compute(in this);
    public static bool operator ==(FlowKey left, FlowKey right) => Equals(in left, in right);
    public static bool operator !=(FlowKey left, FlowKey right) => !Equals(in left, in right);

    public override readonly string ToString()
    {
        var l2 = $"tenant={Tenant} in={IngressPort} {Source}->{Destination} type=0x{(ushort)EtherType:x4}";
        if ((Flags & FlowKeyFlags.Vlan) != 0)
        {
            l2 += $" vlan={OuterVlan}" + ((Flags & FlowKeyFlags.QinQ) != 0 ? $"/{InnerVlan}" : "");
        }
        if ((Flags & FlowKeyFlags.Mpls) != 0)
        {
            l2 += $" label={MplsLabel}";
        }
        if ((Flags & (FlowKeyFlags.Ipv4 | FlowKeyFlags.Arp)) != 0)
        {
            l2 += $" {SourceAddress}->{DestinationAddress} proto={(byte)IpProtocol}";
        }
        if ((Flags & FlowKeyFlags.Transport) != 0)
        {
            l2 += $" ports={SourcePort}->{DestinationPort}";
        }
        if (IsFragment)
        {
            l2 += " frag";
        }
        return l2;
    }
}
