using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Switching;

/// <summary>The <c>fabric.switching</c> section of the node's HOCON, read once.</summary>
public sealed record SwitchingSettings(ushort GenevePort, ushort GhostGenevePort)
{
    public static readonly SwitchingSettings Default = new(UdpPorts.Geneve, UdpPorts.Geneve + 1);

    public static SwitchingSettings FromConfig(Akka.Configuration.Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int port = config.GetInt("fabric.switching.geneve-port", UdpPorts.Geneve);
        int ghost = config.GetInt("fabric.switching.ghost-geneve-port", 0);
        if (port is < 1 or > 65535)
        {
            throw new ArgumentException($"fabric.switching.geneve-port = {port} is not a UDP port (1..65535)");
        }

        if (ghost == 0)
        {
            ghost = port == 65535 ? port - 1 : port + 1;
        }

        if (ghost is < 1 or > 65535 || ghost == port)
        {
            throw new ArgumentException($"fabric.switching.ghost-geneve-port = {ghost} must be a UDP port other than geneve-port");
        }

        return new SwitchingSettings((ushort)port, (ushort)ghost);
    }
}
