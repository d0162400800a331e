using Fabric.Messages.Intent.Parsing;

namespace Fabric.Messages.Intent;

/// <summary>
/// Parses an intent document, YAML or JSON (JSON when the first non-blank character is
/// <c>{</c>), against one schema (docs/intent-schema.md). A document with any error is refused
/// whole: the result carries every error found and no document.
/// </summary>
public static class IntentParser
{
    public static IntentParseResult Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var context = new ReadContext();
        var body = text.TrimStart('\uFEFF');
        if (body.Trim().Length == 0)
        {
            context.Error(1, 1, "", "empty document");
            return IntentParseResult.Invalid(context.Errors);
        }

        var root = IsJson(body) ? JsonSource.Load(body, context) : YamlSource.Load(body, context);
        var document = root is null ? null : IntentReader.Read(root, context);
        if (document is not null) IntentChecks.Run(document, context);

        return context.HasErrors || document is null
            ? IntentParseResult.Invalid(context.Errors)
            : IntentParseResult.Valid(document);
    }

    private static bool IsJson(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsWhiteSpace(c)) return c == '{';
        }
        return false;
    }
}
