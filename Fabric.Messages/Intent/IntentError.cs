using System.Collections.Immutable;

namespace Fabric.Messages.Intent;

/// <summary>
/// One thing wrong with an intent document. <paramref name="Line"/> and <paramref name="Column"/>
/// are 1-based; <paramref name="Field"/> is a path like <c>pws[2].remotePe</c> (indexes are
/// 0-based, empty for an error about the whole text).
/// </summary>
public sealed record IntentError(int Line, int Column, string Field, string Reason)
{
    public override string ToString() =>
        Field.Length == 0 ? $"line {Line}: {Reason}" : $"line {Line}, {Field}: {Reason}";
}

/// <summary>
/// The outcome of <see cref="IntentParser.Parse(string)"/>: either a whole valid document, or no
/// document and the first errors found (sorted by position, at most
/// <see cref="IntentParseLimits.MaxErrors"/>); <see cref="OmittedErrors"/> counts the rest.
/// </summary>
public sealed record IntentParseResult(IntentDocument? Document, ImmutableArray<IntentError> Errors)
{
    public bool IsValid => Document is not null;

    /// <summary>Errors found beyond the ones in <see cref="Errors"/>.</summary>
    public int OmittedErrors { get; init; }

    public static IntentParseResult Valid(IntentDocument document) => new(document, []);

    public static IntentParseResult Invalid(ImmutableArray<IntentError> errors, int omitted = 0) =>
        new(null, errors) { OmittedErrors = omitted };
}
