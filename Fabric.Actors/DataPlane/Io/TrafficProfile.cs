using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// What a <see cref="SimulatedPort"/> generates: <see cref="Flows"/> IPv4 flows from
/// <see cref="SourceMac"/> to <see cref="DestinationMac"/>, flow <c>k</c> going from
/// <c>SourceAddress + k</c>, port <c>SourcePort + k</c>, to <see cref="DestinationAddress"/>:<see cref="DestinationPort"/>.
/// Frames pick a flow and a length at random from <see cref="Seed"/>, so a run is reproducible.
/// </summary>
public sealed record TrafficProfile
{
    /// <summary>Number of distinct flows (5-tuples). Default 16.</summary>
    public int Flows { get; init; } = 16;

    /// <summary>
    /// Ethernet frame lengths without FCS, chosen uniformly per frame. Default { 60 } (a 64-byte
    /// frame on the wire). Each must hold the headers (42 bytes for UDP, 54 for TCP).
    /// </summary>
    public IReadOnlyList<int> FrameLengths { get; init; } = [EthernetLayout.MinimumFrameLength];

    /// <summary>Transport of every flow: UDP (default) or TCP (ACK|PSH data segments; 54-byte headers).</summary>
    public IpProtocol Protocol { get; init; } = IpProtocol.Udp;

    /// <summary>Frames per second the port releases; 0 = as fast as asked. Default 0.</summary>
    public double FramesPerSecond { get; init; }

    /// <summary>Stop after this many frames; 0 = never. Default 0.</summary>
    public long TotalFrames { get; init; }

    /// <summary>Seed of the flow and length choices. Default 1.</summary>
    public int Seed { get; init; } = 1;

    public MacAddress SourceMac { get; init; } = MacAddress.Parse("02:00:00:00:0a:01");

    public MacAddress DestinationMac { get; init; } = MacAddress.Parse("02:00:00:00:0a:02");

    /// <summary>Source address of flow 0; flow k uses this + k. Default 10.1.0.1.</summary>
    public Ipv4Address SourceAddress { get; init; } = Ipv4Address.Parse("10.1.0.1");

    public Ipv4Address DestinationAddress { get; init; } = Ipv4Address.Parse("10.2.0.1");

    /// <summary>Source port of flow 0; flow k uses this + k. Default 10000.</summary>
    public ushort SourcePort { get; init; } = 10000;

    public ushort DestinationPort { get; init; } = 5001;

    /// <summary>
    /// An 802.1Q tag (priority 0) on every frame, inserted after the MACs: each frame is then
    /// 4 bytes longer than its <see cref="FrameLengths"/> entry. Default none (untagged).
    /// </summary>
    public VlanId? Vlan { get; init; }
}
