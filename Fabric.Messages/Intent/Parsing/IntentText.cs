using System.Collections.Immutable;

namespace Fabric.Messages.Intent.Parsing;

/// <summary>The one spelling of each enum value, shared by the parser and the canonical writer.</summary>
internal static class IntentText
{
    public static readonly EnumText<NodeRole> Role = new((NodeRole.Fabric, "fabric"), (NodeRole.GhostShadow, "ghost-shadow"));

    public static readonly EnumText<PortKind> PortKind = new((Intent.PortKind.Tap, "tap"), (Intent.PortKind.Simulated, "simulated"), (Intent.PortKind.LogicalSwitch, "logicalSwitch"));

    public static readonly EnumText<VmMode> VmMode = new((Intent.VmMode.Passthrough, "passthrough"), (Intent.VmMode.Nat, "nat"));

    public static readonly EnumText<TrunkMode> TrunkMode = new((Intent.TrunkMode.PerFlow, "perFlow"), (Intent.TrunkMode.PerPacket, "perPacket"));

    public static readonly EnumText<TrunkBalance> TrunkBalance = new((Intent.TrunkBalance.Hash, "hash"), (Intent.TrunkBalance.LeastLoaded, "leastLoaded"));

    public static readonly EnumText<DnatProtocol> DnatProtocol = new((Intent.DnatProtocol.Tcp, "tcp"), (Intent.DnatProtocol.Udp, "udp"));

    public static readonly EnumText<FirewallPolicy> Policy = new((FirewallPolicy.Allow, "allow"), (FirewallPolicy.Deny, "deny"));

    public static readonly EnumText<FirewallAction> Action =
        new((FirewallAction.Allow, "allow"), (FirewallAction.Deny, "deny"), (FirewallAction.Reject, "reject"));

    public static readonly EnumText<CheckExpectation> Expect = new((CheckExpectation.Reach, "reach"), (CheckExpectation.Blocked, "blocked"));

    public static readonly EnumText<ProbeProtocol> ProbeProtocol = new(
        (Intent.ProbeProtocol.Icmp, "icmp"), (Intent.ProbeProtocol.Tcp, "tcp"), (Intent.ProbeProtocol.Udp, "udp"), (Intent.ProbeProtocol.Arp, "arp"));

    public static readonly EnumText<RuleProtocol> RuleProtocol = new(
        (Intent.RuleProtocol.Any, "any"), (Intent.RuleProtocol.Tcp, "tcp"),
        (Intent.RuleProtocol.Udp, "udp"), (Intent.RuleProtocol.Icmp, "icmp"));
}

internal sealed class EnumText<T>(params (T Value, string Text)[] entries)
    where T : struct, Enum
{
    private readonly ImmutableArray<(T Value, string Text)> _entries = [.. entries];

    /// <summary>The accepted spellings, for error messages: <c>tap|simulated</c>.</summary>
    public string Choices => string.Join('|', _entries.Select(e => e.Text));

    public string Of(T value) => _entries.First(e => EqualityComparer<T>.Default.Equals(e.Value, value)).Text;

    public bool TryParse(string text, out T value)
    {
        foreach (var (v, t) in _entries)
        {
            if (t == text)
            {
                value = v;
                return true;
            }
        }
        value = default;
        return false;
    }
}
