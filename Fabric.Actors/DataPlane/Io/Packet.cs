using System.Runtime.InteropServices;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// Per-frame metadata kept beside the bytes in a <see cref="PacketBatch"/>. The frame itself is
/// <c>batch.Buffer[Offset .. Offset + Length]</c>, always inside the frame's own slot; the bytes
/// between the slot start and <see cref="Offset"/> are headroom an encapsulating stage may claim
/// with <see cref="PacketBatch.PushHeader"/> without copying the frame.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public struct Packet
{
    /// <summary>Absolute offset of the first frame byte in the batch buffer.</summary>
    public int Offset { get; set; }

    /// <summary>Frame length in bytes.</summary>
    public int Length { get; set; }

    /// <summary>Id of the port the frame arrived on (0 when generated inside the node).</summary>
    public ushort IngressPort { get; set; }

    /// <summary>Tenant the frame belongs to, once a stage has classified it (0 = none yet).</summary>
    public uint Tenant { get; set; }

    /// <summary>True for frames of the ghost network: they must never reach a live port.</summary>
    public bool IsGhost { get; set; }

    /// <summary>Flow hash computed by the flow stage (0 = not computed).</summary>
    public uint FlowHash { get; set; }

    /// <summary>
    /// Underlay peer: the source of a frame received on a <see cref="UdpUnderlayPort"/>, the
    /// destination of a frame sent on one. Unused by other ports.
    /// </summary>
    public UnderlayEndpoint Peer { get; set; }
}
