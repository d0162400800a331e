using Akka.Configuration;

namespace Fabric.Node.Hosting;

/// <summary>
/// hocon/fabric.conf with <c>--hocon FILE</c> over it, as the ActorSystem will see it: read
/// before the system starts for the settings the node needs first (intent limits, management).
/// </summary>
public static class NodeHocon
{
    public static string BaseFile => Path.Combine(AppContext.BaseDirectory, "hocon", "fabric.conf");

    public static Config Load(NodeOptions options)
    {
        var config = ConfigurationFactory.ParseString(File.ReadAllText(BaseFile));
        if (options.HoconFile is { } extra)
        {
            var path = Path.GetFullPath(extra);
            if (!File.Exists(path)) throw new ArgumentException($"--hocon: no such file '{path}'");
            config = ConfigurationFactory.ParseString(File.ReadAllText(path)).WithFallback(config);
        }
        return config;
    }
}

/// <summary>Things found while building the node that are logged once it runs.</summary>
public sealed record StartupNotes(string? DataDirectoryWarning);
