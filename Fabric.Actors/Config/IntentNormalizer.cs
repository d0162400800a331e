using System.Collections.Immutable;
using System.Text;
using Fabric.Messages.Config;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Config;

/// <summary>
/// Parses a proposed document into its canonical JSON, or the problems that refuse it. Runs
/// where the document arrives (the management API, the node's <c>--intent</c> file), never in
/// the config store, and within <see cref="IntentParseLimits"/>: the canonical form is held to
/// <see cref="IntentParseLimits.MaxBytes"/> too, since it is what crosses the cluster and the journal.
/// </summary>
public static class IntentNormalizer
{
    public static NormalizedDocument Normalize(string text) => Normalize(text, IntentParseLimits.Default);

    public static NormalizedDocument Normalize(string text, IntentParseLimits limits) =>
        From(IntentParser.Parse(text, limits), limits);

    /// <summary>Normalizes the bytes as sent: they must be UTF-8 (see <see cref="IntentParser.Parse(ReadOnlySpan{byte}, IntentParseLimits)"/>).</summary>
    public static NormalizedDocument Normalize(ReadOnlySpan<byte> utf8, IntentParseLimits limits) =>
        From(IntentParser.Parse(utf8, limits), limits);

    private static NormalizedDocument From(IntentParseResult result, IntentParseLimits limits)
    {
        if (!result.IsValid || result.Document is null)
            return new NormalizedDocument(null, ToProblems(result.Errors), null, result.OmittedErrors);
        var canonical = IntentJson.Write(result.Document);
        var size = Encoding.UTF8.GetByteCount(canonical);
        if (size > limits.MaxBytes)
            return new NormalizedDocument(null, [new DocumentProblem(1, 1, "",
                $"the document's canonical form is {size} bytes, over the limit of {limits.MaxBytes} (fabric.intent.max-bytes)")], null);
        return new NormalizedDocument(canonical, ImmutableArray<DocumentProblem>.Empty, result.Document.BaseVersion);
    }

    public static ImmutableArray<DocumentProblem> ToProblems(IEnumerable<IntentError> errors) =>
        errors.Select(e => new DocumentProblem(e.Line, e.Column, e.Field, e.Reason)).ToImmutableArray();

    /// <summary>
    /// The command that proposes a normalized document: the base version is the caller's, else the
    /// one written in the document.
    /// </summary>
    public static ProposeChange ToProposal(this NormalizedDocument document, long? baseVersion, string author, string? idempotencyKey = null)
    {
        if (!document.IsValid) throw new InvalidOperationException("an invalid document cannot be proposed");
        return new ProposeChange(document.Canonical!, baseVersion ?? document.DeclaredBaseVersion, author, idempotencyKey);
    }
}
