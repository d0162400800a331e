using System.Collections.Immutable;
using System.Globalization;

namespace Fabric.Messages.Intent.Parsing;

/// <summary>
/// Typed reads from one mapping. A read that fails reports once and returns null (or a
/// placeholder for required values: the document is refused anyway, and checks that see the
/// placeholder stay quiet because its path has already failed).
/// </summary>
internal sealed class Fields(ReadContext context, SourceMap map, string path)
{
    public SourceMap Map => map;

    public string Path => path;

    public ReadContext Context => context;

    public string PathOf(string key) => path.Length == 0 ? key : $"{path}.{key}";

    /// <summary>The value under <paramref name="key"/>; an explicit null counts as absent.</summary>
    public SourceNode? Value(string key, bool required)
    {
        var entry = map.Find(key);
        if (entry is null || entry.Value is SourceScalar { Kind: ScalarKind.Null })
        {
            if (required) context.Error(entry?.Value ?? map, PathOf(key), $"missing required field '{key}'");
            return null;
        }
        return entry.Value;
    }

    public bool Has(string key) => Value(key, required: false) is not null;

    public string? OptionalString(string key) => Text(key, required: false);

    public string String(string key) => Text(key, required: true) ?? "";

    /// <summary>A required element name: it becomes part of actor names, so it is kept plain.</summary>
    public string Name(string key = "name")
    {
        var name = Text(key, required: true);
        if (name is null) return "";
        if (!IntentNames.IsValid(name))
            Fail(key, $"'{name}' is not a valid name ({IntentNames.Grammar})");
        return name;
    }

    public long? Integer(string key, bool required, long min, long max, string what = "value")
    {
        var node = Value(key, required);
        if (node is null) return null;
        if (node is not SourceScalar { Kind: ScalarKind.Number } scalar
            || !long.TryParse(scalar.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            context.Error(node, PathOf(key), $"expected an integer, got {node.Describe}");
            return null;
        }
        if (value < min || value > max)
        {
            context.Error(node, PathOf(key), $"{what} {value} is out of range {min}..{max}");
            return null;
        }
        return value;
    }

    public bool Boolean(string key, bool defaultValue)
    {
        var node = Value(key, required: false);
        if (node is null) return defaultValue;
        if (node is SourceScalar { Kind: ScalarKind.Boolean } scalar) return scalar.Text == "true";
        context.Error(node, PathOf(key), $"expected true or false, got {node.Describe}");
        return defaultValue;
    }

    public T? Enum<T>(string key, EnumText<T> text, bool required)
        where T : struct, System.Enum
    {
        var raw = Text(key, required);
        if (raw is null) return null;
        if (text.TryParse(raw, out var value)) return value;
        Fail(key, $"unknown {key} '{raw}'; expected {text.Choices}");
        return null;
    }

    public Ipv4? Ipv4(string key, bool required)
    {
        var raw = Text(key, required);
        if (raw is null) return null;
        if (Intent.Ipv4.TryParse(raw, out var address)) return address;
        Fail(key, $"'{raw}' is not an IPv4 address");
        return null;
    }

    /// <summary>An interface address (<c>10.1.0.1/24</c>): host bits required, not the network or broadcast address.</summary>
    public Ipv4Cidr? InterfaceAddress(string key, bool required)
    {
        var raw = Text(key, required);
        return raw is null ? null : Checks.InterfaceAddress(raw, out var reason) ?? Failed<Ipv4Cidr>(key, reason);
    }

    /// <summary>A network (<c>10.1.0.0/24</c>): no host bits; with <paramref name="bareAddressIsHost"/> a bare address means /32.</summary>
    public Ipv4Cidr? Network(string key, bool required, bool bareAddressIsHost = false)
    {
        var raw = Text(key, required);
        return raw is null ? null : Checks.Network(raw, bareAddressIsHost, out var reason) ?? Failed<Ipv4Cidr>(key, reason);
    }

    public Mac48? Mac(string key, bool required)
    {
        var raw = Text(key, required);
        return raw is null ? null : Checks.UnicastMac(raw, out var reason) ?? Failed<Mac48>(key, reason);
    }

    /// <summary>A port or port range: the number <c>443</c> or the text <c>8000-8080</c>.</summary>
    public PortRange? Ports(string key)
    {
        var node = Value(key, required: false);
        if (node is null) return null;
        if (node is SourceScalar { Kind: ScalarKind.Number or ScalarKind.String } scalar
            && PortRange.TryParse(scalar.Text, out var range))
            return range;
        context.Error(node, PathOf(key), $"expected a port (1..65535) or a range like 8000-8080, got {node.Describe}");
        return null;
    }

    /// <summary>The items of a list with their paths (<c>pws[2]</c>); nothing when absent or not a list.</summary>
    public IReadOnlyList<(SourceNode Node, string Path)> List(string key, bool required)
    {
        var node = Value(key, required);
        if (node is null) return [];
        if (node is not SourceSequence sequence)
        {
            context.MarkIncomplete(PathOf(key));
            context.Error(node, PathOf(key), $"expected a list, got {node.Describe}");
            return [];
        }
        return [.. sequence.Items.Select((item, i) => (item, $"{PathOf(key)}[{i}]"))];
    }

    /// <summary>A list of strings; a bad item stays as an empty placeholder so indexes keep matching the source.</summary>
    public ImmutableArray<string> Strings(string key, bool required)
    {
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var (node, itemPath) in List(key, required))
        {
            if (node is SourceScalar { Kind: ScalarKind.String } scalar)
            {
                if (scalar.Text.Contains('\0'))
                {
                    context.Error(node, itemPath, NulReason);
                    builder.Add("");
                    continue;
                }
                builder.Add(scalar.Text);
                continue;
            }
            context.Error(node, itemPath, $"expected a string, got {node.Describe}{QuoteHint(node)}");
            builder.Add("");
        }
        return builder.ToImmutable();
    }

    /// <summary>Each mapping in a list, read by <paramref name="read"/>; items that are not mappings are reported and skipped.</summary>
    public ImmutableArray<T> Elements<T>(string key, bool required, IReadOnlyList<string> allowed, Func<Fields, T> read)
        where T : class
    {
        var builder = ImmutableArray.CreateBuilder<T>();
        foreach (var (node, itemPath) in List(key, required))
        {
            context.CheckClock(node.Line, node.Column);
            var fields = context.Open(node, itemPath, allowed);
            if (fields is null)
            {
                context.MarkIncomplete(PathOf(key));
                continue;
            }
            var element = read(fields);
            context.Remember(element, fields);
            builder.Add(element);
        }
        return builder.ToImmutable();
    }

    /// <summary>A nested mapping, opened with its own allowed keys.</summary>
    public Fields? Object(string key, bool required, IReadOnlyList<string> allowed)
    {
        var node = Value(key, required);
        return node is null ? null : context.Open(node, PathOf(key), allowed);
    }

    /// <summary>Reports a problem with the value of <paramref name="key"/> (or with this mapping when absent).</summary>
    public void Fail(string key, string reason)
    {
        SourceNode at = map.Find(key)?.Value ?? map;
        context.Error(at, PathOf(key), reason);
    }

    private T? Failed<T>(string key, string? reason)
        where T : struct
    {
        Fail(key, reason ?? "invalid value");
        return null;
    }

    private string? Text(string key, bool required)
    {
        var node = Value(key, required);
        if (node is null) return null;
        if (node is SourceScalar { Kind: ScalarKind.String } scalar)
        {
            if (!scalar.Text.Contains('\0')) return scalar.Text;
            context.Error(node, PathOf(key), NulReason);
            return null;
        }
        context.Error(node, PathOf(key), $"expected a string, got {node.Describe}{QuoteHint(node)}");
        return null;
    }

    private static string QuoteHint(SourceNode node) =>
        node is SourceScalar { Kind: ScalarKind.Number or ScalarKind.Boolean } ? " (quote it if it is text)" : "";

    /// <summary>A NUL would cut the value short in every C string it reaches (device paths, interface names, logs).</summary>
    public const string NulReason = "a string must not contain a NUL character (U+0000)";
}
