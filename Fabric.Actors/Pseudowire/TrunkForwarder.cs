using System.Diagnostics;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// A trunk's sending path: each CE frame gets a flow hash (<see cref="FlowKeyExtractor"/> +
/// <see cref="FlowHash"/>, ingress port and tenant left out so every node computes the same
/// value), a member, that PW's header, and goes to the underlay in the same batch, from the
/// source port its flow hash picks (RFC 7510 entropy). The member comes from the flow's pin
/// (<see cref="TrunkFlowPins"/>, least-loaded balance) or from the current
/// <see cref="TrunkSelector"/>'s table (hash balance, and perPacket spraying). The trunk actor
/// swaps the selector on every liveness transition; the sending thread reads it once per batch
/// (volatile), so a batch is never split between two active sets. Allocates nothing per frame.
/// </summary>
public sealed class TrunkForwarder
{
    private readonly PwLink[] _members;
    private readonly PwUnderlay _underlay;
    private readonly long[] _batchFrames;
    private readonly long[] _batchBytes;
    private TrunkSelector _selector;
    private uint _spray;
    // Scratch for one batch (the attachment circuit's receive thread is the only caller).
    private ulong[] _hashes = [];
    private byte[] _memberOf = [];
    private byte[] _socketOf = [];
    private ushort[] _order = [];

    public TrunkForwarder(string name, TrunkMode mode, PwLink[] members, PwUnderlay underlay, TrunkSelector initial, TrunkFlowPins? pins = null)
    {
        Name = name;
        Mode = mode;
        Pins = mode == TrunkMode.PerFlow ? pins : null;
        _members = members;
        _underlay = underlay;
        _selector = initial;
        _batchFrames = new long[members.Length];
        _batchBytes = new long[members.Length];
    }

    public string Name { get; }
    public TrunkMode Mode { get; }

    /// <summary>Least-loaded flow pins (perFlow with balance leastLoaded); null = the stateless hash table decides.</summary>
    public TrunkFlowPins? Pins { get; }

    /// <summary>Ghost trunks only: reports the member each probe takes (null on main).</summary>
    public IHopTracer? Tracer { get; init; }
    public IReadOnlyList<PwLink> Members => _members;

    /// <summary>True while at least MinActive members are up (set by the trunk actor); false drops CE frames.</summary>
    public volatile bool IsUp;

    public TrunkSelector Selector
    {
        get => Volatile.Read(ref _selector);
        set => Volatile.Write(ref _selector, value);
    }

    /// <summary>Encapsulates and sends every frame of <paramref name="batch"/> (borrowed); false when the trunk is down.</summary>
    /// <remarks>
    /// Three passes over the batch, no allocation once the scratch arrays fit: hash and select
    /// each frame; group the frames by underlay source port (<see cref="PwUnderlay.Group"/>);
    /// encapsulate in that grouped order, so each PW's control-word sequence increases in the
    /// order the frames leave, then send each group with one call.
    /// </remarks>
    public bool Forward(PacketBatch batch)
    {
        TrunkSelector selector = Selector;
        if (!IsUp || selector.ActiveCount == 0)
        {
            return false;
        }

        int count = batch.Count;
        if (_hashes.Length < count)
        {
            _hashes = new ulong[batch.Capacity];
            _memberOf = new byte[batch.Capacity];
            _socketOf = new byte[batch.Capacity];
            _order = new ushort[batch.Capacity];
        }

        Array.Clear(_batchFrames);
        Array.Clear(_batchBytes);
        bool perFlow = Mode == TrunkMode.PerFlow;
        TrunkFlowPins? pins = Pins;
        long now = 0;
        if (pins is not null)
        {
            now = Stopwatch.GetTimestamp();
            pins.BeginBatch(now);
        }

        for (int i = 0; i < count; i++)
        {
            ulong hash = Hash(batch.Frame(i), out TcpFlags tcpFlags);
            int member = !perFlow
                ? selector.SelectBucket((int)((++_spray * 0x9E3779B1u) >> (32 - TrunkSelector.BucketBits)))
                : pins is null ? selector.Select(hash) : pins.Assign(hash, batch[i].Length, selector, now, tcpFlags);
            _hashes[i] = hash;
            _memberOf[i] = (byte)member;
            Tracer?.Hop(batch.Frame(i), $"trunk {Name}", $"member {_members[member].Name} (remote label {_members[member].Config.RemoteLabel.Value}, to {_members[member].Config.Remote})");
            _socketOf[i] = (byte)PwUnderlay.EntropyIndex(hash);
        }

        Span<int> starts = stackalloc int[PwUnderlay.EntropyPorts + 1];
        Span<ushort> order = _order.AsSpan(0, count);
        PwUnderlay.Group(_socketOf.AsSpan(0, count), order, starts);
        foreach (ushort i in order)
        {
            int member = _memberOf[i];
            _batchFrames[member]++;
            _batchBytes[member] += batch[i].Length;
            _members[member].Encapsulate(batch, i, _hashes[i]);
        }

        _underlay.SendGrouped(batch, order, starts);
        for (int m = 0; m < _members.Length; m++)
        {
            if (_batchFrames[m] != 0)
            {
                _members[m].CountTx(_batchFrames[m], _batchBytes[m]);
            }
        }

        return true;
    }

    /// <summary>The flow hash of a CE frame; frames the extractor refuses hash their MAC header.</summary>
    public static ulong Hash(ReadOnlySpan<byte> frame) => Hash(frame, out _);

    /// <summary>The frame's flow hash, and its TCP flags when it is a TCP segment (read in the same pass).</summary>
    public static ulong Hash(ReadOnlySpan<byte> frame, out TcpFlags tcpFlags)
    {
        if (FlowKeyExtractor.TryExtract(frame, 0, 0, out FlowKey key, out _, out tcpFlags))
        {
            return FlowHash.Compute(in key);
        }

        var fallback = default(FlowKey);
        if (frame.Length >= EthernetLayout.HeaderLength && EthernetView.TryParse(frame, out var eth, out _))
        {
            fallback.Source = eth.Source;
            fallback.Destination = eth.Destination;
            fallback.EtherType = eth.EtherType;
        }

        return FlowHash.Compute(in fallback);
    }
}
