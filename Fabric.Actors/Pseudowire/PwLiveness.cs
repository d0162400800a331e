using System.Diagnostics;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// A BFD-like session on one PW (RFC 5880 §6.8.6 state machine, asynchronous mode, no
/// authentication or demand mode), its hellos carried in-band on the PW associated channel
/// (RFC 5885, channel type 0x0007). The member is active while the session is Up.
/// </summary>
/// <remarks>
/// Two threads touch it: a receive thread (the node's <see cref="PwLivenessClock"/>, or the
/// underlay data thread if hellos are not steered apart) records the newest hello with
/// <see cref="Received"/> (volatile stores, no lock); the liveness clock alone runs
/// <see cref="Evaluate"/> and <see cref="Hello"/>. Down → Init on a peer's Down, Init/Down →
/// Up on a peer's Init/Up (Down ignores a peer's Up, so a one-sided restart converges through
/// Down), Up → Down on the peer's Down or when no hello arrived for the detection time
/// (the peer's multiplier × max(its desired TX interval, our required RX interval)).
/// </remarks>
public sealed class PwLiveness
{
    private long _lastRxTicks;
    private int _remoteState = (int)BfdState.Down;
    private long _remoteDiscriminator;
    private long _remoteDetectTicks;
    private long _hellosReceived;

    private long _txIntervalTicks;

    public PwLiveness(uint myDiscriminator, TimeSpan interval, int multiplier)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(multiplier, 1);
        MyDiscriminator = myDiscriminator;
        Interval = interval;
        Multiplier = multiplier;
        _txIntervalTicks = interval.Ticks;
    }

    public uint MyDiscriminator { get; }

    /// <summary>The intent's hello interval: what this end requires to receive (RFC 5880 Required Min RX Interval).</summary>
    public TimeSpan Interval { get; }

    /// <summary>
    /// How often this end sends (RFC 5880 Desired Min TX Interval): the intent's interval, stretched
    /// by the liveness clock when the node's sessions together would exceed its hello budget. The
    /// peer's detection time of this end follows it (multiplier x this), so it is advertised in
    /// every hello; the clock sends one at once when it changes.
    /// </summary>
    public TimeSpan TxInterval
    {
        get => TimeSpan.FromTicks(Volatile.Read(ref _txIntervalTicks));
        internal set => Volatile.Write(ref _txIntervalTicks, Math.Max(value.Ticks, Interval.Ticks));
    }

    public int Multiplier { get; }
    public BfdState State { get; private set; } = BfdState.Down;

    /// <summary>Why the session last went down (RFC 5880 diagnostic: 1 = detection time expired, 3 = neighbour signalled down).</summary>
    public byte Diagnostic { get; private set; }

    public long HellosReceived => Interlocked.Read(ref _hellosReceived);
    public long Transitions { get; private set; }
    public long LastTransitionTicks { get; private set; }

    /// <summary>Underlay receive thread: a hello arrived at <paramref name="nowTicks"/> (Stopwatch ticks).</summary>
    public void Received(BfdControlView hello, long nowTicks)
    {
        long rx = Math.Max(hello.DesiredMinTxMicroseconds, (uint)(Interval.Ticks / 10)); // our required RX = our interval
        long detect = hello.DetectMultiplier * rx * Stopwatch.Frequency / 1_000_000;
        Volatile.Write(ref _remoteDetectTicks, detect);
        Volatile.Write(ref _remoteDiscriminator, hello.MyDiscriminator);
        Volatile.Write(ref _remoteState, (int)hello.State);
        Volatile.Write(ref _lastRxTicks, nowTicks);
        Interlocked.Increment(ref _hellosReceived);
    }

    /// <summary>
    /// How long this end waits for the peer's next hello before the session expires (RFC 5880
    /// detection time: the peer's multiplier x the longer of its advertised TX interval and our
    /// required RX); zero before the first hello.
    /// </summary>
    public TimeSpan DetectionTime => TimeSpan.FromSeconds(Volatile.Read(ref _remoteDetectTicks) / (double)Stopwatch.Frequency);

    /// <summary>
    /// When (clock ticks) the session would expire if no further hello arrived, one tick late so
    /// the check lands after it; <see cref="long.MaxValue"/> when Down with nothing heard.
    /// </summary>
    public long DetectionDeadline
    {
        get
        {
            long last = Volatile.Read(ref _lastRxTicks);
            return last == 0 ? long.MaxValue : last + Volatile.Read(ref _remoteDetectTicks) + 1;
        }
    }

    /// <summary>Liveness clock: applies what was received (or its absence) at <paramref name="nowTicks"/>; true when the state changed.</summary>
    public bool Evaluate(long nowTicks)
    {
        long last = Volatile.Read(ref _lastRxTicks);
        long detect = Volatile.Read(ref _remoteDetectTicks);
        var remote = (BfdState)Volatile.Read(ref _remoteState);
        BfdState next = State;
        if (last == 0 || nowTicks - last > detect)
        {
            if (State != BfdState.Down)
            {
                next = BfdState.Down;
                Diagnostic = 1;
            }
        }
        else
        {
            next = (State, remote) switch
            {
                (_, BfdState.AdminDown) => BfdState.Down,
                (BfdState.Down, BfdState.Down) => BfdState.Init,
                (BfdState.Down, BfdState.Init) => BfdState.Up,
                (BfdState.Init, BfdState.Init or BfdState.Up) => BfdState.Up,
                (BfdState.Up, BfdState.Down) => BfdState.Down,
                _ => State,
            };
            if (next == BfdState.Down && State == BfdState.Up)
            {
                Diagnostic = 3;
            }
        }

        if (next == State)
        {
            return false;
        }

        State = next;
        Transitions++;
        LastTransitionTicks = nowTicks;
        if (next == BfdState.Up)
        {
            Diagnostic = 0;
        }

        return true;
    }

    /// <summary>The hello to send now.</summary>
    public BfdControlRepr Hello()
    {
        uint requiredRxUs = (uint)(Interval.Ticks / 10);
        uint desiredTxUs = (uint)Math.Min(Volatile.Read(ref _txIntervalTicks) / 10, uint.MaxValue);
        return new BfdControlRepr(
            State, (byte)Math.Min(Multiplier, 255), MyDiscriminator,
            State == BfdState.Down ? 0 : (uint)Volatile.Read(ref _remoteDiscriminator),
            desiredTxUs, requiredRxUs, Diagnostic);
    }
}
