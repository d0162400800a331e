using System.Diagnostics;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// A port with no device behind it, for tests and benchmarks. Receiving yields generated
/// traffic (valid Ethernet/IPv4/UDP or TCP frames per a <see cref="TrafficProfile"/>, optionally rate
/// limited and bounded); sending is a sink that counts what it is given and may hand each
/// batch to an observer.
/// </summary>
/// <remarks>
/// One template frame per (flow, length) is built with the Wire Reprs when the port is made;
/// generating a frame copies a template, so the hot loop does no header arithmetic and
/// allocates nothing. The receive side is meant for one thread at a time.
/// </remarks>
public sealed class SimulatedPort : Port
{
    private readonly byte[][] _templates; // [flow * lengths + lengthIndex]
    private readonly int _lengthCount;
    private readonly Random _random;
    private readonly long _startTimestamp;
    private readonly ManualResetEventSlim _wake = new(false);
    private long _generated;

    public SimulatedPort(string name, ushort id, TrafficProfile? profile = null, Action<PacketBatch>? sinkObserver = null)
        : base(name, id)
    {
        Profile = profile ?? new TrafficProfile();
        ArgumentOutOfRangeException.ThrowIfLessThan(Profile.Flows, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(Profile.FramesPerSecond);
        if (Profile.FrameLengths.Count == 0)
        {
            throw new ArgumentException("At least one frame length is needed.", nameof(profile));
        }

        if (Profile.Protocol is not (IpProtocol.Udp or IpProtocol.Tcp))
        {
            throw new NotSupportedException($"SimulatedPort generates UDP or TCP, not {Profile.Protocol}.");
        }

        SinkObserver = sinkObserver;
        _lengthCount = Profile.FrameLengths.Count;
        _templates = new byte[Profile.Flows * _lengthCount][];
        for (int flow = 0; flow < Profile.Flows; flow++)
        {
            for (int l = 0; l < _lengthCount; l++)
            {
                byte[] frame = Profile.Protocol == IpProtocol.Tcp
                    ? BuildTcpFrame(Profile, flow, Profile.FrameLengths[l])
                    : BuildUdpFrame(Profile, flow, Profile.FrameLengths[l]);
                if (Profile.Vlan is { } vlan)
                {
                    var tagged = new byte[frame.Length + VlanLayout.TagLength];
                    VlanTagging.TryCopyTagged(frame, vlan, tagged, out _);
                    frame = tagged;
                }

                _templates[flow * _lengthCount + l] = frame;
            }
        }

        _random = new Random(Profile.Seed);
        _startTimestamp = Stopwatch.GetTimestamp();
    }

    public TrafficProfile Profile { get; }

    /// <summary>Called with each batch given to <see cref="SendBatch"/> (borrowed for the call).</summary>
    public Action<PacketBatch>? SinkObserver { get; }

    /// <summary>Frames generated so far.</summary>
    public long Generated => Interlocked.Read(ref _generated);

    /// <summary>True once <see cref="TrafficProfile.TotalFrames"/> frames were generated.</summary>
    public bool IsExhausted => Profile.TotalFrames > 0 && Generated >= Profile.TotalFrames;

    /// <summary>Builds flow <paramref name="flow"/>'s frame of <paramref name="frameLength"/> bytes (headers via the Wire Reprs).</summary>
    public static byte[] BuildUdpFrame(TrafficProfile profile, int flow, int frameLength)
    {
        ArgumentNullException.ThrowIfNull(profile);
        const int Headers = EthernetLayout.HeaderLength + Ipv4Layout.MinimumHeaderLength + UdpLayout.HeaderLength;
        ArgumentOutOfRangeException.ThrowIfLessThan(frameLength, Headers);
        var source = new Ipv4Address(profile.SourceAddress.ToUInt32() + (uint)flow);
        var udp = new UdpRepr((ushort)(profile.SourcePort + flow), profile.DestinationPort, frameLength - Headers);
        var ip = new Ipv4Repr(source, profile.DestinationAddress, IpProtocol.Udp, udp.BufferLength) { DontFragment = true };
        var ethernet = new EthernetRepr(profile.SourceMac, profile.DestinationMac, EtherType.Ipv4);

        var frame = new byte[frameLength];
        Span<byte> payload = frame.AsSpan(Headers);
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)(flow + i);
        }

        udp.Emit(frame.AsSpan(ethernet.BufferLength + ip.HeaderLength), source, profile.DestinationAddress);
        ip.Emit(frame.AsSpan(ethernet.BufferLength));
        ethernet.Emit(frame);
        return frame;
    }

    /// <summary>
    /// Builds flow <paramref name="flow"/>'s TCP frame of <paramref name="frameLength"/> bytes: an
    /// established-connection data segment (ACK|PSH) with a per-flow sequence number.
    /// </summary>
    public static byte[] BuildTcpFrame(TrafficProfile profile, int flow, int frameLength)
    {
        ArgumentNullException.ThrowIfNull(profile);
        const int Headers = EthernetLayout.HeaderLength + Ipv4Layout.MinimumHeaderLength + TcpLayout.MinimumHeaderLength;
        ArgumentOutOfRangeException.ThrowIfLessThan(frameLength, Headers);
        var source = new Ipv4Address(profile.SourceAddress.ToUInt32() + (uint)flow);
        var tcp = new TcpRepr(
            (ushort)(profile.SourcePort + flow),
            profile.DestinationPort,
            SequenceNumber: 1000u * (uint)(flow + 1),
            AcknowledgmentNumber: 1,
            TcpFlags.Ack | TcpFlags.Psh,
            WindowSize: 64240,
            PayloadLength: frameLength - Headers);
        var ip = new Ipv4Repr(source, profile.DestinationAddress, IpProtocol.Tcp, tcp.BufferLength) { DontFragment = true };
        var ethernet = new EthernetRepr(profile.SourceMac, profile.DestinationMac, EtherType.Ipv4);

        var frame = new byte[frameLength];
        Span<byte> payload = frame.AsSpan(Headers);
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)(flow + i);
        }

        tcp.Emit(frame.AsSpan(ethernet.BufferLength + ip.HeaderLength), source, profile.DestinationAddress);
        ip.Emit(frame.AsSpan(ethernet.BufferLength));
        ethernet.Emit(frame);
        return frame;
    }

    /// <summary>Appends generated frames: as many as fit, the rate allows and the total leaves.</summary>
    public override int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (IsFinished)
        {
            return 0;
        }

        long allowed = batch.Capacity - batch.Count;
        if (Profile.TotalFrames > 0)
        {
            allowed = Math.Min(allowed, Profile.TotalFrames - Generated);
        }

        if (allowed <= 0)
        {
            // Exhausted: behave like an idle device so a receive loop does not spin.
            WaitFor(timeoutMs);
            return 0;
        }

        if (Profile.FramesPerSecond > 0)
        {
            allowed = Math.Min(allowed, WaitForCredit(timeoutMs));
            if (allowed <= 0)
            {
                return 0;
            }
        }

        int added = 0;
        long bytes = 0;
        for (long n = 0; n < allowed; n++)
        {
            int flow = Profile.Flows == 1 ? 0 : _random.Next(Profile.Flows);
            int lengthIndex = _lengthCount == 1 ? 0 : _random.Next(_lengthCount);
            byte[] template = _templates[flow * _lengthCount + lengthIndex];
            Span<byte> room = batch.NextFrameRoom();
            if (room.Length < template.Length)
            {
                Counters.AddDrop(PortDropReason.RxFrameTooLarge);
                continue;
            }

            template.CopyTo(room);
            batch.Commit(template.Length, Id);
            bytes += template.Length;
            added++;
        }

        Interlocked.Add(ref _generated, allowed);
        Counters.AddRx(added, bytes);
        Tee?.WriteBatch(batch, batch.Count - added, added);
        return added;
    }

    /// <summary>The sink: counts every frame as sent.</summary>
    public override int SendBatch(PacketBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (IsFinished)
        {
            Counters.AddDrop(PortDropReason.TxPortGone, batch.Count);
            return 0;
        }

        int ghost = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            if (batch[i].IsGhost)
            {
                ghost++;
            }
        }

        if (ghost != 0)
        {
            // Ghost frames never reach a live port (ghost routing's one rule): counted, not sent.
            Counters.AddDrop(PortDropReason.PlaneMismatch, ghost);
            Counters.AddTx(batch.Count - ghost, batch.TotalBytes());
            return batch.Count - ghost;
        }

        Counters.AddTx(batch.Count, batch.TotalBytes());
        Tee?.WriteBatch(batch);
        SinkObserver?.Invoke(batch);
        return batch.Count;
    }

    /// <summary>Receives on an I/O loop, on a timer of its rate; an idle or exhausted generator costs nothing.</summary>
    protected internal override bool ReceivesOnLoop => true;

    /// <summary>
    /// When the next frames are due: now for an unlimited generator, else when the rate has
    /// earned about a millisecond of frames (at least one, at most a batch), so a fast generator
    /// fills batches rather than waking the loop per frame; never once exhausted.
    /// </summary>
    protected internal override long NextReceiveDue(long nowTicks)
    {
        if (IsFinished || IsExhausted)
        {
            return long.MaxValue;
        }

        double rate = Profile.FramesPerSecond;
        if (rate <= 0)
        {
            return nowTicks;
        }

        double want = Math.Clamp(rate / 1000, 1, PacketBatch.DefaultCapacity);
        double seconds = (Generated + want) / rate;
        if (seconds > 1e6)
        {
            return long.MaxValue; // an "idle" profile (a rate of ~0): nothing within any horizon
        }

        return _startTimestamp + (long)(seconds * Stopwatch.Frequency);
    }

    protected override void WakeReceiver() => _wake.Set();

    protected override void DisposeCore() => _wake.Dispose();

    /// <summary>Frames the rate allows now, waiting up to <paramref name="timeoutMs"/> for the first.</summary>
    private long WaitForCredit(int timeoutMs)
    {
        long deadline = timeoutMs < 0 ? long.MaxValue : Stopwatch.GetTimestamp() + timeoutMs * Stopwatch.Frequency / 1000;
        while (true)
        {
            double elapsed = Stopwatch.GetElapsedTime(_startTimestamp).TotalSeconds;
            long credit = (long)(elapsed * Profile.FramesPerSecond) - Generated;
            if (credit > 0)
            {
                return credit;
            }

            long now = Stopwatch.GetTimestamp();
            if (now >= deadline || StopRequested)
            {
                return 0;
            }

            double secondsToNext = (1 - credit) / Profile.FramesPerSecond;
            int sleepMs = (int)Math.Clamp(secondsToNext * 1000, 0, (deadline - now) * 1000.0 / Stopwatch.Frequency);
            if (sleepMs > 0)
            {
                WaitFor(sleepMs);
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    private void WaitFor(int timeoutMs)
    {
        if (timeoutMs != 0 && !StopRequested && _wake.Wait(timeoutMs))
        {
            _wake.Reset();
        }
    }
}
