using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Gateway.Pipeline;

namespace Fabric.Actors.Gateway.Actors;

// The stage actors' protocol: local to the gateway's node (the tables are live objects, never serialized).

/// <summary>
/// Gateway → tenant-T → each stage actor: build your table for <paramref name="Layout"/> (round
/// <paramref name="Round"/> of the gateway's reconfiguration). Each answers <see cref="StageBuilt"/>
/// to the gateway.
/// </summary>
public sealed record BuildStages(int Round, TenantLayout Layout);

/// <summary>
/// A stage actor's table for <paramref name="Round"/>: a new one when what the stage decides with
/// changed (<paramref name="Rebuilt"/>), else the one it already published.
/// </summary>
public sealed record StageBuilt(int Round, string Tenant, GatewayStage Stage, StageTable Table, bool Rebuilt);

/// <summary>Asks a stage actor what it holds and its counters; replies <see cref="StageTableStatus"/>.</summary>
public sealed record GetStageStatus
{
    public static readonly GetStageStatus Instance = new();
}

/// <summary>
/// tenant-T: one tenant of a gateway, supervising its four stage actors (dr, sr, nat, fw) and
/// handing each the tenant's layout when the gateway reconfigures. A stage actor that fails is
/// resumed with the table it had (the plan still holds it).
/// </summary>
public sealed class TenantActor : ReceiveActor
{
    public static readonly (string Name, GatewayStage Stage)[] Stages =
    [
        ("dr", GatewayStage.DistributedRouter),
        ("sr", GatewayStage.ServiceRouter),
        ("nat", GatewayStage.Nat),
        ("fw", GatewayStage.Firewall),
    ];

    /// <param name="tables">The tables the gateway's first plan was compiled with (null: the stage actors build theirs on the first <see cref="BuildStages"/>).</param>
    public TenantActor(string tenant, TenantStageTables? tables)
    {
        foreach (var (name, stage) in Stages) Context.ActorOf(StageActor.Props(tenant, stage, tables?[stage]), name);
        Receive<BuildStages>(b =>
        {
            foreach (var (name, _) in Stages) Context.Child(name).Forward(b);
        });
    }

    public static Props Props(string tenant, TenantStageTables? tables) => ActorProps.Of(() => new TenantActor(tenant, tables));

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Resume);
}

/// <summary>
/// tenant-T/dr|sr|nat|fw: one stage of one tenant. It builds its stage's table from the tenant's
/// layout on every reconfiguration, keeping the one it has when nothing it decides with changed
/// (so a change to one tenant's firewall republishes that firewall table only), and publishes it
/// to the gateway, which installs it in the next plan. The data path and the miss path read the
/// table from the plan (never through this mailbox); the table carries the stage's counters and
/// trace log, which this actor reports (<see cref="GetStageStatus"/>).
/// </summary>
public sealed class StageActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private StageTable? _table;

    public StageActor(string tenant, GatewayStage stage, StageTable? table)
    {
        _table = table;
        Receive<BuildStages>(b =>
        {
            var before = _table;
            StageTable built;
            try
            {
                built = TenantStageTables.Build(stage, b.Layout, before);
            }
            catch (Exception e) when (before is not null)
            {
                // The intent was validated before commit, so this is a bug: keep serving what we have.
                _log.Error(e, "Gateway tenant {0} stage {1}: table not rebuilt, keeping generation {2}", tenant, stage, before.Generation);
                built = before;
            }
            _table = built;
            var rebuilt = !ReferenceEquals(built, before);
            if (rebuilt && before is not null) _log.Info("Gateway tenant {0} stage {1}: table generation {2}: {3}", tenant, stage, built.Generation, built.Summary);
            Sender.Tell(new StageBuilt(b.Round, tenant, stage, built, rebuilt));
        });
        Receive<GetStageStatus>(_ =>
        {
            if (_table is { } t) Sender.Tell(t.Status());
            else Sender.Tell(new Status.Failure(new InvalidOperationException($"tenant {tenant} stage {stage}: no table built yet")));
        });
    }

    public static Props Props(string tenant, GatewayStage stage, StageTable? table) => ActorProps.Of(() => new StageActor(tenant, stage, table));
}
