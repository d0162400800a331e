using Fabric.Messages.Intent;
using Fabric.Node.Cli;
using Fabric.Node.Hosting;

// fabric-node: the agent (`run`, the default) and the operator verbs, one binary like consul or nomad.
return args switch
{
    [] => await RunNode([]),
    ["run", .. var rest] => await RunNode(rest),
    ["help" or "--help" or "-h", ..] => Help(),
    _ => await OperatorCommands.RunAsync(args, Console.Out, Console.Error),
};

static int Help()
{
    Console.WriteLine(NodeOptions.Usage);
    Console.WriteLine(OperatorCommands.Usage);
    return 0;
}

static async Task<int> RunNode(string[] args)
{
    NodeOptions options;
    try
    {
        options = NodeOptions.Parse(args, Environment.GetEnvironmentVariable);
        // The embedded default: a new cluster with no intent file named gets the sample intent.
        if (options.IntentFile is null && options.Seeds.IsEmpty) options = options with { IntentFile = IntentBootstrapper.Sample };
        if (IntentBootstrapper.ResolvePath(options.IntentFile) is { } path)
        {
            if (!File.Exists(path)) throw new ArgumentException($"--intent: no such file '{path}'");
            var parsed = IntentParser.Parse(await File.ReadAllTextAsync(path));
            if (!parsed.IsValid)
            {
                await Console.Error.WriteLineAsync($"fabric-node: {path} is not a valid intent document:");
                foreach (var e in parsed.Errors) await Console.Error.WriteLineAsync($"  {e}");
                return 2;
            }
        }
    }
    catch (ArgumentException e)
    {
        await Console.Error.WriteLineAsync($"fabric-node: {e.Message}");
        return 2;
    }

    var app = FabricNodeApp.Build(options);
    var node = app.Services.GetRequiredService<NodeContext>();
    var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("fabric-node");
    await app.StartAsync();
    log.LogInformation(
        "Node {Name} up: remoting {Host}:{Port}, roles {Roles}, data {Data}, store {Store}, token {TokenSource}, management http://{MHost}:{MPort} (OpenAPI /openapi/v1.json)",
        options.Name, options.Host, options.Port, string.Join(",", options.Roles), node.DataDir, node.Database.Describe(),
        node.TokenSource, options.ManagementHost, options.ManagementPort);
    await app.WaitForShutdownAsync();
    return 0;
}
