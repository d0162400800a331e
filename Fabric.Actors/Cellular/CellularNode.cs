using System.Collections.Concurrent;
using System.Collections.Immutable;
using Fabric.Actors.Cellular.Bridge;
using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.Cellular.Modem;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Cellular;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Cellular;

/// <summary>
/// The node-level part of the cellular capability: how VM ports and modems are opened, the
/// batch pool, settings, and the live objects the hypervisor actors publish for management.
/// One per node for main (<c>AddCellular</c>), and one in ghost mode for the ghost copy.
/// <para><b>Ghost mode</b> never opens a serial device, TUN/TAP device or namespace: every modem
/// (whatever its <c>device</c>) is the in-process emulator on an in-memory line link, its
/// raw-IP side an in-memory carrier (<see cref="MemoryCarrierPort"/>), and VM ports come from
/// the port factory the verifier passes in.</para>
/// </summary>
public sealed class CellularNode
{
    private int _nextPortId = 0x4000;

    /// <param name="ghost">Ghost mode: see the class remarks.</param>
    /// <param name="portFactory">Opens the VM-facing port of a VM (<c>vms[].port</c>) with a port id; default: TAP or an in-memory port.</param>
    /// <param name="settings">Timings and lease terms; default: read from <c>fabric.cellular</c> of the actor system's config.</param>
    public CellularNode(bool ghost = false, Func<PortRef, ushort, IPort>? portFactory = null, CellularSettings? settings = null)
    {
        Ghost = ghost;
        PortFactory = portFactory ?? DefaultPort;
        Settings = settings;
        var retained = (settings ?? CellularSettings.Default).PoolRetainedBatches;
        Pool = new PacketBatchPool(maxRetained: retained, preallocate: Math.Min(4, retained));
    }

    public bool Ghost { get; }

    /// <summary>Ghost only: where the bridges report probes (null on main).</summary>
    public IHopTracer? Tracer { get; init; }

    /// <summary>Opens a VM's port; tests and the ghost verifier pass their own.</summary>
    public Func<PortRef, ushort, IPort> PortFactory { get; }

    /// <summary>Null: read from the actor system's configuration when a hypervisor starts.</summary>
    public CellularSettings? Settings { get; }

    /// <summary>
    /// The carrier side of a simulated modem's raw-IP interface, by (hypervisor, modem, port id).
    /// Default: the in-memory carrier (works on any machine). Tests with real traffic give a TUN
    /// device whose other end is in a carrier network namespace. Not used in ghost mode.
    /// </summary>
    public Func<string, string, ushort, IPort> CarrierFactory { get; set; } = (hv, modem, id) => new MemoryCarrierPort($"{hv}-{modem}-carrier", id);

    /// <summary>How a simulated modem's AT channel is carried outside ghost mode (default: a pseudo-terminal).</summary>
    public SimulatedLink SimulatedLink { get; set; } = SimulatedLink.PseudoTerminal;

    /// <summary>Frames are 2 KiB slots: a 1514-byte VM frame fits with headroom.</summary>
    /// <remarks>Keeps <c>fabric.cellular.pool-retained-batches</c> idle batches.</remarks>
    public PacketBatchPool Pool { get; }

    public ConcurrentDictionary<string, HypervisorRuntime> Hypervisors { get; } = new();

    public ushort NextPortId() => (ushort)Interlocked.Increment(ref _nextPortId);

    /// <summary>The modem <paramref name="modem"/> of hypervisor <paramref name="hypervisor"/>, as this node runs it.</summary>
    public ModemDevice OpenDevice(string hypervisor, ModemIntent modem)
    {
        if (Ghost)
        {
            return ModemDevice.ForSimulated(
                new SimulatedModem(hypervisor, modem.Name, SimulatedLink.InMemory, new MemoryCarrierPort($"{hypervisor}-{modem.Name}-carrier"), NextPortId()),
                SimulatedLink.InMemory);
        }
        if (modem.IsSimulated)
        {
            var carrier = CarrierFactory(hypervisor, modem.Name, NextPortId());
            return ModemDevice.ForSimulated(new SimulatedModem(hypervisor, modem.Name, SimulatedLink, carrier, NextPortId()), SimulatedLink);
        }
        return ModemDevice.ForSerial(modem.Device, NextPortId());
    }

    /// <summary>TAP for <c>tap</c> ports (in the namespace the port names; not persistent); an in-memory port (inject/capture) for <c>simulated</c> ones.</summary>
    public static IPort DefaultPort(PortRef port, ushort id) => port.Kind switch
    {
        PortKind.Tap => TapPort.Open(port.Name, id, netns: port.Namespace),
        _ => new MemoryPort(port.Name, id),
    };

    /// <summary>What ghost elements attach VMs to when the verifier gives no factory: in-memory ports.</summary>
    public static IPort MemoryPorts(PortRef port, ushort id) => new MemoryPort(port.Name, id);

    public HypervisorStatus? Status(string name) => Hypervisors.TryGetValue(name, out var hv) ? hv.Status() : null;
}

/// <summary>A running hypervisor as management sees it (written by its actors).</summary>
public sealed class HypervisorRuntime(HypervisorIntent intent, string node, LeaseTerms lease)
{
    public HypervisorIntent Intent { get; set; } = intent;

    public LeaseTerms Lease { get; set; } = lease;

    public ConcurrentDictionary<string, ModemRuntime> Modems { get; } = new();

    public ConcurrentDictionary<string, VmRuntime> Vms { get; } = new();

    public HypervisorStatus Status() => new(
        Intent.Name,
        node,
        new BridgeStatus(Intent.Bridge.Name, Intent.Bridge.Mac.ToString(), Lease.Gateway.ToString(), Lease.LeaseSeconds, Lease.RenewSeconds),
        Modems.Values.OrderBy(m => m.Intent.Name, StringComparer.Ordinal).Select(m => m.Status()).ToImmutableArray(),
        Vms.Values.OrderBy(v => v.Intent.Name, StringComparer.Ordinal).Select(v => v.Status()).ToImmutableArray());
}

/// <summary>A modem's last machine state, published by its actor after every step.</summary>
public sealed class ModemRuntime(ModemIntent intent, ModemDevice device)
{
    private ModemState? _state;
    private string _link = "not open";

    public ModemIntent Intent => intent;

    public ModemDevice Device => device;

    public ModemState? State
    {
        get => Volatile.Read(ref _state);
        set => Volatile.Write(ref _state, value);
    }

    public string Link
    {
        get => Volatile.Read(ref _link);
        set => Volatile.Write(ref _link, value);
    }

    public ModemStatus Status()
    {
        var s = State;
        var c = s?.Counters ?? default;
        return new ModemStatus(
            intent.Name, device.Description, Link, intent.Apn,
            (s?.Phase ?? ModemPhase.Closed).ToString().ToLowerInvariant(),
            s is null ? 0 : Math.Max(0, Environment.TickCount64 - s.PhaseSinceMs),
            s?.SerialNumber, s?.Sim, s?.Registration?.Describe(), s?.SignalDbm,
            s?.Phase == ModemPhase.Connected ? "up" : "down", s?.Address?.ToString(), s?.LastError,
            new ModemCountersStatus(c.CommandsSent, c.Timeouts, c.Errors, c.GarbageLines, c.Urcs, c.Reopens, c.Dials,
                c.BearerDrops, c.AddressChanges, c.Reboots),
            new ModemDataStatus(device.Data.Name, device.Data.Counters.TxFrames, device.Data.Counters.RxFrames, DataDrops()));
    }

    private long DataDrops() => device.Data.Counters.TotalDrops + (device.Data is ModemDataPort port
        ? Enum.GetValues<ModemDataDrop>().Sum(port.Dropped)
        : 0);
}

/// <summary>A VM mapping: its port (re-opened by the bridge actor when it fails) and the bridge running on it.</summary>
public sealed class VmRuntime(VmIntent intent)
{
    private VmBridge? _bridge;
    private string? _portError;
    private long _restarts;

    public VmIntent Intent => intent;

    public VmBridge? Bridge
    {
        get => Volatile.Read(ref _bridge);
        set => Volatile.Write(ref _bridge, value);
    }

    public string? PortError
    {
        get => Volatile.Read(ref _portError);
        set => Volatile.Write(ref _portError, value);
    }

    public long PortRestarts => Interlocked.Read(ref _restarts);

    public void CountRestart() => Interlocked.Increment(ref _restarts);

    public VmStatus Status()
    {
        var b = Bridge;
        var drops = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
            Enum.GetValues<BridgeDrop>().Select(r => KeyValuePair.Create(KebabCase.Of(r.ToString()), b?.Dropped(r) ?? 0)).Where(kv => kv.Value > 0));
        return new VmStatus(
            intent.Name, intent.Mac.ToString(), intent.Mode.ToString().ToLowerInvariant(), intent.Modem,
            intent.Port.Kind.ToString().ToLowerInvariant(), intent.Port.Name,
            b?.VmPort.State.ToString().ToLowerInvariant() ?? "closed", PortError ?? b?.VmPort.StateDetail, PortRestarts,
            b?.Address?.ToString(), b?.VmAddress?.ToString(),
            b?.ToModem ?? 0, b?.ToVm ?? 0, b?.Translated ?? 0, b?.DhcpOffers ?? 0, b?.DhcpAcks ?? 0, b?.DhcpNaks ?? 0,
            b?.ArpReplies ?? 0, b?.LastMoveMs ?? -1, drops);
    }
}
