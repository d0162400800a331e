using System.Text.RegularExpressions;
using Fabric.Actors.Cellular;

namespace Fabric.Node.Management;

/// <summary>
/// The hypervisors this node hosts: per modem the dialogue's phase, registration, signal, APN,
/// bearer and address, counters and last error; the bridge; per VM its port, leased address,
/// traffic and drops. Names are checked before they are looked up (400 for a malformed one).
/// </summary>
public static partial class CellularEndpoints
{
    public sealed record ModemSummary(string Name, string Phase, string Bearer, string? Address, int? SignalDbm, string? Registration, string? LastError);

    public sealed record VmSummary(string Name, string Mac, string Port, string PortState, string? LeasedAddress);

    public sealed record HypervisorSummary(string Name, string Node, string Bridge, string BridgeMac, IReadOnlyList<ModemSummary> Modems, IReadOnlyList<VmSummary> Vms);

    public static void MapCellularEndpoints(this WebApplication app)
    {
        app.MapGet("/hypervisors", (CellularNode cellular) => Results.Ok(new
        {
            hypervisors = cellular.Hypervisors.Keys.Order(StringComparer.Ordinal)
                .Select(cellular.Status).Where(s => s is not null).Select(s => new HypervisorSummary(
                    s!.Name, s.Node, s.Bridge.Name, s.Bridge.Mac,
                    s.Modems.Select(m => new ModemSummary(m.Name, m.Phase, m.Bearer, m.Address, m.SignalDbm, m.Registration, m.LastError)).ToArray(),
                    s.Vms.Select(v => new VmSummary(v.Name, v.Mac, $"{v.PortKind}:{v.Port}", v.PortState, v.LeasedAddress)).ToArray()))
                .ToArray(),
        })).WithSummary("Hypervisors on this node: modems (phase, bearer, address, signal) and VMs");

        app.MapGet("/hypervisors/{name}", (string name, CellularNode cellular) =>
        {
            if (Invalid(name, "hypervisor") is { } bad) return bad;
            return cellular.Status(name) is { } status ? Results.Ok(status) : Problems.NotFound($"no hypervisor '{name}' on this node");
        }).WithSummary("One hypervisor: bridge, each modem's dialogue and bearer with counters, each VM's port, lease, traffic and drops");

        app.MapGet("/hypervisors/{name}/modems/{modem}", (string name, string modem, CellularNode cellular) =>
        {
            if ((Invalid(name, "hypervisor") ?? Invalid(modem, "modem")) is { } bad) return bad;
            if (cellular.Status(name) is not { } status) return Problems.NotFound($"no hypervisor '{name}' on this node");
            return status.Modems.FirstOrDefault(m => m.Name == modem) is { } m
                ? Results.Ok(m)
                : Problems.NotFound($"hypervisor '{name}' has no modem '{modem}'");
        }).WithSummary("One modem: registration, signal, APN, bearer state, address, counters, last error");
    }

    private static IResult? Invalid(string name, string what) => NamePattern().IsMatch(name)
        ? null
        : Problems.BadRequest($"'{name}' is not a valid {what} name (1..63 letters, digits, '.', '_' or '-', starting with a letter or digit)");

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();
}
