using Akka.Configuration;

namespace Fabric.Actors.Ghost;

/// <summary>The <c>fabric.ghost</c> section of the node's hocon, read once (keys and defaults: hocon/fabric.conf).</summary>
public sealed record GhostSettings(ushort PwUnderlayPort, TimeSpan IdentityInterval, TimeSpan IdentifyWait)
{
    public static readonly GhostSettings Default = new(6636, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(300));

    public static GhostSettings From(Akka.Configuration.Config config)
    {
        var c = config.GetConfig("fabric.ghost");
        if (c is null || c.IsEmpty) return Default;
        return new GhostSettings(
            (ushort)c.GetInt("pw-underlay-port", Default.PwUnderlayPort),
            c.GetTimeSpan("identity-interval", Default.IdentityInterval),
            c.GetTimeSpan("identify-wait", Default.IdentifyWait));
    }
}
