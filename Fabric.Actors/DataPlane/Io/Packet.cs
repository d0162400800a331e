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

    /// <summary>
    /// True when the frame's IPv4 and TCP/UDP checksums are known to be right: the port finished
    /// or computed them itself (a TAP's partial checksums and the segments it cuts from a
    /// super-frame), or the host said it had checked them (virtio DATA_VALID). A TAP then writes a
    /// run of such TCP segments as one super-frame with a partial checksum without summing each
    /// segment again. Every stage that rewrites a covered field updates the checksums (RFC 1624),
    /// so a frame keeps the mark through the gateway; frames from the underlay never have it.
    /// </summary>
    public bool ChecksumsValid { get; set; }

    /// <summary>
    /// Non-zero for a TCPv4 super-frame kept whole (<see cref="PacketBatch.CommitSuperFrame"/>): the
    /// payload size of each segment it stands for (virtio gso_size). Its TCP checksum field holds
    /// the folded pseudo-header sum (a partial checksum, completed by whoever cuts or finally
    /// receives it), so a stage that rewrites its addresses or ports writes that sum again
    /// (Wire/TcpOffload.cs, <c>TcpSuperFrame</c>). 0 for every frame that fits a slot.
    /// </summary>
    public ushort GsoSize { get; set; }

    /// <summary>Flow hash computed by the flow stage (0 = not computed).</summary>
    public uint FlowHash { get; set; }

    /// <summary>
    /// Underlay peer: the source of a frame received on a <see cref="UdpUnderlayPort"/>, the
    /// destination of a frame sent on one. Unused by other ports.
    /// </summary>
    public UnderlayEndpoint Peer { get; set; }
}
