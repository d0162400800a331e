using BenchmarkDotNet.Running;
using Fabric.Benchmarks;

// Micro benchmarks:  dotnet run -c Release --project Fabric.Benchmarks -- --filter '*Wire*'
// Scenarios:         dotnet run -c Release --project Fabric.Benchmarks -- scenario <name> [options]
if (args is ["scenario", .. var rest])
{
    Fabric.Benchmarks.Scenarios.ScenarioCleanup.HandleSignals(); // Ctrl-C and SIGTERM leave no namespace, node or server behind
    return ScenarioRegistry.Run(rest);
}

// The paced 64-byte sender of `scenario tap`, in a process of its own (see PacedFrameSender).
if (args is ["pace", .. var pace])
{
    return Fabric.Benchmarks.Scenarios.PacedFrameSender.Pace(pace);
}

BenchmarkSwitcher.FromAssembly(typeof(ScenarioRegistry).Assembly).Run(args);
return 0;
