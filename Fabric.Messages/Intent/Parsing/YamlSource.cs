using System.Collections.Immutable;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Fabric.Messages.Intent.Parsing;

/// <summary>
/// Loads YAML with YamlDotNet's representation model and types plain scalars by the YAML 1.2
/// core schema (so <c>yes</c> is a string, not a boolean, and <c>02:00:00:00:00:01</c> is
/// not a sexagesimal number). Quoted, literal and folded scalars are always strings.
/// </summary>
internal static partial class YamlSource
{
    public static SourceNode? Load(string text, ReadContext context)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            var reason = e.InnerException is ArgumentException ? "duplicate key" : Clean(e.Message);
            context.Error((int)e.Start.Line, (int)e.Start.Column, "", $"YAML syntax error: {reason}");
            return null;
        }

        if (stream.Documents.Count == 0)
        {
            context.Error(1, 1, "", "empty document");
            return null;
        }
        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode.Start;
            context.Error((int)second.Line, (int)second.Column, "", "expected one YAML document, found a second one");
            return null;
        }

        var budget = ReadContext.MaxNodes;
        return Convert(stream.Documents[0].RootNode, context, 0, ref budget);
    }

    private static SourceNode? Convert(YamlNode node, ReadContext context, int depth, ref int budget)
    {
        var (line, column) = ((int)node.Start.Line, (int)node.Start.Column);
        if (depth > ReadContext.MaxDepth || --budget < 0)
        {
            context.Error(line, column, "", depth > ReadContext.MaxDepth ? "nesting too deep" : "document too large (aliases expand to too many nodes)");
            return null;
        }
        switch (node)
        {
            case YamlScalarNode scalar:
                return Scalar(scalar, line, column);
            case YamlSequenceNode sequence:
            {
                var items = ImmutableArray.CreateBuilder<SourceNode>();
                foreach (var child in sequence.Children)
                {
                    var item = Convert(child, context, depth + 1, ref budget);
                    if (item is null) return null;
                    items.Add(item);
                }
                return new SourceSequence(line, column, items.ToImmutable());
            }
            case YamlMappingNode mapping:
            {
                var entries = ImmutableArray.CreateBuilder<SourceEntry>();
                foreach (var (key, value) in mapping.Children)
                {
                    if (key is not YamlScalarNode keyScalar)
                    {
                        context.Error((int)key.Start.Line, (int)key.Start.Column, "", "a mapping key must be a plain name");
                        return null;
                    }
                    var converted = Convert(value, context, depth + 1, ref budget);
                    if (converted is null) return null;
                    entries.Add(new SourceEntry(keyScalar.Value ?? "", (int)key.Start.Line, (int)key.Start.Column, converted));
                }
                return new SourceMap(line, column, entries.ToImmutable());
            }
            default:
                context.Error(line, column, "", "unsupported YAML node");
                return null;
        }
    }

    private static SourceScalar Scalar(YamlScalarNode scalar, int line, int column)
    {
        var text = scalar.Value ?? "";
        var tag = scalar.Tag.IsEmpty ? "" : scalar.Tag.Value;
        if (scalar.Style != ScalarStyle.Plain || tag is "tag:yaml.org,2002:str" or "!")
            return new SourceScalar(line, column, text, ScalarKind.String);
        if (text is "" or "~" or "null" or "Null" or "NULL")
            return new SourceScalar(line, column, text, ScalarKind.Null);
        if (text is "true" or "True" or "TRUE")
            return new SourceScalar(line, column, "true", ScalarKind.Boolean);
        if (text is "false" or "False" or "FALSE")
            return new SourceScalar(line, column, "false", ScalarKind.Boolean);
        return new SourceScalar(line, column, text, NumberPattern().IsMatch(text) ? ScalarKind.Number : ScalarKind.String);
    }

    /// <summary>YamlDotNet prefixes messages with the marks, which our error already carries.</summary>
    private static string Clean(string message)
    {
        var cleaned = MarkPrefix().Replace(message, "");
        return cleaned.Length == 0 ? message : cleaned;
    }

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();
}
