using System.Text.RegularExpressions;

namespace Fabric.Messages.Intent;

/// <summary>
/// The one grammar of element names (nodes, tenants, PEs, PWs, gateways, ...). Names become parts
/// of actor paths and of management routes, so they are plain: no wildcard an actor selection
/// would expand (<c>*</c>, <c>?</c>, <c>[</c>), no '/', no spaces.
/// </summary>
public static partial class IntentNames
{
    /// <summary>The grammar in words, for error messages.</summary>
    public const string Grammar = "1..63 letters, digits, '.', '_' or '-', starting with a letter or digit";

    public static bool IsValid(string? name) => name is not null && NamePattern().IsMatch(name);

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\z")]
    private static partial Regex NamePattern();
}
