using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Guardian;

/// <summary>Reads the I/O loop settings from hocon (<c>fabric.io</c>; DataPlane/ knows nothing of Akka).</summary>
public static class IoHocon
{
    /// <summary>Reads <c>fabric.io</c>; missing keys keep <see cref="IoSettings.Default"/>.</summary>
    public static IoSettings From(Akka.Configuration.Config? config)
    {
        var section = config?.GetConfig("fabric.io");
        if (section is null || section.IsEmpty)
        {
            return IoSettings.Default;
        }

        int loops = section.GetInt("loops", 0);
        int max = section.GetInt("pool-max-batches", IoSettings.Default.PoolMaxBatches);
        int retained = section.GetInt("pool-retained-batches", IoSettings.Default.PoolRetained);
        if (loops < 0 || loops > 256 || max < 1 || retained < 1)
        {
            throw new ArgumentException($"fabric.io: loops 0-256, pool-max-batches >= 1, pool-retained-batches >= 1 (got {loops}, {max}, {retained})");
        }

        return new IoSettings(loops == 0 ? IoSettings.Default.LoopCount : loops, max, retained);
    }
}
