using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Switching;

/// <summary>
/// The MFE's per-batch work, run to completion on the receiving thread (a VNIC's or the
/// underlay's), one instance per thread. A frame from a VNIC is classified by its 802.1Q tag to
/// the container's port (unknown tag: dropped by name), checked (source MAC, egress ACL), and
/// then: an ARP request for a known address is answered on the spot; a frame for a local
/// container is re-tagged with that container's tag (ingress ACL first) and queued for its DCN's
/// VNIC, the same VNIC included (hairpin); a frame for a container on another host loses its tag
/// and gets a Geneve header (VNI = the tenant's) for that host's node. A Geneve frame from the
/// underlay is delivered to its local container the same way. Queued frames leave once per
/// batch, one send per destination.
/// </summary>
/// <remarks>
/// Allocates nothing per frame: one parse into a <see cref="FlowKey"/>, dictionary look-ups on
/// integer keys, one copy into the destination's batch (rented from the pool, returned after the
/// send). The table is read once per batch.
/// </remarks>
public sealed class MfeForwarder(PacketBatchPool pool, bool ghost)
{
    /// <summary>Ghost plane only: reports each probe's drop with its reason (null on main).</summary>
    public IHopTracer? Tracer { get; init; }

    private const int GeneveHeader = GeneveLayout.HeaderLength;

    private DcnVnic?[] _outVnic = new DcnVnic?[4];
    private PacketBatch?[] _outBatch = new PacketBatch?[4];
    private int _outs;
    private int _lastOut;
    private PacketBatch? _underlayOut;
    private GeneveUnderlay? _underlay;
    private readonly byte[] _scratch = new byte[PacketBatch.DefaultSlotSize];
    private MfeTable?[] _tables = new MfeTable?[1];

    /// <summary>Handles a batch read from <paramref name="vnic"/> (owned: returned here).</summary>
    public void FromVnic(DcnVnic vnic, MfeTable table, PacketBatch batch)
    {
        try
        {
            LocalEntry?[]? tags = table.TagsOf(vnic);
            _underlay = vnic.Datapath.Underlay;
            for (int i = 0; i < batch.Count; i++)
            {
                if (batch[i].IsGhost && !ghost)
                {
                    vnic.Counters.Drop(MfeDrop.GhostMismatch);
                    continue;
                }

                FromContainer(vnic, tags, table, batch.Frame(i));
            }
        }
        finally
        {
            Flush();
            batch.Return();
        }
    }

    /// <summary>Handles a batch of Geneve datagrams (owned: returned here) for the MFEs of <paramref name="datapaths"/>.</summary>
    public void FromUnderlay(GeneveUnderlay underlay, MfeDatapath[] datapaths, PacketBatch batch)
    {
        try
        {
            if (_tables.Length < datapaths.Length)
            {
                _tables = new MfeTable?[datapaths.Length];
            }

            for (int d = 0; d < datapaths.Length; d++)
            {
                _tables[d] = datapaths[d].Table;
            }

            ReadOnlySpan<MfeTable?> tables = _tables.AsSpan(0, datapaths.Length);
            _underlay = underlay;
            for (int i = 0; i < batch.Count; i++)
            {
                if (batch[i].IsGhost != ghost)
                {
                    underlay.Counters.Drop(MfeDrop.GhostMismatch);
                    continue;
                }

                FromRemote(underlay, tables, batch.Frame(i));
            }
        }
        finally
        {
            Flush();
            batch.Return();
        }
    }

    private void FromContainer(DcnVnic vnic, LocalEntry?[]? tags, MfeTable table, ReadOnlySpan<byte> frame)
    {
        if (tags is null)
        {
            vnic.Counters.Drop(MfeDrop.NotReady);
            Tracer?.Drop(frame, "mfe", "NotReady");
            return;
        }

        if (!FlowKeyExtractor.TryExtract(frame, 0, 0, out FlowKey key, out _))
        {
            vnic.Counters.Drop(MfeDrop.Malformed);
            Tracer?.Drop(frame, "mfe", "Malformed");
            return;
        }

        if ((key.Flags & FlowKeyFlags.Vlan) == 0)
        {
            vnic.Counters.Drop(MfeDrop.Untagged);
            Tracer?.Drop(frame, "mfe", "Untagged");
            return;
        }

        if ((key.Flags & FlowKeyFlags.QinQ) != 0)
        {
            vnic.Counters.Drop(MfeDrop.DoubleTagged);
            Tracer?.Drop(frame, "mfe", "DoubleTagged");
            return;
        }

        LocalEntry? source = tags[key.OuterVlan.Value];
        if (source is null)
        {
            vnic.Counters.Drop(MfeDrop.UnknownTag);
            Tracer?.Drop(frame, "mfe", "UnknownTag");
            return;
        }

        MfeCounters counters = source.Port.Counters;
        counters.Rx(frame.Length - VlanLayout.TagLength);
        CaptureTagged(source.Port, frame, source.Tag);
        if (key.Source != source.Mac)
        {
            counters.Drop(MfeDrop.SourceMacMismatch);
            Tracer?.Drop(frame, "mfe", "SourceMacMismatch");
            return;
        }

        if ((key.Flags & FlowKeyFlags.Arp) != 0 && (byte)key.IpProtocol == (byte)ArpOperation.Request)
        {
            AnswerArp(source, table, in key);
            return;
        }

        if (source.Egress is { } egress && !egress.Allows(in key))
        {
            counters.Drop(MfeDrop.EgressAcl);
            Tracer?.Drop(frame, "mfe", "EgressAcl");
            return;
        }

        if (key.Destination.IsMulticast)
        {
            counters.Drop(MfeDrop.NonUnicast);
            Tracer?.Drop(frame, "mfe", "NonUnicast");
            return;
        }

        if (!table.ByMac.TryGetValue(key.Destination.ToUInt64(), out Target? target))
        {
            counters.Drop(MfeDrop.UnknownDestination);
            Tracer?.Drop(frame, "mfe", "UnknownDestination");
            return;
        }

        if (target.Switch != source.Switch)
        {
            counters.Drop(MfeDrop.OtherTenant);
            Tracer?.Drop(frame, "mfe", "OtherTenant");
            return;
        }

        if (target.Local is { } local)
        {
            if (local.Ingress is { } ingress && !ingress.Allows(in key))
            {
                local.Port.Counters.Drop(MfeDrop.IngressAcl);
                Tracer?.Drop(frame, "mfe", "IngressAcl");
                return;
            }

            Span<byte> room = Room(local.Vnic);
            if (VlanTagging.TryCopyRetagged(frame, local.Tag, room, out int length))
            {
                Commit(local.Vnic, length);
                local.Port.Counters.Tx(length - VlanLayout.TagLength);
                CaptureTagged(local.Port, room[..length], local.Tag);
            }

            return;
        }

        if (_underlay is not { } underlay)
        {
            counters.Drop(MfeDrop.NoUnderlay);
            Tracer?.Drop(frame, "mfe", "NoUnderlay");
            return;
        }

        Span<byte> datagram = UnderlayRoom(underlay);
        if (VlanTagging.TryCopyUntagged(frame, source.Tag, datagram[GeneveHeader..], out int inner))
        {
            new GeneveRepr(target.Switch).Emit(datagram);
            ref Packet p = ref _underlayOut!.Commit(GeneveHeader + inner);
            p.Peer = target.Remote;
            p.IsGhost = ghost;
            underlay.Counters.Tx(inner);
        }
    }

    private void AnswerArp(LocalEntry source, MfeTable table, in FlowKey key)
    {
        if (!table.Arp.TryGetValue(MfeTable.ArpKey(source.Switch, key.DestinationAddress), out MacAddress mac))
        {
            source.Port.Counters.Drop(MfeDrop.ArpUnknownTarget);
            return;
        }

        if (mac == source.Mac)
        {
            return; // a container probing for its own address (duplicate detection) hears nothing
        }

        var reply = new ArpRepr(ArpOperation.Reply, mac, key.DestinationAddress, key.Source, key.SourceAddress);
        Span<byte> room = Room(source.Vnic);
        if (ArpFrame.TryEmit(reply, mac, key.Source, source.Tag, room, out int length))
        {
            Commit(source.Vnic, length);
            source.Port.Counters.Tx(length - VlanLayout.TagLength);
            CaptureTagged(source.Port, room[..length], source.Tag);
        }
    }

    private void FromRemote(GeneveUnderlay underlay, ReadOnlySpan<MfeTable?> tables, ReadOnlySpan<byte> datagram)
    {
        MfeCounters counters = underlay.Counters;
        if (!GeneveView.TryParse(datagram, out GeneveView geneve, out _))
        {
            counters.Drop(MfeDrop.Malformed);
            Tracer?.Drop(datagram, "mfe", "Malformed");
            return;
        }

        if (geneve.IsOam || geneve.ProtocolType != EtherType.TransparentEthernetBridging)
        {
            counters.Drop(MfeDrop.NotEthernet);
            Tracer?.Drop(datagram, "mfe", "NotEthernet");
            return;
        }

        ReadOnlySpan<byte> frame = geneve.Payload;
        if (!FlowKeyExtractor.TryExtract(frame, 0, geneve.Vni, out FlowKey key, out _))
        {
            counters.Drop(MfeDrop.Malformed);
            Tracer?.Drop(datagram, "mfe", "Malformed");
            return;
        }

        if ((key.Flags & FlowKeyFlags.Vlan) != 0)
        {
            counters.Drop(MfeDrop.DoubleTagged);
            Tracer?.Drop(datagram, "mfe", "DoubleTagged");
            return;
        }

        if (key.Destination.IsMulticast)
        {
            counters.Drop(MfeDrop.NonUnicast);
            Tracer?.Drop(datagram, "mfe", "NonUnicast");
            return;
        }

        uint vni = geneve.Vni;
        LocalEntry? local = null;
        bool knownVni = false;
        foreach (MfeTable? table in tables)
        {
            knownVni |= table!.Switches.Contains(vni);
            if (local is null && table.ByMac.TryGetValue(key.Destination.ToUInt64(), out Target? target) && target.Local is { } l)
            {
                local = l;
            }
        }

        if (!knownVni)
        {
            counters.Drop(MfeDrop.UnknownVni);
            Tracer?.Drop(datagram, "mfe", "UnknownVni");
            return;
        }

        if (local is null)
        {
            counters.Drop(MfeDrop.UnknownDestination);
            Tracer?.Drop(datagram, "mfe", "UnknownDestination");
            return;
        }

        if (local.Switch != vni)
        {
            counters.Drop(MfeDrop.OtherTenant);
            Tracer?.Drop(datagram, "mfe", "OtherTenant");
            return;
        }

        counters.Rx(frame.Length);
        if (local.Ingress is { } ingress && !ingress.Allows(in key))
        {
            local.Port.Counters.Drop(MfeDrop.IngressAcl);
            Tracer?.Drop(datagram, "mfe", "IngressAcl");
            return;
        }

        Span<byte> room = Room(local.Vnic);
        if (VlanTagging.TryCopyTagged(frame, local.Tag, room, out int length))
        {
            Commit(local.Vnic, length);
            local.Port.Counters.Tx(frame.Length);
            local.Port.WriteCapture(frame);
        }
    }

    /// <summary>Room for the next frame to <paramref name="vnic"/> (its batch is sent first when full).</summary>
    private Span<byte> Room(DcnVnic vnic)
    {
        int k = _lastOut < _outs && ReferenceEquals(_outVnic[_lastOut], vnic) ? _lastOut : IndexOf(vnic);
        _lastOut = k;
        PacketBatch batch = _outBatch[k]!;
        if (batch.IsFull)
        {
            vnic.Send(batch);
            batch.Clear();
        }

        return batch.NextFrameRoom();
    }

    private void Commit(DcnVnic vnic, int length)
    {
        ref Packet p = ref _outBatch[_lastOut]!.Commit(length);
        p.IsGhost = ghost;
    }

    private int IndexOf(DcnVnic vnic)
    {
        for (int k = 0; k < _outs; k++)
        {
            if (ReferenceEquals(_outVnic[k], vnic))
            {
                return k;
            }
        }

        if (_outs == _outVnic.Length)
        {
            Array.Resize(ref _outVnic, _outs * 2);
            Array.Resize(ref _outBatch, _outs * 2);
        }

        _outVnic[_outs] = vnic;
        _outBatch[_outs] = pool.Rent();
        return _outs++;
    }

    private Span<byte> UnderlayRoom(GeneveUnderlay underlay)
    {
        _underlayOut ??= pool.Rent();
        if (_underlayOut.IsFull)
        {
            underlay.Send(_underlayOut);
            _underlayOut.Clear();
        }

        return _underlayOut.NextFrameRoom();
    }

    private void Flush()
    {
        for (int k = 0; k < _outs; k++)
        {
            PacketBatch batch = _outBatch[k]!;
            if (batch.Count > 0)
            {
                _outVnic[k]!.Send(batch);
            }

            batch.Return();
            _outBatch[k] = null;
            _outVnic[k] = null;
        }

        _outs = 0;
        _lastOut = 0;
        if (_underlayOut is { } datagrams)
        {
            if (datagrams.Count > 0)
            {
                _underlay?.Send(datagrams);
            }

            datagrams.Return();
            _underlayOut = null;
        }

        _underlay = null;
    }

    /// <summary>Copies a tagged frame untagged into the port's capture, if it has one (the container's view).</summary>
    private void CaptureTagged(ContainerPort port, ReadOnlySpan<byte> frame, VlanId tag)
    {
        if (port.IsCapturing && VlanTagging.TryCopyUntagged(frame, tag, _scratch, out int length))
        {
            port.WriteCapture(_scratch.AsSpan(0, length));
        }
    }
}
