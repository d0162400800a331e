using System.Net.NetworkInformation;
using System.Net.Sockets;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// What fits through a PW: the underlay's MTU (read from the interface that holds the node's
/// underlay address) less what the PW adds in front of the CE's IP packet, capped by the PW's
/// MTU from the intent (RFC 4447 §5.1: the attachment circuit's IP MTU, 1500 when unset). The
/// attachment circuit's TAP gets that MTU, so the CE's own stack (and its TCP MSS) keeps every
/// packet small enough: nothing is IP-fragmented on the underlay (its sockets also set DF).
/// </summary>
public static class PwMtu
{
    /// <summary>The attachment MTU when neither the intent nor the underlay asks for less.</summary>
    public const int DefaultMtu = 1500;

    /// <summary>Outer IPv4 (20) + UDP (8) + PW label (4), RFC 7510 MPLS-in-UDP.</summary>
    private const int OuterBytes = 20 + 8 + 4;

    /// <summary>
    /// Bytes a PW puts around the CE's IP packet on the underlay: outer IPv4, UDP, the PW label,
    /// the flow label (RFC 6391) and control word (RFC 4385) when used, and the CE's Ethernet header.
    /// </summary>
    public static int Overhead(bool controlWord, bool flowLabel) =>
        OuterBytes + (flowLabel ? 4 : 0) + (controlWord ? PwControlWordLayout.Length : 0) + EthernetLayout.HeaderLength;

    /// <summary>The attachment MTU: the intent's (or 1500), lowered to what the underlay carries.</summary>
    public static int Attachment(int? intentMtu, int? underlayMtu, int overhead)
    {
        int wanted = intentMtu ?? DefaultMtu;
        return underlayMtu is { } u ? Math.Min(wanted, u - overhead) : wanted;
    }

    /// <summary>The MTU of the interface that holds <paramref name="address"/> (or whose prefix contains it); null if none does.</summary>
    public static int? UnderlayMtu(Ipv4Address address)
    {
        var target = address.ToIPAddress();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            IPInterfaceProperties properties;
            try
            {
                properties = nic.GetIPProperties();
            }
            catch (NetworkInformationException)
            {
                continue;
            }

            foreach (var unicast in properties.UnicastAddresses)
            {
                if (unicast.Address.AddressFamily != AddressFamily.InterNetwork)
                {
                    continue;
                }

                var prefix = Ipv4Address.FromIPAddress(unicast.Address);
                int length = unicast.PrefixLength;
                uint mask = length == 0 ? 0 : uint.MaxValue << (32 - length);
                if ((prefix.ToUInt32() & mask) == (address.ToUInt32() & mask) || unicast.Address.Equals(target))
                {
                    try
                    {
                        return properties.GetIPv4Properties()?.Mtu;
                    }
                    catch (NetworkInformationException)
                    {
                        return null;
                    }
                }
            }
        }

        return null;
    }
}
