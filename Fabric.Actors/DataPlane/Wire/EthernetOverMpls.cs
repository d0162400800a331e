namespace Fabric.Actors.DataPlane.Wire;

// Ethernet pseudowire over MPLS (RFC 4448, https://www.rfc-editor.org/rfc/rfc4448), with the
// optional control word (RFC 4448 §4.6 / RFC 4385) and the optional flow label (RFC 6391 §2).
//
// +-------------------------------+
// | tunnel label(s), if any       |  absent when the PSN is MPLS-in-UDP (RFC 7510)
// +-------------------------------+
// | PW label                      |  S=1 unless a flow label follows
// +-------------------------------+
// | flow label (RFC 6391)         |  S=1, TTL 0; entropy for ECMP/LAG, no forwarding meaning
// +-------------------------------+
// | control word (RFC 4385)       |  0000 + sequence number; or 0001 = associated channel
// +-------------------------------+
// | Ethernet frame, no preamble/FCS (RFC 4448 §4.4)                |
// +-------------------------------+
// Whether a control word and a flow label are present is PW configuration (signalled, not
// self-describing), so the parser is told by <see cref="PwEncapsulation"/>.

/// <summary>What a PW's configuration says its packets carry.</summary>
public readonly record struct PwEncapsulation(bool ControlWord, bool FlowLabel);

/// <summary>
/// A checked view of an Ethernet-over-MPLS packet: label stack (deep enough for a flow label
/// when configured), then either an associated-channel packet or an Ethernet frame.
/// </summary>
public readonly ref struct EthernetOverMplsView
{
    private readonly MplsLabelStackView _labels;
    private readonly ReadOnlySpan<byte> _afterLabels;

    private EthernetOverMplsView(MplsLabelStackView labels, PwEncapsulation encapsulation)
    {
        _labels = labels;
        _afterLabels = labels.Payload;
        Encapsulation = encapsulation;
    }

    public static bool TryParse(ReadOnlySpan<byte> buffer, PwEncapsulation encapsulation, out EthernetOverMplsView packet, out DropReason reason)
    {
        packet = default;
        if (!MplsLabelStackView.TryParse(buffer, out var labels, out reason))
        {
            return false;
        }
        if (encapsulation.FlowLabel && labels.Depth < 2)
        {
            reason = DropReason.LabelStackTooShallow;
            return false;
        }
        var inner = labels.Payload;
        if (encapsulation.ControlWord)
        {
            if (!PwControlWordView.TryParse(inner, out var word, out reason))
            {
                return false;
            }
            if (word.IsAssociatedChannel)
            {
                packet = new EthernetOverMplsView(labels, encapsulation);
                return true;
            }
            inner = word.Payload;
        }
        if (!EthernetView.TryParse(inner, out _, out reason))
        {
            return false;
        }
        packet = new EthernetOverMplsView(labels, encapsulation);
        return true;
    }

    public PwEncapsulation Encapsulation { get; }
    public MplsLabelStackView Labels => _labels;

    /// <summary>The PW label: the bottom entry, or the one above the flow label.</summary>
    public MplsLabelStackEntry PwEntry => _labels[_labels.Depth - (Encapsulation.FlowLabel ? 2 : 1)];
    public MplsLabel PwLabel => PwEntry.Label;

    /// <summary>The RFC 6391 flow label, or null when the PW has none.</summary>
    public MplsLabel? FlowLabel => Encapsulation.FlowLabel ? _labels.Bottom.Label : null;

    /// <summary>True when the control word position holds an associated channel header, not data.</summary>
    public bool IsAssociatedChannel => Encapsulation.ControlWord && (_afterLabels[0] >> 4) == PwControlWordLayout.AssociatedChannelNibble;

    /// <summary>The control word (or associated channel header); false when the PW uses none.</summary>
    public bool TryGetControlWord(out PwControlWordView word)
    {
        word = default;
        return Encapsulation.ControlWord && PwControlWordView.TryParse(_afterLabels, out word, out _);
    }

    /// <summary>Control word sequence number, or 0 (not sequenced) without a control word.</summary>
    public ushort SequenceNumber => !IsAssociatedChannel && TryGetControlWord(out var word) ? word.SequenceNumber : (ushort)0;

    /// <summary>What an associated-channel packet carries; 0 for a data packet.</summary>
    public PwChannelType ChannelType => IsAssociatedChannel && TryGetControlWord(out var word) ? word.ChannelType : 0;

    /// <summary>The customer's Ethernet frame; empty for an associated-channel packet.</summary>
    public ReadOnlySpan<byte> Frame => IsAssociatedChannel
        ? default
        : _afterLabels[(Encapsulation.ControlWord ? PwControlWordLayout.Length : 0)..];

    /// <summary>The channel payload of an associated-channel packet (e.g. a BFD control packet).</summary>
    public ReadOnlySpan<byte> ChannelPayload => IsAssociatedChannel ? _afterLabels[PwControlWordLayout.Length..] : default;
}

/// <summary>
/// The value of a PW header as an ingress PE pushes it (no tunnel label: over MPLS-in-UDP the UDP
/// header plays that part). BufferLength is the header only; the Ethernet frame follows it.
/// </summary>
public readonly record struct EthernetOverMplsRepr(
    MplsLabel PwLabel,
    MplsLabel? FlowLabel,
    bool ControlWord,
    ushort SequenceNumber = 0,
    byte Ttl = EthernetOverMplsRepr.DefaultTtl,
    byte TrafficClass = 0)
{
    public const byte DefaultTtl = 255;

    public PwEncapsulation Encapsulation => new(ControlWord, FlowLabel.HasValue);

    public int BufferLength => MplsLayout.EntryLength
        + (FlowLabel.HasValue ? MplsLayout.EntryLength : 0)
        + (ControlWord ? PwControlWordLayout.Length : 0);

    public static EthernetOverMplsRepr Parse(EthernetOverMplsView packet)
    {
        var pw = packet.PwEntry;
        return new(pw.Label, packet.FlowLabel, packet.Encapsulation.ControlWord, packet.SequenceNumber, pw.Ttl, pw.TrafficClass);
    }

    public void Emit(Span<byte> buffer)
    {
        if (buffer.Length < BufferLength)
        {
            throw new ArgumentException("Buffer shorter than the PW header", nameof(buffer));
        }
        var at = 0;
        new MplsLabelStackEntry(PwLabel, TrafficClass, !FlowLabel.HasValue, Ttl).Emit(buffer);
        at += MplsLayout.EntryLength;
        if (FlowLabel is { } flow)
        {
            // RFC 6391 §2.1: the flow label's TTL MUST be 0 so it is never forwarded on.
            new MplsLabelStackEntry(flow, TrafficClass, true, 0).Emit(buffer[at..]);
            at += MplsLayout.EntryLength;
        }
        if (ControlWord)
        {
            PwControlWordRepr.Data(SequenceNumber).Emit(buffer[at..]);
        }
    }

    /// <summary>
    /// An RFC 6391 flow label from a flow hash: a 20-bit value kept out of the reserved range 0..15.
    /// </summary>
    public static MplsLabel FlowLabelFromHash(ulong flowHash)
    {
        var value = (uint)(flowHash >> 32) & MplsLabel.MaxValue;
        return new MplsLabel(value < MplsLabel.FirstUnreserved ? value + MplsLabel.FirstUnreserved : value);
    }
}
