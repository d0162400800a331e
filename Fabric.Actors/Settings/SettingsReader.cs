using Hocon = Akka.Configuration.Config;

namespace Fabric.Actors.Settings;

/// <summary>
/// Reads one section of the <c>fabric</c> hocon block, checked: every getter names the full key
/// when the value is missing, unparsable or out of range (an <see cref="ArgumentException"/>
/// "<c>fabric.gateway.buckets: must be 1..1024, not 0</c>", which stops the node at start). The
/// configuration it reads has the embedded hocon/fabric.conf as fallback, so a missing key means
/// the shipped file lost it. Defaults live in that file only.
/// </summary>
public sealed class SettingsReader
{
    private readonly Hocon _config;

    internal SettingsReader(Hocon config, string path)
    {
        _config = config;
        Path = path;
    }

    /// <summary>This section's full path (<c>fabric.gateway</c>).</summary>
    public string Path { get; }

    /// <summary>The whole configuration (for readers that take a <see cref="Hocon"/>).</summary>
    public Hocon Config => _config;

    public SettingsReader Section(string name) => new(_config, Key(name));

    public string Key(string name) => $"{Path}.{name}";

    /// <summary>A duration greater than zero (an interval or a timeout).</summary>
    public TimeSpan Interval(string name) => Duration(name, TimeSpan.FromTicks(1), TimeSpan.MaxValue, "must be > 0");

    /// <summary>A duration of zero or more.</summary>
    public TimeSpan NonNegativeDuration(string name) => Duration(name, TimeSpan.Zero, TimeSpan.MaxValue, "must be >= 0");

    public TimeSpan Duration(string name, TimeSpan min, TimeSpan max, string rule)
    {
        var value = Read(name, key => _config.GetTimeSpan(key, allowInfinite: false));
        if (value < min || value > max) throw Bad(Key(name), $"{rule}, not {Format(value)}");
        return value;
    }

    /// <summary>A count or size of at least one.</summary>
    public int Positive(string name) => Int(name, 1, int.MaxValue);

    public int Int(string name, int min, int max)
    {
        var value = Read(name, key => _config.GetLong(key));
        if (value < min || value > max)
            throw Bad(Key(name), max == int.MaxValue ? $"must be >= {min}, not {value}" : $"must be {min}..{max}, not {value}");
        return (int)value;
    }

    /// <summary>A UDP port, 1..65535.</summary>
    public ushort Port(string name) => (ushort)Int(name, 1, 65_535);

    /// <summary>A power of two in <paramref name="min"/>..<paramref name="max"/> (a table size masked by index).</summary>
    public int PowerOfTwo(string name, int min, int max)
    {
        var value = Int(name, min, max);
        if (!int.IsPow2(value)) throw Bad(Key(name), $"must be a power of two, not {value}");
        return value;
    }

    public long Bytes(string name, long min)
    {
        var value = Read(name, key => _config.GetByteSize(key) ?? throw new FormatException("not a size"));
        if (value < min) throw Bad(Key(name), $"must be >= {min} bytes, not {value}");
        return value;
    }

    public bool Flag(string name) => Read(name, key => _config.GetBoolean(key));

    public string Text(string name, params string[] allowed)
    {
        var value = Read(name, key => _config.GetString(key));
        if (string.IsNullOrWhiteSpace(value)) throw Bad(Key(name), "must not be empty");
        if (allowed.Length > 0 && !allowed.Contains(value))
            throw Bad(Key(name), $"must be {string.Join(" or ", allowed)}, not '{value}'");
        return value;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> for <paramref name="name"/> when <paramref name="holds"/> is false.</summary>
    public void Require(bool holds, string name, string reason)
    {
        if (!holds) throw Bad(Key(name), reason);
    }

    private T Read<T>(string name, Func<string, T> get)
    {
        var key = Key(name);
        if (!_config.HasPath(key)) throw Bad(key, "missing (hocon/fabric.conf names every key with its default)");
        try
        {
            return get(key);
        }
        catch (Exception e)
        {
            throw Bad(key, $"cannot read '{SafeString(key)}' ({e.Message})");
        }
    }

    private string SafeString(string key)
    {
        try
        {
            return _config.GetString(key);
        }
        catch (Exception)
        {
            return "?";
        }
    }

    private static ArgumentException Bad(string key, string reason) => new($"{key}: {reason}");

    private static string Format(TimeSpan value) => value.TotalMilliseconds < 1000 ? $"{value.TotalMilliseconds}ms" : $"{value.TotalSeconds}s";
}
