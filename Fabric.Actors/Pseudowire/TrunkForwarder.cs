using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// A trunk's sending path: each CE frame gets a flow hash (<see cref="FlowKeyExtractor"/> +
/// <see cref="FlowHash"/>, ingress port and tenant left out so every node computes the same
/// value), a member from the current <see cref="TrunkSelector"/>, that PW's header, and goes to
/// the underlay in the same batch. The trunk actor swaps the selector on every liveness
/// transition; the sending thread reads it once per batch (volatile), so a batch is never split
/// between two tables. Allocates nothing per frame.
/// </summary>
public sealed class TrunkForwarder
{
    private readonly PwLink[] _members;
    private readonly PwUnderlay _underlay;
    private readonly long[] _batchFrames;
    private readonly long[] _batchBytes;
    private TrunkSelector _selector;
    private uint _spray;

    public TrunkForwarder(string name, TrunkMode mode, PwLink[] members, PwUnderlay underlay, TrunkSelector initial)
    {
        Name = name;
        Mode = mode;
        _members = members;
        _underlay = underlay;
        _selector = initial;
        _batchFrames = new long[members.Length];
        _batchBytes = new long[members.Length];
    }

    public string Name { get; }
    public TrunkMode Mode { get; }
    public IReadOnlyList<PwLink> Members => _members;

    /// <summary>True while at least MinActive members are up (set by the trunk actor); false drops CE frames.</summary>
    public volatile bool IsUp;

    public TrunkSelector Selector
    {
        get => Volatile.Read(ref _selector);
        set => Volatile.Write(ref _selector, value);
    }

    /// <summary>Encapsulates and sends every frame of <paramref name="batch"/> (borrowed); false when the trunk is down.</summary>
    public bool Forward(PacketBatch batch)
    {
        TrunkSelector selector = Selector;
        if (!IsUp || selector.ActiveCount == 0)
        {
            return false;
        }

        Array.Clear(_batchFrames);
        Array.Clear(_batchBytes);
        bool perFlow = Mode == TrunkMode.PerFlow;
        for (int i = 0; i < batch.Count; i++)
        {
            ulong hash = Hash(batch.Frame(i));
            int member = perFlow
                ? selector.Select(hash)
                : selector.SelectBucket((int)((++_spray * 0x9E3779B1u) >> (32 - TrunkSelector.BucketBits)));
            PwLink pw = _members[member];
            _batchFrames[member]++;
            _batchBytes[member] += batch[i].Length;
            pw.Encapsulate(batch, i, hash);
        }

        _underlay.Send(batch);
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
    public static ulong Hash(ReadOnlySpan<byte> frame)
    {
        if (FlowKeyExtractor.TryExtract(frame, 0, 0, out FlowKey key, out _))
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
