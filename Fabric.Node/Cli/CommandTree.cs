using System.CommandLine;
using Fabric.Node.Cli.Lab;

namespace Fabric.Node.Cli;

/// <summary>
/// The operator palette as a System.CommandLine tree: every verb, its arguments and options,
/// and the help text generated from them (<c>fabric-node --help</c>, <c>fabric-node cluster --help</c>).
/// The options that reach the management API are recursive, so they go anywhere on the line.
/// </summary>
internal static class CommandTree
{
    public static readonly Option<bool> Json = new("--json") { Description = "print the API's JSON instead of tables (for scripts)", Recursive = true };

    public static readonly Option<string?> Management = new("--management")
    {
        Description = "the node's management API, HOST:PORT or https://HOST:PORT (FABRIC_MANAGEMENT, default 127.0.0.1:8558)",
        Recursive = true,
    };

    public static readonly Option<string?> Token = new("--token") { Description = "bearer token (FABRIC_TOKEN, default: read DATA/token)", Recursive = true };

    public static readonly Option<string?> Data = new("--data") { Description = "the node's data directory, where its token file is (FABRIC_DATA, default ./data)", Recursive = true };

    public static readonly Option<string?> CaCert = new("--cacert") { Description = "PEM file: trust this certificate or CA for https", Recursive = true };

    /// <summary>What a verb does once its line parsed: the palette it runs on, the parse, and the caller's cancellation.</summary>
    public delegate Task<int> Verb(OperatorCommands palette, ParseResult line, CancellationToken cancel);

    public static RootCommand Build(Func<ParseResult, OperatorCommands> palette)
    {
        var root = new RootCommand(
            "fabric-node: the Fabric agent (run) and the operator palette over its management API. " +
            "A failure prints one line on stderr and exits non-zero (2 bad usage, 1 refused by the node, 3 node unreachable, 4 change rejected, 5 change undecided).");
        root.Options.Add(Json);
        root.Options.Add(Management);
        root.Options.Add(Token);
        root.Options.Add(Data);
        root.Options.Add(CaCert);

        Command Leaf(string name, string description, Verb verb, params Symbol[] symbols)
        {
            var command = new Command(name, description);
            foreach (var symbol in symbols)
            {
                if (symbol is Argument argument) command.Arguments.Add(argument);
                else command.Options.Add((Option)symbol);
            }
            command.SetAction((line, cancel) => verb(palette(line), line, cancel));
            return command;
        }

        Command Group(string name, string description, params Command[] children)
        {
            var command = new Command(name, description);
            foreach (var child in children) command.Subcommands.Add(child);
            return command;
        }

        var run = new Command("run", "start a node (the agent; the default with no verb); 'fabric-node run --help' lists its options")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        run.SetAction(_ => 0); // Program.cs starts the agent before this tree is parsed.
        root.Subcommands.Add(run);

        var address = new Argument<string>("ADDRESS") { Description = "a member: akka.tcp://fabric@HOST:PORT or HOST:PORT" };
        root.Subcommands.Add(Group("cluster", "cluster membership and sharding",
            Leaf("show", "members, their status and roles, the leader, unreachable members", (p, _, c) => p.ClusterShow(c)),
            Leaf("leader", "the leader's address", (p, _, c) => p.ClusterLeader(c)),
            Leaf("join", "make this node join the cluster at ADDRESS (token)", (p, l, c) => p.ClusterJoin(l.GetValue(address)!, c), address),
            Leaf("leave", "make a member leave gracefully (token)", (p, l, c) => p.ClusterLeave(l.GetValue(address)!, c), address),
            Leaf("down", "mark a member down (token)", (p, l, c) => p.ClusterDown(l.GetValue(address)!, c), address),
            Leaf("down-unreachable", "mark every unreachable member down (token)", (p, _, c) => p.ClusterDownUnreachable(c)),
            ShardingGroup(Leaf)));

        root.Subcommands.Add(Group("actor", "actors", Leaf("hierarchy", "this node's actor tree under /user", (p, _, c) => p.Actors(c))));
        root.Subcommands.Add(Leaf("actors", "this node's actor tree (same as 'actor hierarchy')", (p, _, c) => p.Actors(c)));

        var follow = new Option<bool>("--follow", "-f") { Description = "keep printing new lines until Ctrl+C" };
        var lines = new Option<int>("--lines", "-n") { Description = "how many recent lines", DefaultValueFactory = _ => 50 };
        root.Subcommands.Add(Group("log", "the node's recent log lines",
            Leaf("tail", "the node's most recent log lines (a ring buffer on the node)",
                (p, l, c) => p.LogTail(l.GetValue(lines), l.GetValue(follow), c), follow, lines)));

        root.Subcommands.Add(Group("intent", "the committed intent",
            Leaf("show", "the committed intent (canonical JSON)", (p, _, c) => p.IntentShow(c)),
            Leaf("applied", "the intent version this node runs and the elements it runs", (p, _, c) => p.IntentApplied(c))));

        var file = new Argument<string>("FILE") { Description = "an intent document, YAML or JSON" };
        var baseVersion = new Option<string?>("--base") { Description = "the intent version the document was written against (409 if stale)" };
        var wait = new Option<bool>("--wait") { Description = "follow the ghost verification's progress until the change is decided" };
        var key = new Option<string?>("--idempotency-key") { Description = "the key sent with every attempt (made up when not given)" };
        var changeId = new Argument<string>("ID") { Description = "a change id" };
        root.Subcommands.Add(Group("change", "changes to the intent: proposed, verified on the ghost network, committed or rejected",
            Leaf("propose", "propose a whole intent document; retries a 503 or a lost answer with the same Idempotency-Key",
                (p, l, c) => p.Propose(l.GetValue(file)!, l.GetValue(baseVersion), l.GetValue(wait), l.GetValue(key), c), file, baseVersion, wait, key),
            Leaf("list", "recent changes", (p, _, c) => p.ChangeList(c)),
            Leaf("show", "one change with its verdict, findings and diff", (p, l, c) => p.ChangeShow(l.GetValue(changeId)!, c), changeId)));

        var name = new Argument<string>("NAME") { Description = "the element's name in the intent" };
        root.Subcommands.Add(Group("trunk", "PW trunks",
            Leaf("show", "a PW trunk: state, members, their share of frames and bytes", (p, l, c) => p.TrunkShow(l.GetValue(name)!, c), name)));
        root.Subcommands.Add(Group("pw", "pseudowires", Leaf("list", "this node's PWs: labels, liveness, counters", (p, _, c) => p.PwList(c))));
        root.Subcommands.Add(Group("gateway", "gateways",
            Leaf("show", "a gateway: ports, stage counters, drops, flow-cache stats per bucket", (p, l, c) => p.GatewayShow(l.GetValue(name)!, c), name)));
        var top = new Argument<string?>("N") { Description = "how many buckets", Arity = ArgumentArity.ZeroOrOne };
        root.Subcommands.Add(Group("flows", "flow caches",
            Leaf("top", "the busiest flow-cache buckets of this node's gateways", (p, l, c) => p.FlowsTop(l.GetValue(top), c), top)));
        root.Subcommands.Add(Group("host", "container hosts (MFE)",
            Leaf("show", "a host's MFE: DCNs, container ports (tag, MAC, IP, state, counters), overlay", (p, l, c) => p.HostShow(l.GetValue(name)!, c), name)));
        root.Subcommands.Add(Group("port", "container ports", Leaf("list", "this node's container ports with their counters and drops", (p, _, c) => p.PortList(c))));
        root.Subcommands.Add(Group("hv", "hypervisors with cellular modems",
            Leaf("list", "this node's hypervisors: modems (phase, address), VMs (leased address)", (p, _, c) => p.HvList(c)),
            Leaf("show", "a hypervisor: bridge, modems (registration, signal, bearer, errors), VMs", (p, l, c) => p.HvShow(l.GetValue(name)!, c), name)));
        var modem = new Argument<string>("HV/MODEM") { Description = "hypervisor and modem names" };
        root.Subcommands.Add(Group("modem", "cellular modems",
            Leaf("show", "one modem: dialogue phase, registration, signal, bearer, counters, data", (p, l, c) => p.ModemShow(l.GetValue(modem)!, c), modem)));

        root.Subcommands.Add(LabCommands.Build());
        return root;
    }

    private static Command ShardingGroup(Func<string, string, Verb, Symbol[], Command> leaf)
    {
        var region = new Argument<string>("REGION") { Description = "a shard region (see 'cluster sharding regions')" };
        var sharding = new Command("sharding", "Cluster.Sharding regions and shards");
        sharding.Subcommands.Add(leaf("regions", "the shard regions started on this node", (p, _, c) => p.ShardRegions(c), []));
        sharding.Subcommands.Add(leaf("region-stats", "a region's shards and entities on each node", (p, l, c) => p.RegionStats(l.GetValue(region)!, c), [region]));
        sharding.Subcommands.Add(leaf("shard-stats", "a region's shards on this node and their entity counts", (p, l, c) => p.ShardStats(l.GetValue(region)!, c), [region]));
        return sharding;
    }
}
