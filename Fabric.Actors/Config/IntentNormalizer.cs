using System.Collections.Immutable;
using Fabric.Messages.Config;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Config;

/// <summary>Parses a proposed document into its canonical JSON, or the problems that refuse it.</summary>
public static class IntentNormalizer
{
    public static NormalizedDocument Normalize(string text)
    {
        var result = IntentParser.Parse(text);
        if (!result.IsValid || result.Document is null)
            return new NormalizedDocument(null, ToProblems(result.Errors), null);
        return new NormalizedDocument(IntentJson.Write(result.Document), ImmutableArray<DocumentProblem>.Empty, result.Document.BaseVersion);
    }

    public static ImmutableArray<DocumentProblem> ToProblems(IEnumerable<IntentError> errors) =>
        errors.Select(e => new DocumentProblem(e.Line, e.Column, e.Field, e.Reason)).ToImmutableArray();
}
