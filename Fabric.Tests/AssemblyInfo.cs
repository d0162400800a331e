using System.Runtime.CompilerServices;

// Cluster, process and namespace tests share 2 cores and real ports: run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Fabric.Tests;

internal static class TestProcess
{
    /// <summary>
    /// Test helpers wait for processes (ip, iperf3, ping, curl) synchronously, often on thread-pool
    /// threads, while in-process nodes (Kestrel, Akka's default dispatcher) share that pool. With 2
    /// cores the pool starts at 2 threads and adds about one a second when they block, so a request
    /// to an in-process node could wait tens of seconds on a loaded machine (CI, stop 19: 30 s
    /// HTTP timeouts on routes that do no work). Start the pool with enough threads for that.
    /// </summary>
    [ModuleInitializer]
    internal static void ThreadPoolFloor()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
    }
}
