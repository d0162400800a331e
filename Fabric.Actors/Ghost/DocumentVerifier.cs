using System.Collections.Immutable;
using Fabric.Messages.Config;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Ghost;

/// <summary>
/// The first ghost verifier: the proposed intent must be a valid document. Later verifiers
/// (reachability, isolation, loops, black holes) judge probe traces on the ghost network.
/// </summary>
public static class DocumentVerifier
{
    public const string Name = "document-validity";

    public static SubmitVerdict Verify(VerifyChange change, string node)
    {
        var result = IntentParser.Parse(change.Proposed, IntentParseLimits.Trusted);
        var verifier = $"{Name}@{node}";
        if (!result.IsValid || result.Document is null)
            return new SubmitVerdict(change.ChangeId, false, verifier,
                result.Errors.Select(e => $"line {e.Line}, {e.Field}: {e.Reason}").ToImmutableArray());

        var d = result.Document;
        return new SubmitVerdict(change.ChangeId, true, verifier, ImmutableArray.Create(
            $"document valid: {d.Nodes.Length} node(s), {d.Tenants.Length} tenant(s), {d.Pes.Length} PE(s), " +
            $"{d.Pws.Length} PW(s), {d.Trunks.Length} trunk(s), {d.Gateways.Length} gateway(s)"));
    }
}
