using System.Globalization;
using System.Text;

namespace Fabric.Node.Management;

/// <summary>
/// Prometheus text exposition format 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), written by
/// hand: every family is declared once with its type and help, its samples are kept together
/// (the format wants them contiguous), label values escaped (<c>\\</c>, <c>"</c>, newline).
/// </summary>
public sealed class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private sealed class Family(string type, string help)
    {
        public string Type { get; } = type;
        public string Help { get; set; } = help;
        public List<string> Samples { get; } = [];
    }

    private readonly Dictionary<string, Family> _families = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public void Counter(string name, string help, double value, params (string Name, string Value)[] labels) => Add(name, "counter", help, value, labels);

    public void Gauge(string name, string help, double value, params (string Name, string Value)[] labels) => Add(name, "gauge", help, value, labels);

    private void Add(string name, string type, string help, double value, (string Name, string Value)[] labels)
    {
        if (!_families.TryGetValue(name, out var family))
        {
            family = new Family(type, help);
            _families[name] = family;
            _order.Add(name);
        }
        else if (family.Type != type)
        {
            throw new InvalidOperationException($"metric {name} declared as {family.Type} and {type}");
        }
        else if (family.Help.Length == 0)
        {
            family.Help = help; // a family's help may be given by any of its samples
        }
        var sample = new StringBuilder(name);
        if (labels.Length > 0)
        {
            sample.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0) sample.Append(',');
                sample.Append(labels[i].Name).Append("=\"").Append(Escape(labels[i].Value)).Append('"');
            }
            sample.Append('}');
        }
        sample.Append(' ').Append(Format(value));
        family.Samples.Add(sample.ToString());
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var name in _order)
        {
            var family = _families[name];
            text.Append("# HELP ").Append(name).Append(' ').Append(family.Help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(family.Type).Append('\n');
            foreach (var sample in family.Samples) text.Append(sample).Append('\n');
        }
        return text.ToString();
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private static string Format(double value) =>
        double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : value.ToString("R", CultureInfo.InvariantCulture);
}
