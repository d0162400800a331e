using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Switching;

/// <summary>
/// A container's port on the MFE as the data path sees it: counters (the container's view) and
/// the optional capture. Owned by the container's port actor, which makes it when the container
/// appears in the intent and disposes it when it goes; the forwarding configuration (tag, MAC,
/// switch, ACLs) lives in the MFE's table, rebuilt on every change.
/// </summary>
public sealed class ContainerPort : IDisposable
{
    private volatile ContainerSpec _spec;
    private volatile bool _disposed;

    public ContainerPort(ContainerSpec spec, PcapWriter? capture)
    {
        _spec = spec;
        Capture = capture;
    }

    public string Name => _spec.Name;

    /// <summary>The container's configuration as last applied (for status).</summary>
    public ContainerSpec Spec
    {
        get => _spec;
        set => _spec = value;
    }

    public MfeCounters Counters { get; } = new();

    /// <summary>Every frame the container sends or receives, untagged (the container's view); null = no capture.</summary>
    public PcapWriter? Capture { get; }

    /// <summary>True when frames are being captured.</summary>
    public bool IsCapturing => Capture is not null && !_disposed;

    /// <summary>Copies a frame into the capture; a data-path thread still holding an older table after the port went is harmless.</summary>
    public void WriteCapture(ReadOnlySpan<byte> frame)
    {
        if (Capture is not { } capture || _disposed)
        {
            return;
        }

        try
        {
            capture.WriteFrame(frame);
        }
        catch (ObjectDisposedException)
        {
            // the port was removed while this frame was on its way
        }
    }

    public void Dispose()
    {
        _disposed = true;
        Capture?.Dispose();
    }
}

/// <summary>
/// A container DCN's VNIC: the MFE port that carries all its containers' tagged frames, owned by
/// the VNIC actor. Frames read by the port's receive thread go to <see cref="Receive"/>; frames
/// for the DCN leave through <see cref="Send"/> from any data-path thread (one at a time: a
/// port takes one sender).
/// </summary>
public sealed class DcnVnic : IMfeEgress, IDisposable
{
    private readonly Lock _sendLock = new();
    private bool _closed; // under _sendLock

    public DcnVnic(DcnSpec spec, IPort port, MfeDatapath datapath)
    {
        Spec = spec;
        Port = port;
        Datapath = datapath;
        Forwarder = new MfeForwarder(datapath.Pool, datapath.Ghost) { Tracer = datapath.Tracer };
    }

    public DcnSpec Spec { get; }

    public string Name => Spec.Name;

    public IPort Port { get; }

    public MfeDatapath Datapath { get; }

    /// <summary>The receive thread's scratch (only that thread uses it).</summary>
    internal MfeForwarder Forwarder { get; }

    /// <summary>Frames of the VNIC that belong to no container (untagged, unknown tag, ...).</summary>
    public MfeCounters Counters { get; } = new();

    /// <summary>Starts the port's receive thread.</summary>
    public void Start() => Port.StartReceiving(Datapath.Pool, Receive);

    /// <summary>Sends a batch to the DCN (borrowed); frames after <see cref="Dispose"/> are counted as port drops.</summary>
    public int Send(PacketBatch batch)
    {
        lock (_sendLock)
        {
            if (_closed)
            {
                return 0;
            }

            return Port.SendBatch(batch);
        }
    }

    private void Receive(PacketBatch batch) => Forwarder.FromVnic(this, Datapath.Table, batch);

    public void Dispose()
    {
        Port.StopReceiving();
        lock (_sendLock)
        {
            _closed = true;
            Port.Dispose();
        }
    }
}
