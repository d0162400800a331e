namespace Fabric.Messages.Intent;

/// <summary>What a declared check expects of its probe.</summary>
public enum CheckExpectation
{
    /// <summary><c>reach</c>: the probe is delivered at <c>to</c>.</summary>
    Reach,

    /// <summary><c>blocked</c>: the probe is dropped (or answered with a reject) before <c>to</c>.</summary>
    Blocked,
}

/// <summary>The protocol of a check's probe.</summary>
public enum ProbeProtocol
{
    Icmp,
    Tcp,
    Udp,
    Arp,
}

/// <summary>
/// One end of a check. Exactly one attachment point is named (<see cref="AttachmentCircuit"/>
/// as <c>PE/AC</c>; <see cref="Gateway"/> with <see cref="Tenant"/>; <see cref="Container"/> as
/// <c>HOST/NAME</c>; <see cref="Vm"/> as <c>HYPERVISOR/NAME</c>), or none for an outside address
/// (reached through whatever leads there). <see cref="Address"/> is the IPv4 address of that end.
/// </summary>
public sealed record CheckEndpoint(
    Ipv4 Address,
    string? AttachmentCircuit = null,
    string? Gateway = null,
    string? Tenant = null,
    string? Container = null,
    string? Vm = null)
{
    /// <summary>True when the end names no attachment point: an address outside the fabric.</summary>
    public bool IsOutside => AttachmentCircuit is null && Gateway is null && Container is null && Vm is null;

    public override string ToString() =>
        AttachmentCircuit is { } ac ? $"attachment circuit {ac} ({Address})"
        : Gateway is { } g ? $"gateway {g} tenant {Tenant} ({Address})"
        : Container is { } c ? $"container {c} ({Address})"
        : Vm is { } v ? $"vm {v} ({Address})"
        : $"outside address {Address}";
}

/// <summary>
/// An operator's declared check (the <c>checks</c> section): a probe from <see cref="From"/> to
/// <see cref="To"/> with <see cref="Protocol"/> (and destination <see cref="Port"/> for tcp/udp)
/// must reach or be blocked. Every change is judged by running these probes on the ghost network.
/// </summary>
public sealed record CheckIntent(
    string Name,
    CheckEndpoint From,
    CheckEndpoint To,
    ProbeProtocol Protocol,
    ushort? Port,
    CheckExpectation Expect);
