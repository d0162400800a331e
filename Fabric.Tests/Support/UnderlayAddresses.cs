namespace Fabric.Tests.Support;

/// <summary>
/// Loopback underlay addresses of their own for each test (127.0.N.2, .3, ...): a PW underlay
/// joins an SO_REUSEPORT group, so a node of an earlier test still holding the same address and
/// port would be handed part of this test's hellos and data.
/// </summary>
public static class UnderlayAddresses
{
    private static int _block = 100;

    public static string[] Next(int count)
    {
        var block = 100 + Interlocked.Increment(ref _block) % 150;
        return Enumerable.Range(2, count).Select(i => $"127.0.{block}.{i}").ToArray();
    }
}
