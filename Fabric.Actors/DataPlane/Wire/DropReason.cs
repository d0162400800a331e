namespace Fabric.Actors.DataPlane.Wire;

// The Wire contract, written once for every protocol file in this folder:
//
// * A view (`XxxView`, a readonly ref struct over ReadOnlySpan<byte>) is obtained only through
//   `XxxView.TryParse(buffer, out view, out reason)`. TryParse checks every length the accessors
//   rely on; once it returned true, no accessor can fail or read out of range. It never throws:
//   bad bytes give `false` and a named DropReason.
// * Checksums are not verified by TryParse (a forwarding element does not need them, a
//   terminating one asks `IsChecksumValid`); `XxxRepr.TryParse(buffer, ...)` verifies them.
// * Numeric fields with a registry (EtherType, IP protocol, ICMP type, ARP operation, ...) are
//   enums whose unknown values are kept as they are, never rejected or thrown on.
// * A writer (`XxxWriter`, a ref struct over Span<byte>) sets fields in place; used for rewrites.
// * A repr (`XxxRepr`, a readonly record struct) is the plain value of a header, for building
//   packets: `Parse(view)`, `Emit(buffer)`, `BufferLength`. When a repr counts its payload
//   (PayloadLength/DataLength), BufferLength includes it and Emit expects the payload already in
//   place behind the header (packets are built inside out), so checksums can cover it.
//   Emit throws ArgumentException if the caller's buffer is shorter than BufferLength: that is a
//   programming error, not bad input.

/// <summary>
/// Why a frame was refused. Values below <see cref="UnknownEtherType"/> mean the bytes are
/// malformed; values from it upwards mean well-formed traffic this layer does not handle.
/// Every drop in the data plane is named and counted, so keep names specific.
/// </summary>
public enum DropReason : byte
{
    /// <summary>No drop: the frame was accepted.</summary>
    None = 0,

    // ---- malformed input ---------------------------------------------------------------
    /// <summary>The buffer ends before a header, or before the length a header claims.</summary>
    Truncated = 1,
    /// <summary>A length field is smaller than its own header or otherwise inconsistent.</summary>
    BadLength = 2,
    /// <summary>An IPv4 IHL or TCP data offset below 5 words.</summary>
    BadHeaderLength = 3,
    /// <summary>IP version other than 4, Geneve version other than 0, ACH version other than 0.</summary>
    BadVersion = 4,
    /// <summary>A header or pseudo-header checksum does not verify.</summary>
    BadChecksum = 5,
    /// <summary>A mandatory flag is missing (VXLAN "I" flag clear).</summary>
    BadFlags = 6,
    /// <summary>An IPv4, TCP, Geneve or DHCP option overruns its header, or has a bad length.</summary>
    BadOption = 7,
    /// <summary>An IPv4 fragment would end beyond 65,535 bytes.</summary>
    BadFragment = 8,
    /// <summary>DHCP message without the RFC 2131 magic cookie.</summary>
    BadMagicCookie = 9,
    /// <summary>A pseudowire control word whose first nibble is neither 0000 nor 0001.</summary>
    BadControlWord = 10,
    /// <summary>More MPLS label stack entries than we walk without seeing bottom-of-stack.</summary>
    LabelStackTooDeep = 11,
    /// <summary>More stacked 802.1Q/802.1ad tags than we walk.</summary>
    VlanStackTooDeep = 12,
    /// <summary>Fewer label stack entries than the PW's configuration requires (flow label missing).</summary>
    LabelStackTooShallow = 13,

    // ---- well-formed, but not handled here (not errors) ----------------------------------
    /// <summary>An EtherType (or 802.3 length) this layer does not parse. Not an error.</summary>
    UnknownEtherType = 128,
    /// <summary>ARP for hardware/protocol other than Ethernet/IPv4. Not an error.</summary>
    UnsupportedArpFormat = 129,
    /// <summary>A packet addressed to a UDP port or protocol this layer does not decode.</summary>
    UnexpectedPort = 130,
    /// <summary>A BOOTP message without option 53: valid BOOTP, but not DHCP.</summary>
    MissingMessageType = 131,
}

public static class DropReasonExtensions
{
    /// <summary>True when the reason means malformed bytes (as opposed to unhandled traffic).</summary>
    public static bool IsMalformed(this DropReason reason) =>
        reason != DropReason.None && reason < DropReason.UnknownEtherType;
}
