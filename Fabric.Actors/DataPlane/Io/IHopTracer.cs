namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// Where ghost elements report each hop of a diagnostic frame (ghost routing's probe traces).
/// Main elements have no tracer (null): a live frame costs one null check, nothing more.
/// Implementations find the probe id in the frame themselves and ignore other frames.
/// </summary>
public interface IHopTracer
{
    /// <summary>The frame passed <paramref name="element"/>; <paramref name="detail"/> says how (member chosen, rewrite, delivered).</summary>
    void Hop(ReadOnlySpan<byte> frame, string element, string detail);

    /// <summary>The frame was dropped at <paramref name="element"/> for <paramref name="reason"/>.</summary>
    void Drop(ReadOnlySpan<byte> frame, string element, string reason);

    /// <summary>True once the frame's probe crossed more hops than a loop-free path can have (an L2 loop has no TTL).</summary>
    bool HopLimitReached(ReadOnlySpan<byte> frame);
}
