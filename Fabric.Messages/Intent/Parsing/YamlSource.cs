using System.Collections.Immutable;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Fabric.Messages.Intent.Parsing;

/// <summary>
/// Builds the source tree from YamlDotNet's parser events (each carries its start mark). The
/// events rather than <c>YamlStream</c>: the representation model throws on the first duplicate
/// key, and a duplicate key is one error among the others here, not the end of the parse.
/// Plain scalars are typed by the YAML 1.2 core schema (so <c>yes</c> is a string, not a
/// boolean, and <c>02:00:00:00:00:01</c> is not a sexagesimal number); quoted, literal and
/// folded scalars are always strings. Aliases share the anchored node, and count against the
/// value budget (<see cref="IntentParseLimits.MaxValues"/>) each time they are used, so an alias
/// bomb is refused, not expanded.
/// </summary>
internal static partial class YamlSource
{
    public static SourceNode? Load(string text, ReadContext context)
    {
        var parser = new Parser(new StringReader(text));
        try
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out _))
            {
                context.Error(1, 1, "", "empty document");
                return null;
            }
            parser.Consume<DocumentStart>();
            var builder = new Builder(parser, context);
            var root = builder.Node(0);
            if (root is null) return null;
            parser.Consume<DocumentEnd>();
            if (parser.Accept<DocumentStart>(out var second))
            {
                context.Error(Line(second.Start), Column(second.Start), "", "expected one YAML document, found a second one");
                return null;
            }
            return root;
        }
        catch (YamlException e)
        {
            context.Error(Line(e.Start), Column(e.Start), "", $"YAML syntax error: {Clean(e.Message)}");
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner gives up on some malformed input (an unclosed flow list
            // running into the next key) without a mark or a useful message; the end of the
            // last event it produced is the closest position we know.
            var at = parser.Current?.End ?? Mark.Empty;
            context.Error(Line(at), Column(at), "", "YAML syntax error: cannot read the text after this point (an unclosed '[' or '{'?)");
            return null;
        }
    }

    private static int Line(Mark mark) => (int)Math.Max(1, mark.Line);

    private static int Column(Mark mark) => (int)Math.Max(1, mark.Column);

    private sealed class Builder(IParser parser, ReadContext context)
    {
        private readonly Dictionary<string, (SourceNode Node, int Size)> _anchors = [];

        /// <summary>Reads the node at the parser's position; null after reporting why it cannot.</summary>
        public SourceNode? Node(int depth) => Read(depth)?.Node;

        private (SourceNode Node, int Size)? Read(int depth)
        {
            var start = parser.Current!.Start;
            var (line, column) = (Line(start), Column(start));
            context.CheckClock(line, column);
            if (depth > ReadContext.MaxDepth)
                return Refuse(line, column, "nesting too deep");

            switch (parser.Current)
            {
                case AnchorAlias alias:
                    parser.MoveNext();
                    if (!_anchors.TryGetValue(alias.Value.Value, out var anchored))
                        return Refuse(line, column, $"unknown alias '*{alias.Value.Value}'");
                    return Spend(anchored.Size, line, column, alias: true) ? anchored : null;

                case Scalar scalar:
                    parser.MoveNext();
                    return Spend(1, line, column) ? Anchor(scalar, (Typed(scalar, line, column), 1)) : null;

                case SequenceStart sequenceStart:
                {
                    parser.MoveNext();
                    var items = ImmutableArray.CreateBuilder<SourceNode>();
                    var size = 1;
                    while (!parser.TryConsume<SequenceEnd>(out _))
                    {
                        if (Read(depth + 1) is not { } item) return null;
                        items.Add(item.Node);
                        size += item.Size;
                    }
                    return Spend(1, line, column) ? Anchor(sequenceStart, (new SourceSequence(line, column, items.ToImmutable()), size)) : null;
                }

                case MappingStart mappingStart:
                {
                    parser.MoveNext();
                    var entries = ImmutableArray.CreateBuilder<SourceEntry>();
                    var size = 1;
                    while (!parser.TryConsume<MappingEnd>(out _))
                    {
                        if (Read(depth + 1) is not { } key) return null;
                        if (key.Node is not SourceScalar { Kind: not ScalarKind.Null } keyScalar)
                            return Refuse(key.Node.Line, key.Node.Column, "a mapping key must be a plain name");
                        if (Read(depth + 1) is not { } value) return null;
                        entries.Add(new SourceEntry(keyScalar.Text, keyScalar.Line, keyScalar.Column, value.Node));
                        size += 1 + value.Size;
                    }
                    return Spend(1, line, column) ? Anchor(mappingStart, (new SourceMap(line, column, entries.ToImmutable()), size)) : null;
                }

                default:
                    return Refuse(line, column, $"unexpected {parser.Current?.GetType().Name}");
            }
        }

        private (SourceNode, int) Anchor(NodeEvent node, (SourceNode Node, int Size) built)
        {
            if (!node.Anchor.IsEmpty) _anchors[node.Anchor.Value] = built;
            return built;
        }

        private bool Spend(int nodes, int line, int column, bool alias = false)
        {
            if (context.TrySpend(nodes)) return true;
            Refuse(line, column, alias ? "document too large (aliases expand to too many nodes)" : context.TooManyValues);
            return false;
        }

        private (SourceNode, int)? Refuse(int line, int column, string reason)
        {
            context.Error(line, column, "", reason);
            return null;
        }
    }

    private static SourceScalar Typed(Scalar scalar, int line, int column)
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
