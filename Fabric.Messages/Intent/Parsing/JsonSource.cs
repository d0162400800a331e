using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace Fabric.Messages.Intent.Parsing;

/// <summary>
/// Reads strict JSON with <see cref="Utf8JsonReader"/>, keeping each token's line and column
/// (computed from its byte offset), into the same tree the YAML front end builds.
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
            var root = ReadValue(ref reader, positions);
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
    }

    private static SourceNode ReadValue(ref Utf8JsonReader reader, Positions positions)
    {
        var (line, column) = positions.At(reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                var entries = ImmutableArray.CreateBuilder<SourceEntry>();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var (keyLine, keyColumn) = positions.At(reader.TokenStartIndex);
                    var key = reader.GetString() ?? "";
                    reader.Read();
                    entries.Add(new SourceEntry(key, keyLine, keyColumn, ReadValue(ref reader, positions)));
                }
                return new SourceMap(line, column, entries.ToImmutable());
            }
            case JsonTokenType.StartArray:
            {
                var items = ImmutableArray.CreateBuilder<SourceNode>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    items.Add(ReadValue(ref reader, positions));
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

    /// <summary>Maps a byte offset to a 1-based line and a 1-based column counted in characters.</summary>
    private sealed class Positions
    {
        private readonly byte[] _bytes;
        private readonly List<int> _lineStarts = [0];

        public Positions(byte[] bytes)
        {
            _bytes = bytes;
            for (var i = 0; i < bytes.Length; i++)
            {
                if (bytes[i] == (byte)'\n') _lineStarts.Add(i + 1);
            }
        }

        public (int Line, int Column) At(long offset)
        {
            var index = _lineStarts.BinarySearch((int)offset);
            var line = index >= 0 ? index : ~index - 1;
            var start = _lineStarts[line];
            return (line + 1, Encoding.UTF8.GetCharCount(_bytes, start, (int)offset - start) + 1);
        }
    }
}
