using System.Collections.Immutable;

namespace Fabric.Messages.Intent.Parsing;

// The format-neutral tree both front ends (YAML, JSON) produce, so there is one schema reader.
// Every node keeps where it started (1-based line and column).

internal abstract class SourceNode(int line, int column)
{
    public int Line { get; } = line;

    public int Column { get; } = column;

    /// <summary>How the node is named in "expected X, got Y" messages.</summary>
    public abstract string Describe { get; }
}

internal sealed class SourceMap(int line, int column, ImmutableArray<SourceEntry> entries) : SourceNode(line, column)
{
    public ImmutableArray<SourceEntry> Entries { get; } = entries;

    public override string Describe => "a mapping";

    public SourceEntry? Find(string key)
    {
        foreach (var entry in Entries)
        {
            if (entry.Key == key) return entry;
        }
        return null;
    }
}

/// <summary>A key and its value; <see cref="KeyLine"/>/<see cref="KeyColumn"/> locate the key itself.</summary>
internal sealed record SourceEntry(string Key, int KeyLine, int KeyColumn, SourceNode Value);

internal sealed class SourceSequence(int line, int column, ImmutableArray<SourceNode> items) : SourceNode(line, column)
{
    public ImmutableArray<SourceNode> Items { get; } = items;

    public override string Describe => "a list";
}

/// <summary>What a scalar is after the format's own typing (JSON tokens, YAML 1.2 core schema).</summary>
internal enum ScalarKind
{
    String,
    Number,
    Boolean,
    Null,
}

internal sealed class SourceScalar(int line, int column, string text, ScalarKind kind) : SourceNode(line, column)
{
    public string Text { get; } = text;

    public ScalarKind Kind { get; } = kind;

    /// <summary>Longest value quoted in a message: enough to recognise it, too little to echo a file back.</summary>
    public const int QuotedLength = 40;

    /// <summary>The kind alone (<c>a string</c>), for messages that must not quote the text.</summary>
    public string KindOnly => Kind switch
    {
        ScalarKind.String => "a string",
        ScalarKind.Number => "a number",
        ScalarKind.Boolean => "a boolean",
        _ => "null",
    };

    public override string Describe => Kind switch
    {
        ScalarKind.String => $"the string '{(Text.Length <= QuotedLength ? Text : Text[..QuotedLength] + "…")}'",
        ScalarKind.Number => $"the number {(Text.Length <= QuotedLength ? Text : Text[..QuotedLength] + "…")}",
        ScalarKind.Boolean => $"the boolean {Text}",
        _ => "null",
    };
}
