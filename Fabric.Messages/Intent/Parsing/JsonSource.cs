using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace Fabric.Messages.Intent.Parsing;

/// <summary>
/// Reads strict JSON with <see cref="Utf8JsonReader"/>, keeping each token's line and column
/// (computed from its byte offset), into the same tree the YAML front end builds. Every token
/// spends one value of the parse's budget.
/// </summary>
internal static class JsonSource
{
    public static SourceNode? Load(string text, ReadContext context)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var positions = new Positions(bytes);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = ReadContext.MaxDepth });
        try
        {
            reader.Read();
            var root = ReadValue(ref reader, positions, context);
            // The reader throws on anything but whitespace after the root value.
            while (reader.Read())
            {
            }
            return root;
        }
        catch (JsonException e)
        {
            var line = (int)(e.LineNumber ?? 0) + 1;
            var column = (int)(e.BytePositionInLine ?? 0) + 1;
            var reason = e.Message;
            var cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
            context.Error(line, column, "", $"JSON syntax error: {(cut > 0 ? reason[..cut] : reason)}");
            return null;
        }
        catch (InvalidOperationException)
        {
            // GetString refuses a string whose \u escapes leave a surrogate unpaired ("\ud800"):
            // no text can hold it, so it is the document's error, not the parser's.
            var (line, column) = positions.At(reader.TokenStartIndex);
            context.Error(line, column, "", "JSON string with an unpaired surrogate escape (\\ud800-\\udfff); it is not text");
            return null;
        }
    }

    private static SourceNode ReadValue(ref Utf8JsonReader reader, Positions positions, ReadContext context)
    {
        var (line, column) = positions.At(reader.TokenStartIndex);
        context.Spend(1, line, column);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                var entries = ImmutableArray.CreateBuilder<SourceEntry>();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var (keyLine, keyColumn) = positions.At(reader.TokenStartIndex);
                    context.Spend(1, keyLine, keyColumn);
                    var key = reader.GetString() ?? "";
                    reader.Read();
                    entries.Add(new SourceEntry(key, keyLine, keyColumn, ReadValue(ref reader, positions, context)));
                }
                return new SourceMap(line, column, entries.ToImmutable());
            }
            case JsonTokenType.StartArray:
            {
                var items = ImmutableArray.CreateBuilder<SourceNode>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    items.Add(ReadValue(ref reader, positions, context));
                return new SourceSequence(line, column, items.ToImmutable());
            }
            case JsonTokenType.String:
                return new SourceScalar(line, column, reader.GetString() ?? "", ScalarKind.String);
            case JsonTokenType.Number:
                return new SourceScalar(line, column, Encoding.UTF8.GetString(reader.ValueSpan), ScalarKind.Number);
            case JsonTokenType.True:
                return new SourceScalar(line, column, "true", ScalarKind.Boolean);
            case JsonTokenType.False:
                return new SourceScalar(line, column, "false", ScalarKind.Boolean);
            default:
                return new SourceScalar(line, column, "null", ScalarKind.Null);
        }
    }

    /// <summary>
    /// Maps a byte offset to a 1-based line and a 1-based column counted in characters. Tokens
    /// come in increasing offsets, so the column is counted on from the previous token rather
    /// than from the start of its line: one pass over the text in all (a 4 MB single line of 2 M
    /// tokens took 65 s when each column was recounted from the line's start).
    /// </summary>
    private sealed class Positions
    {
        private readonly byte[] _bytes;
        private readonly List<int> _lineStarts = [0];
        private int _lastOffset;
        private int _lastLine;
        private int _lastColumn;

        public Positions(byte[] bytes)
        {
            _bytes = bytes;
            var span = bytes.AsSpan();
            for (var at = span.IndexOf((byte)'\n'); at >= 0;)
            {
                _lineStarts.Add(at + 1);
                var next = span[(at + 1)..].IndexOf((byte)'\n');
                at = next < 0 ? -1 : at + 1 + next;
            }
        }

        public (int Line, int Column) At(long position)
        {
            var offset = (int)position;
            int line;
            int from;
            int column;
            if (offset >= _lastOffset && (_lastLine + 1 >= _lineStarts.Count || offset < _lineStarts[_lastLine + 1]))
            {
                (line, from, column) = (_lastLine, _lastOffset, _lastColumn);
            }
            else
            {
                var index = _lineStarts.BinarySearch(offset);
                line = index >= 0 ? index : ~index - 1;
                (from, column) = (_lineStarts[line], 0);
            }
            column += Encoding.UTF8.GetCharCount(_bytes, from, offset - from);
            (_lastOffset, _lastLine, _lastColumn) = (offset, line, column);
            return (line + 1, column + 1);
        }
    }
}
