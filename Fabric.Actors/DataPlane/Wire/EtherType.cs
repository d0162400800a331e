namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// IEEE 802 EtherTypes we name (https://www.iana.org/assignments/ieee-802-numbers).
/// Any other value is kept as is; values below 0x0600 are 802.3 length fields, not types.
/// </summary>
public enum EtherType : ushort
{
    Ipv4 = 0x0800,
    Arp = 0x0806,
    /// <summary>IEEE 802.1Q customer VLAN tag (C-tag).</summary>
    Vlan = 0x8100,
    Ipv6 = 0x86DD,
    MplsUnicast = 0x8847,
    MplsMulticast = 0x8848,
    /// <summary>IEEE 802.1ad service VLAN tag (S-tag, "QinQ").</summary>
    QinQ = 0x88A8,
    /// <summary>Pre-standard QinQ S-tag still seen on older switches.</summary>
    QinQLegacy = 0x9100,
    /// <summary>Transparent Ethernet Bridging: the Geneve protocol type of an Ethernet payload.</summary>
    TransparentEthernetBridging = 0x6558,
}

public static class EtherTypes
{
    /// <summary>EtherType values below this are IEEE 802.3 length fields (IEEE 802.3 clause 3.2.6).</summary>
    public const ushort MinimumEtherType = 0x0600;

    /// <summary>True for the TPIDs of 802.1Q and 802.1ad tags.</summary>
    public static bool IsVlanTag(this EtherType type) =>
        type is EtherType.Vlan or EtherType.QinQ or EtherType.QinQLegacy;

    public static bool IsMpls(this EtherType type) =>
        type is EtherType.MplsUnicast or EtherType.MplsMulticast;
}
