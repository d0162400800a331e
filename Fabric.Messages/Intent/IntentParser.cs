using System.Text;
using System.Text.Unicode;
using Fabric.Messages.Intent.Parsing;

namespace Fabric.Messages.Intent;

/// <summary>
/// Parses an intent document, YAML or JSON (JSON when the first non-blank character is
/// <c>{</c>), against one schema (docs/intent-schema.md). A document with any error is refused
/// whole: the result carries the first errors found and no document. Every parse is bounded by
/// <see cref="IntentParseLimits"/> (bytes, values, errors, time) and costs time linear in the text.
/// </summary>
public static class IntentParser
{
    /// <summary>Parses text from an operator or a client, within <see cref="IntentParseLimits.Default"/>.</summary>
    public static IntentParseResult Parse(string text) => Parse(text, IntentParseLimits.Default);

    public static IntentParseResult Parse(string text, IntentParseLimits limits)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(limits);
        var context = new ReadContext(limits);
        // Cheap bound before counting exactly: a char is at most 3 UTF-8 bytes.
        if ((long)text.Length * 3 > limits.MaxBytes && Encoding.UTF8.GetByteCount(text) is var size && size > limits.MaxBytes)
            return TooLarge(size, limits, context);
        return Run(text, context);
    }

    /// <summary>
    /// Parses the bytes of a document as sent (a request body, a file): they must be UTF-8, and a
    /// byte sequence that is not is refused at its line and column instead of being replaced.
    /// </summary>
    public static IntentParseResult Parse(ReadOnlySpan<byte> utf8, IntentParseLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var context = new ReadContext(limits);
        if (utf8.Length > limits.MaxBytes) return TooLarge(utf8.Length, limits, context);
        if (utf8.StartsWith("\uFEFF"u8)) utf8 = utf8[3..];
        if (!Utf8.IsValid(utf8))
        {
            var offset = FirstInvalidByte(utf8);
            var (line, column) = Position(utf8, offset);
            context.Error(line, column, "", $"the document is not valid UTF-8 (byte 0x{utf8[offset]:X2} at offset {offset}); save it as UTF-8");
            return Finish(null, context);
        }
        return Run(Encoding.UTF8.GetString(utf8), context);
    }

    private static IntentParseResult Run(string text, ReadContext context)
    {
        IntentDocument? document = null;
        try
        {
            var body = text.TrimStart('\uFEFF');
            if (body.AsSpan().IndexOfAnyExcept(" \t\r\n") < 0)
            {
                context.Error(1, 1, "", "empty document");
                return Finish(null, context);
            }
            var nul = body.IndexOf('\0');
            if (nul >= 0)
            {
                var (line, column) = Position(body, nul);
                context.Error(line, column, "", "the document contains a NUL character (U+0000)");
                return Finish(null, context);
            }

            var root = IsJson(body) ? JsonSource.Load(body, context) : YamlSource.Load(body, context);
            document = root is null ? null : IntentReader.Read(root, context);
            if (document is not null) IntentChecks.Run(document, context);
        }
        catch (IntentLimitExceededException e)
        {
            context.Error(e.Line, e.Column, "", e.Message);
            document = null;
        }
        return Finish(document, context);
    }

    private static IntentParseResult Finish(IntentDocument? document, ReadContext context)
    {
        if (!context.HasErrors && document is not null) return IntentParseResult.Valid(document);
        var (errors, omitted) = context.FirstErrors();
        return IntentParseResult.Invalid(errors, omitted);
    }

    private static IntentParseResult TooLarge(long size, IntentParseLimits limits, ReadContext context)
    {
        context.Error(1, 1, "", $"the document is {size} bytes, over the limit of {limits.MaxBytes} (fabric.intent.max-bytes)");
        return Finish(null, context);
    }

    private static bool IsJson(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsWhiteSpace(c)) return c == '{';
        }
        return false;
    }

    private static int FirstInvalidByte(ReadOnlySpan<byte> utf8)
    {
        var offset = 0;
        while (offset < utf8.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(utf8[offset..], out _, out var consumed) != System.Buffers.OperationStatus.Done)
                return offset;
            offset += consumed;
        }
        return utf8.Length - 1;
    }

    /// <summary>1-based line and column (in characters) of byte <paramref name="offset"/>; the bytes before it are valid UTF-8.</summary>
    private static (int Line, int Column) Position(ReadOnlySpan<byte> utf8, int offset)
    {
        var before = utf8[..offset];
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        return (before.Count((byte)'\n') + 1, Encoding.UTF8.GetCharCount(before[lineStart..]) + 1);
    }

    private static (int Line, int Column) Position(string text, int index)
    {
        var before = text.AsSpan(0, index);
        return (before.Count('\n') + 1, index - (before.LastIndexOf('\n') + 1) + 1);
    }
}
