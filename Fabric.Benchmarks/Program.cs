using BenchmarkDotNet.Running;

namespace Fabric.Benchmarks;

public static class Program
{
    /// <summary>
    /// `dotnet run -c Release --project Fabric.Benchmarks -- --filter '*Wire*'` runs BenchmarkDotNet;
    /// `... -- scenario &lt;name&gt; [args]` runs an end-to-end scenario from <see cref="Scenarios"/>.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "scenario")
        {
            return Scenarios.Run(args[1..]);
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
