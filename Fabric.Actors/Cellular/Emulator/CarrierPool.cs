using System.Text;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Emulator;

/// <summary>
/// The addresses a simulated carrier hands one modem: a /24 of the shared address space
/// 100.64.0.0/10 (RFC 6598, what carriers' CGNAT gives handsets) chosen by a stable hash of
/// <c>hypervisor/modem</c>, host addresses .10 to .249 in order. Deterministic, so a ghost
/// verifier knows the address a VM will get before the element runs
/// (<see cref="CellularGhost.Attachment"/>), and a test knows which /24 to route to the modem.
/// </summary>
public sealed class CarrierPool
{
    public const int FirstHost = 10;
    public const int LastHost = 249;

    private readonly Lock _lock = new();
    private int _next;

    public CarrierPool(Ipv4Address network)
    {
        if ((network.ToUInt32() & 0xFF) != 0) throw new ArgumentException($"{network} is not a /24 network", nameof(network));
        Network = network;
    }

    /// <summary>The /24 the carrier routes to this modem.</summary>
    public Ipv4Address Network { get; }

    public const int PrefixLength = 24;

    /// <summary>The pool of modem <paramref name="modem"/> on hypervisor <paramref name="hypervisor"/>.</summary>
    public static CarrierPool For(string hypervisor, string modem) => new(NetworkOf(hypervisor, modem));

    /// <summary>The /24 of a modem: 100.64.0.0/10 + 256 × (FNV-1a of "hypervisor/modem" mod 16384).</summary>
    public static Ipv4Address NetworkOf(string hypervisor, string modem)
    {
        uint hash = 2166136261;
        foreach (var b in Encoding.UTF8.GetBytes($"{hypervisor}/{modem}"))
        {
            hash = (hash ^ b) * 16777619;
        }
        return new Ipv4Address(new Ipv4Address(100, 64, 0, 0).ToUInt32() + ((hash % 16384) << 8));
    }

    /// <summary>The first address a fresh pool hands out.</summary>
    public static Ipv4Address FirstAddressOf(string hypervisor, string modem) =>
        new(NetworkOf(hypervisor, modem).ToUInt32() + FirstHost);

    /// <summary>The next address, different from <paramref name="current"/>, wrapping round the pool.</summary>
    public Ipv4Address Next(Ipv4Address? current = null)
    {
        lock (_lock)
        {
            for (var i = 0; i < 2; i++)
            {
                var address = new Ipv4Address(Network.ToUInt32() + (uint)(FirstHost + _next));
                _next = (_next + 1) % (LastHost - FirstHost + 1);
                if (address != current) return address;
            }
            throw new InvalidOperationException("unreachable: a pool of 240 addresses has two different ones");
        }
    }
}
