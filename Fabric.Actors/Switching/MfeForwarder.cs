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

    private IMfeEgress?[] _outEgress = new IMfeEgress?[4];
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

    /// <summary>
    /// Handles a batch a gateway sent on its router port (borrowed: the gateway keeps it), on the
    /// gateway's thread: ARP requests for the switch's addresses are answered, frames for a
    /// container of the switch are delivered (tagged, to its DCN) or sent over Geneve.
    /// </summary>
    public void FromRouter(RouterPort router, MfeTable table, PacketBatch batch)
    {
        try
        {
            _underlay = router.Datapath.Underlay;
            for (int i = 0; i < batch.Count; i++)
            {
                if (batch[i].IsGhost != ghost)
                {
                    router.Counters.Drop(MfeDrop.GhostMismatch);
                    continue;
                }

                FromRouterFrame(router, table, batch.Frame(i));
            }
        }
        finally
        {
            Flush();
        }
    }

    private void FromRouterFrame(RouterPort router, MfeTable table, ReadOnlySpan<byte> frame)
    {
        MfeCounters counters = router.Counters;
        uint vni = router.Spec.Vni;
        if (!FlowKeyExtractor.TryExtract(frame, 0, vni, out FlowKey key, out _))
        {
            counters.Drop(MfeDrop.Malformed);
            Tracer?.Drop(frame, "mfe", "Malformed");
            return;
        }

        if ((key.Flags & FlowKeyFlags.Vlan) != 0)
        {
            counters.Drop(MfeDrop.Tagged);
            Tracer?.Drop(frame, "mfe", "Tagged");
            return;
        }

        counters.Rx(frame.Length);
        if ((key.Flags & FlowKeyFlags.Arp) != 0 && (byte)key.IpProtocol == (byte)ArpOperation.Request)
        {
            AnswerArp(router, null, vni, router.Spec.Mac, counters, null, table, in key);
            return;
        }

        if (!TryTarget(table, in key, vni, counters, frame, out Target target))
        {
            return;
        }

        if (target.Local is { } local)
        {
            ToContainer(local, frame, frame, in key);
        }
        else
        {
            ToUnderlay(counters, frame, null, vni, target.Remote);
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
            AnswerArp(source.Vnic, source.Tag, source.Switch, source.Mac, counters, source.Port, table, in key);
            return;
        }

        if (source.Egress is { } egress && !egress.Allows(in key))
        {
            counters.Drop(MfeDrop.EgressAcl);
            Tracer?.Drop(frame, "mfe", "EgressAcl");
            return;
        }

        if (table.Router(source.Switch, key.Destination) is { } router)
        {
            // To the switch's router (the container's default gateway): untagged, as the gateway sees the switch.
            if (router.Local is { } port)
            {
                Span<byte> toRouter = Room(port);
                if (VlanTagging.TryCopyUntagged(frame, source.Tag, toRouter, out int routed))
                {
                    Commit(routed);
                    port.Counters.Tx(routed);
                }
            }
            else
            {
                ToUnderlay(counters, frame, source.Tag, router.Switch, router.Remote);
            }

            return;
        }

        if (!TryTarget(table, in key, source.Switch, counters, frame, out Target target))
        {
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
                Commit(length);
                local.Port.Counters.Tx(length - VlanLayout.TagLength);
                CaptureTagged(local.Port, room[..length], local.Tag);
            }

            return;
        }

        ToUnderlay(counters, frame, source.Tag, target.Switch, target.Remote);
    }

    /// <summary>Queues <paramref name="frame"/> (without <paramref name="tag"/>, when it carries one) in Geneve with VNI <paramref name="vni"/> for <paramref name="remote"/>.</summary>
    private void ToUnderlay(MfeCounters counters, ReadOnlySpan<byte> frame, VlanId? tag, uint vni, UnderlayEndpoint remote)
    {
        if (_underlay is not { } underlay)
        {
            counters.Drop(MfeDrop.NoUnderlay);
            Tracer?.Drop(frame, "mfe", "NoUnderlay");
            return;
        }

        Span<byte> datagram = UnderlayRoom(underlay);
        int inner;
        if (tag is { } t)
        {
            if (!VlanTagging.TryCopyUntagged(frame, t, datagram[GeneveHeader..], out inner))
            {
                return;
            }
        }
        else if (frame.TryCopyTo(datagram[GeneveHeader..]))
        {
            inner = frame.Length;
        }
        else
        {
            return;
        }

        new GeneveRepr(vni).Emit(datagram);
        ref Packet p = ref _underlayOut!.Commit(GeneveHeader + inner);
        p.Peer = remote;
        p.IsGhost = ghost;
        underlay.Counters.Tx(inner);
    }

    /// <summary>
    /// Answers an ARP request on logical switch <paramref name="switch"/> from the table, towards
    /// <paramref name="to"/> (tagged with <paramref name="tag"/> for a container, untagged for a router).
    /// </summary>
    private void AnswerArp(
        IMfeEgress to, VlanId? tag, uint @switch, MacAddress own, MfeCounters counters, ContainerPort? capture, MfeTable table, in FlowKey key)
    {
        if (!table.Arp.TryGetValue(MfeTable.ArpKey(@switch, key.DestinationAddress), out MacAddress mac))
        {
            counters.Drop(MfeDrop.ArpUnknownTarget);
            return;
        }

        if (mac == own)
        {
            return; // probing for its own address (duplicate detection) hears nothing
        }

        var reply = new ArpRepr(ArpOperation.Reply, mac, key.DestinationAddress, key.Source, key.SourceAddress);
        Span<byte> room = Room(to);
        if (ArpFrame.TryEmit(reply, mac, key.Source, tag, room, out int length))
        {
            Commit(length);
            counters.Tx(tag is null ? length : length - VlanLayout.TagLength);
            if (capture is not null && tag is { } t)
            {
                CaptureTagged(capture, room[..length], t);
            }
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
        RouterPort? router = null;
        bool knownVni = false;
        foreach (MfeTable? table in tables)
        {
            knownVni |= table!.Switches.Contains(vni);
            if (local is null && table.ByMac.TryGetValue(key.Destination.ToUInt64(), out Target? target) && target.Local is { } l)
            {
                local = l;
            }

            router ??= table.Router(vni, key.Destination)?.Local;
        }

        if (!knownVni)
        {
            counters.Drop(MfeDrop.UnknownVni);
            Tracer?.Drop(datagram, "mfe", "UnknownVni");
            return;
        }

        if (router is not null)
        {
            counters.Rx(frame.Length);
            Span<byte> toRouter = Room(router);
            if (frame.TryCopyTo(toRouter))
            {
                Commit(frame.Length);
                router.Counters.Tx(frame.Length);
            }

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
        ToContainer(local, frame, datagram, in key);
    }

    /// <summary>Delivers an untagged <paramref name="frame"/> to <paramref name="local"/> (ingress ACL, then its tag); <paramref name="traced"/> is what a ghost drop reports.</summary>
    private void ToContainer(LocalEntry local, ReadOnlySpan<byte> frame, ReadOnlySpan<byte> traced, in FlowKey key)
    {
        if (local.Ingress is { } ingress && !ingress.Allows(in key))
        {
            local.Port.Counters.Drop(MfeDrop.IngressAcl);
            Tracer?.Drop(traced, "mfe", "IngressAcl");
            return;
        }

        Span<byte> room = Room(local.Vnic);
        if (VlanTagging.TryCopyTagged(frame, local.Tag, room, out int length))
        {
            Commit(length);
            local.Port.Counters.Tx(frame.Length);
            local.Port.WriteCapture(frame);
        }
    }

    /// <summary>The unicast destination of <paramref name="key"/> on logical switch <paramref name="switch"/>, or false with the drop counted.</summary>
    private bool TryTarget(MfeTable table, in FlowKey key, uint @switch, MfeCounters counters, ReadOnlySpan<byte> frame, out Target target)
    {
        target = null!;
        MfeDrop drop;
        if (key.Destination.IsMulticast)
        {
            drop = MfeDrop.NonUnicast;
        }
        else if (!table.ByMac.TryGetValue(key.Destination.ToUInt64(), out Target? found))
        {
            drop = MfeDrop.UnknownDestination;
        }
        else if (found.Switch != @switch)
        {
            drop = MfeDrop.OtherTenant;
        }
        else
        {
            target = found;
            return true;
        }

        counters.Drop(drop);
        Tracer?.Drop(frame, "mfe", drop.ToString());
        return false;
    }

    /// <summary>Room for the next frame to <paramref name="egress"/> (its batch is sent first when full).</summary>
    private Span<byte> Room(IMfeEgress egress)
    {
        int k = _lastOut < _outs && ReferenceEquals(_outEgress[_lastOut], egress) ? _lastOut : IndexOf(egress);
        _lastOut = k;
        PacketBatch batch = _outBatch[k]!;
        if (batch.IsFull)
        {
            egress.Send(batch);
            batch.Clear();
        }

        return batch.NextFrameRoom();
    }

    /// <summary>Commits the frame just written into the room <see cref="Room"/> gave.</summary>
    private void Commit(int length)
    {
        ref Packet p = ref _outBatch[_lastOut]!.Commit(length);
        p.IsGhost = ghost;
    }

    private int IndexOf(IMfeEgress egress)
    {
        for (int k = 0; k < _outs; k++)
        {
            if (ReferenceEquals(_outEgress[k], egress))
            {
                return k;
            }
        }

        if (_outs == _outEgress.Length)
        {
            Array.Resize(ref _outEgress, _outs * 2);
            Array.Resize(ref _outBatch, _outs * 2);
        }

        _outEgress[_outs] = egress;
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
                _outEgress[k]!.Send(batch);
            }

            batch.Return();
            _outBatch[k] = null;
            _outEgress[k] = null;
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
