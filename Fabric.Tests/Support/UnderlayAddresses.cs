namespace Fabric.Tests.Support;

/// <summary>
/// Loopback underlay addresses of their own for each test (127.0.N.2, .3, ...): a PW underlay
/// refuses an address and port another socket holds, so a node of an earlier test still
/// stopping (or of another test process) on the same address would keep this test's PEs from
/// starting.
/// </summary>
public static class UnderlayAddresses
{
    // Started from the process id: two test processes on one machine (a developer's run beside
    // another) then take different blocks instead of the same sequence.
    private static int _block = Environment.ProcessId % 150;

    public static string[] Next(int count)
    {
        var block = 100 + Interlocked.Increment(ref _block) % 150;
        return Enumerable.Range(2, count).Select(i => $"127.0.{block}.{i}").ToArray();
    }
}
