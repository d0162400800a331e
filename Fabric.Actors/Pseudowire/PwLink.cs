using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Pseudowire;

/// <summary>What a PW is configured as, resolved against the intent (remote underlay included).</summary>
public sealed record PwConfig(
    string Name,
    string Pe,
    string RemotePe,
    MplsLabel LocalLabel,
    MplsLabel RemoteLabel,
    bool ControlWord,
    bool FlowLabel,
    int Weight,
    UnderlayEndpoint Remote,
    string? Trunk);

/// <summary>
/// One PW's data plane: its header, its transmit sequence, its receive sequence check, its
/// counters and its liveness session. Plain code owned by the PW actor; the trunk's sending
/// thread writes the TX side, the node's underlay receive thread the RX side (one writer each,
/// readers anywhere).
/// </summary>
public sealed class PwLink
{
    private ushort _txSequence;
    private ushort _rxExpected;
    private long _txFrames;
    private long _txBytes;
    private long _rxFrames;
    private long _rxBytes;
    private long _rxReordered;
    private long _rxLost;
    private long _rxMalformed;
    private long _faultDrops;
    private long _hellosSent;

    public PwLink(PwConfig config, TimeSpan helloInterval, int multiplier)
    {
        Config = config;
        Encapsulation = new PwEncapsulation(config.ControlWord, config.FlowLabel);
        HeaderLength = MplsLayout.EntryLength + (config.FlowLabel ? MplsLayout.EntryLength : 0) + (config.ControlWord ? PwControlWordLayout.Length : 0);
        Liveness = new PwLiveness(config.LocalLabel.Value, helloInterval, multiplier);
    }

    public PwConfig Config { get; }
    public string Name => Config.Name;
    public PwEncapsulation Encapsulation { get; }

    /// <summary>PW label + flow label + control word, the bytes pushed in front of each frame.</summary>
    public int HeaderLength { get; }

    public PwLiveness Liveness { get; }

    /// <summary>Without a control word there is no associated channel: liveness cannot run and the PW counts as up.</summary>
    public bool HasLiveness => Config.ControlWord;

    public bool IsUp => !HasLiveness || Liveness.State == BfdState.Up;

    /// <summary>Where decapsulated frames go (the attachment circuit of the PE); null drops them.</summary>
    public AttachmentCircuit? Delivery { get; set; }

    /// <summary>Fault injection: drop every frame (data and hellos) this PW receives, as a broken path would.</summary>
    public volatile bool FaultDropReceive;

    public long TxFrames => Volatile.Read(ref _txFrames);
    public long TxBytes => Volatile.Read(ref _txBytes);
    public long RxFrames => Volatile.Read(ref _rxFrames);
    public long RxBytes => Volatile.Read(ref _rxBytes);
    public long RxReordered => Volatile.Read(ref _rxReordered);
    public long RxLost => Volatile.Read(ref _rxLost);
    public long RxMalformed => Volatile.Read(ref _rxMalformed);
    public long FaultDrops => Volatile.Read(ref _faultDrops);
    public long HellosSent => Volatile.Read(ref _hellosSent);

    /// <summary>Sending thread: pushes the PW header in front of frame <paramref name="index"/> and addresses it.</summary>
    public void Encapsulate(PacketBatch batch, int index, ulong flowHash)
    {
        ushort sequence = 0;
        if (Config.ControlWord)
        {
            _txSequence = PwSequence.Next(_txSequence);
            sequence = _txSequence;
        }

        Span<byte> header = batch.PushHeader(index, HeaderLength);
        new EthernetOverMplsRepr(
            Config.RemoteLabel,
            Config.FlowLabel ? EthernetOverMplsRepr.FlowLabelFromHash(flowHash) : null,
            Config.ControlWord,
            sequence).Emit(header);
        ref Packet p = ref batch[index];
        p.Peer = Config.Remote;
        p.FlowHash = (uint)flowHash;
    }

    /// <summary>Sending thread: counts a batch's worth of frames sent on this PW.</summary>
    public void CountTx(long frames, long bytes)
    {
        Volatile.Write(ref _txFrames, _txFrames + frames);
        Volatile.Write(ref _txBytes, _txBytes + bytes);
    }

    /// <summary>Underlay receive thread: true when the datagram is on the PW associated channel (a hello), not data.</summary>
    public bool IsControl(ReadOnlySpan<byte> datagram) =>
        Config.ControlWord && EthernetOverMplsView.TryParse(datagram, Encapsulation, out var view, out _) && view.IsAssociatedChannel;

    /// <summary>
    /// Underlay receive thread: one datagram whose top label is this PW's local label. Hellos go to
    /// the liveness session; data is sequence-checked (RFC 4385 §4.2: a frame older than the
    /// expected one counts as reordered; a newer one moves the window and counts the gap as lost;
    /// both are still delivered) and handed to the attachment circuit.
    /// </summary>
    public void Receive(ReadOnlySpan<byte> datagram, long nowTicks)
    {
        if (FaultDropReceive)
        {
            _faultDrops++;
            return;
        }

        if (!EthernetOverMplsView.TryParse(datagram, Encapsulation, out var view, out _))
        {
            Volatile.Write(ref _rxMalformed, _rxMalformed + 1);
            return;
        }

        if (view.IsAssociatedChannel)
        {
            if (view.ChannelType == PwChannelType.Bfd && BfdControlView.TryParse(view.ChannelPayload, out var hello, out _))
            {
                Liveness.Received(hello, nowTicks);
            }
            else
            {
                Volatile.Write(ref _rxMalformed, _rxMalformed + 1);
            }

            return;
        }

        ushort sequence = view.SequenceNumber;
        if (sequence != 0)
        {
            if (_rxExpected != 0 && sequence != _rxExpected)
            {
                short distance = (short)(sequence - _rxExpected);
                if (distance < 0)
                {
                    Volatile.Write(ref _rxReordered, _rxReordered + 1);
                }
                else
                {
                    Volatile.Write(ref _rxLost, _rxLost + distance);
                    _rxExpected = PwSequence.Next(sequence);
                }
            }
            else
            {
                _rxExpected = PwSequence.Next(sequence);
            }
        }

        ReadOnlySpan<byte> frame = view.Frame;
        Volatile.Write(ref _rxFrames, _rxFrames + 1);
        Volatile.Write(ref _rxBytes, _rxBytes + frame.Length);
        Delivery?.Deliver(frame);
    }

    /// <summary>Liveness clock: writes one hello (PW label [+ flow label], ACH BFD, BFD control) as the next frame of <paramref name="batch"/>.</summary>
    public bool AppendHello(PacketBatch batch)
    {
        if (!HasLiveness)
        {
            return false;
        }

        Span<byte> room = batch.NextFrameRoom();
        var header = new EthernetOverMplsRepr(Config.RemoteLabel, Config.FlowLabel ? new MplsLabel(MplsLabel.FirstUnreserved) : null, ControlWord: false);
        int at = header.BufferLength;
        if (room.Length < at + PwControlWordLayout.Length + BfdLayout.Length)
        {
            return false;
        }

        header.Emit(room);
        PwControlWordRepr.AssociatedChannel(PwChannelType.Bfd).Emit(room[at..]);
        at += PwControlWordLayout.Length;
        Liveness.Hello().Emit(room[at..]);
        at += BfdLayout.Length;
        batch.Commit(at).Peer = Config.Remote;
        Interlocked.Increment(ref _hellosSent);
        return true;
    }
}
