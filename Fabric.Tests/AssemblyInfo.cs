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
    /// to an in-process node can wait seconds on a loaded machine. Start the pool with enough
    /// threads for that. (CI stop 19's 30 s timeouts on <c>/actors</c> were not this but a hang in
    /// Akka's Inbox, fixed in <c>ActorEndpoints</c>.)
    /// </summary>
    [ModuleInitializer]
    internal static void ThreadPoolFloor()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
    }
}
