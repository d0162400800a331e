using Fabric.Benchmarks.Scenarios;

// Minimal dispatcher until the shared Scenarios registry is merged:
//   dotnet run -c Release --project Fabric.Benchmarks -- scenario underlay [--seconds 3] [--reps 3] [--pings 50]
if (args.Length >= 2 && args[0] == "scenario" && args[1] == "underlay")
{
    return UnderlayScenario.Run(args[2..]);
}

Console.Error.WriteLine("usage: Fabric.Benchmarks scenario underlay [--seconds N] [--reps N] [--pings N]");
return 2;
