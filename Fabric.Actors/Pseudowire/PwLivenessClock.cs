using System.Diagnostics;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// The node's liveness path, kept apart from the data path so an overload cannot flap a trunk:
/// one thread (nice -10 when the process may raise it) that receives hellos on their own socket
/// (the kernel steers associated-channel datagrams there, see <see cref="PwUnderlay"/>), runs
/// every PW's session (RFC 5880 state machine) every few milliseconds, sends hellos when due
/// from the underlay's hello socket, and reports each transition to the PW's actor.
/// </summary>
/// <remarks>
/// Before this, hellos were sent and sessions evaluated by Akka timers on the shared dispatcher,
/// and received behind data in the one 6635 socket: an unlimited blast starved all three and
/// took whole trunks down. Now data threads only compete with this thread for CPU, at a lower
/// priority, and data never shares a socket queue with hellos.
/// </remarks>
public sealed class PwLivenessClock : IDisposable
{
    /// <summary>Longest wait between two evaluations (shorter when a PW's interval is under 25 ms).</summary>
    private static readonly long MaxTick = Stopwatch.Frequency / 200; // 5 ms

    private readonly PwUnderlay _underlay;
    private readonly UdpUnderlayPort? _receiver;
    private readonly Lock _lock = new();
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stopped = new();
    private Session[] _sessions = [];
    private volatile bool _stop;
    private long _hellosSteered;
    private long _strays;

    internal PwLivenessClock(PwUnderlay underlay, UdpUnderlayPort? helloReceiver)
    {
        _underlay = underlay;
        _receiver = helloReceiver;
        _thread = new Thread(Run) { IsBackground = true, Name = "pw-liveness" };
    }

    /// <summary>How a PW actor hears of a session transition: (before, after, RFC 5880 diagnostic).</summary>
    public delegate void TransitionHandler(BfdState before, BfdState after, byte diagnostic);

    /// <summary>True when the thread runs at nice -10 (needs CAP_SYS_NICE; otherwise it keeps the default).</summary>
    public bool RaisedPriority { get; private set; }

    /// <summary>True when hellos arrive on their own socket (the kernel accepted the steering program).</summary>
    public bool HasOwnSocket => _receiver is not null;

    /// <summary>Hellos received on the hello socket.</summary>
    public long HellosSteered => Interlocked.Read(ref _hellosSteered);

    /// <summary>Non-hello datagrams that reached the hello socket (dropped; none expected).</summary>
    public long Strays => Interlocked.Read(ref _strays);

    internal void Start() => _thread.Start();

    /// <summary>
    /// The thread's nice value: -10 for main (hellos must not wait behind the node's own work),
    /// +10 for the ghost network's clock, so ghost hellos never take CPU from main's.
    /// </summary>
    public int Niceness { get; set; } = -10;

    /// <summary>Starts running <paramref name="link"/>'s session: a hello now, then every interval.</summary>
    public void Add(PwLink link, TransitionHandler onTransition)
    {
        ArgumentNullException.ThrowIfNull(link);
        lock (_lock)
        {
            _sessions = [.. _sessions.Where(s => s.Link != link), new Session(link, onTransition)];
        }
    }

    public void Remove(PwLink link)
    {
        lock (_lock)
        {
            _sessions = _sessions.Where(s => s.Link != link).ToArray();
        }
    }

    private void Run()
    {
        RaisedPriority = LinuxNative.SetPriority(LinuxNative.PRIO_PROCESS, (uint)LinuxNative.GetTid(), Niceness) == 0 && Niceness < 0;
        var rx = new PacketBatch(64);
        var tx = new PacketBatch();
        long nextTick = 0;
        try
        {
            while (!_stop)
            {
                long now = Stopwatch.GetTimestamp();
                // Rounded up: a wait rounded down to 0 ms would spin until the tick.
                long msTicks = Stopwatch.Frequency / 1000;
                int waitMs = (int)Math.Max(0, (nextTick - now + msTicks - 1) / msTicks);
                if (_receiver is { } receiver)
                {
                    rx.Clear();
                    if (receiver.ReceiveBatch(rx, waitMs) > 0)
                    {
                        ReceiveHellos(rx);
                    }
                }
                else if (waitMs > 0)
                {
                    _stopped.Wait(waitMs);
                }

                now = Stopwatch.GetTimestamp();
                if (now < nextTick)
                {
                    continue;
                }

                nextTick = now + Tick(Volatile.Read(ref _sessions));
                RunSessions(now, tx);
            }
        }
        catch (ObjectDisposedException)
        {
            // the underlay closed under us: nothing left to run
        }
    }

    private static long Tick(Session[] sessions)
    {
        long tick = MaxTick;
        foreach (var s in sessions)
        {
            tick = Math.Min(tick, Math.Max(s.Link.Liveness.Interval.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond / 5, Stopwatch.Frequency / 1000));
        }

        return tick;
    }

    private void ReceiveHellos(PacketBatch rx)
    {
        long now = Stopwatch.GetTimestamp();
        for (int i = 0; i < rx.Count; i++)
        {
            ReadOnlySpan<byte> datagram = rx.Frame(i);
            if (_underlay.TryGetPw(datagram, out var pw) && pw.IsControl(datagram))
            {
                pw.Receive(datagram, now);
                Interlocked.Increment(ref _hellosSteered);
            }
            else
            {
                Interlocked.Increment(ref _strays);
            }
        }
    }

    private void RunSessions(long now, PacketBatch tx)
    {
        tx.Clear();
        foreach (var s in Volatile.Read(ref _sessions))
        {
            PwLivenessSession(s, now, tx);
        }

        if (tx.Count > 0)
        {
            _underlay.SendControl(tx);
            tx.Clear();
        }
    }

    private void PwLivenessSession(Session s, long now, PacketBatch tx)
    {
        var liveness = s.Link.Liveness;
        BfdState before = liveness.State;
        bool changed = liveness.Evaluate(now);
        // A transition is told to the peer at once rather than at the next interval.
        if (changed || now >= s.NextHello)
        {
            if (tx.IsFull)
            {
                _underlay.SendControl(tx);
                tx.Clear();
            }

            s.Link.AppendHello(tx);
            s.NextHello = now + liveness.Interval.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond;
        }

        if (changed)
        {
            s.OnTransition(before, liveness.State, liveness.Diagnostic);
        }
    }

    public void Dispose()
    {
        _stop = true;
        _stopped.Set();
        if (_thread.IsAlive && !_thread.Join(TimeSpan.FromSeconds(2)))
        {
            // the receive poll wakes within one tick; a thread still alive is a background thread
        }

        _stopped.Dispose();
    }

    private sealed class Session(PwLink link, TransitionHandler onTransition)
    {
        public PwLink Link { get; } = link;
        public TransitionHandler OnTransition { get; } = onTransition;
        public long NextHello;
    }
}
