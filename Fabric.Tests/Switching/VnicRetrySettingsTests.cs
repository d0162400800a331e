using Akka.Actor;
using Akka.Configuration;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Switching;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Switching;

/// <summary>
/// A VNIC port that cannot be opened is retried at <c>fabric.switching.vnic-retry-min</c>,
/// doubling up to <c>vnic-retry-max</c>: the real MFE and VNIC actors, one system with the shipped
/// settings and one with shorter ones, counting the attempts each makes in the same time.
/// </summary>
public sealed class VnicRetrySettingsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_vnic_port_that_cannot_open_is_retried_as_often_as_the_vnic_retry_settings_say()
    {
        var window = TimeSpan.FromSeconds(1.5);
        var shipped = await AttemptsWithin(window, "");
        var fast = await AttemptsWithin(window, "fabric.switching { vnic-retry-min = 20ms, vnic-retry-max = 40ms }");
        output.WriteLine($"open attempts in {window.TotalSeconds} s: {shipped} as shipped (100 ms doubling to 5 s), {fast} with 20 ms doubling to 40 ms");
        // Shipped: at 0, 100, 300, 700 and 1500 ms, at most 5. Faster: every 40 ms once the 20 ms is spent.
        Assert.InRange(shipped, 2, 5);
        Assert.True(fast >= 15, $"{fast} attempts with the shorter retry");
    }

    private static async Task<int> AttemptsWithin(TimeSpan window, string hocon)
    {
        var attempts = 0;
        var node = new SwitchingNode(genevePort: (ushort)(47000 + Environment.ProcessId % 1000), portFactory: (port, id) =>
        {
            if (port.Name != "dcn-1") return SwitchingNode.IdlePort(port, id);
            Interlocked.Increment(ref attempts);
            throw new IOException($"no such device {port.Name}");
        });
        using var _ = node;
        using var system = ActorSystem.Create("vnic-retry", ConfigurationFactory.ParseString(hocon + "\nakka.loglevel = OFF"));
        try
        {
            var kind = new MfeElementKind(node);
            var spec = Assert.Single(kind.Desired(MfeRig.Document, "node-1"));
            system.ActorOf(kind.Props(spec), spec.ChildName);
            await Eventually.Holds(() => Volatile.Read(ref attempts) >= 1, TimeSpan.FromSeconds(10), "the first open attempt");
            var first = Volatile.Read(ref attempts);
            await Task.Delay(window);
            return Volatile.Read(ref attempts) - first + 1;
        }
        finally
        {
            await system.Terminate();
        }
    }
}
