using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Fabric.Messages.Config;

namespace Fabric.Actors.Ghost;

/// <summary>
/// /user/ghost on ghost-shadow nodes: receives every proposed change (and every commit, to keep
/// its copy of main), verifies the proposal and answers the config store with a verdict.
/// </summary>
public sealed class GhostShadowActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _configStore;
    private readonly string _node;
    private long _mainVersion;

    public GhostShadowActor(IActorRef configStore, string node)
    {
        _configStore = configStore;
        _node = node;

        Receive<VerifyChange>(change =>
        {
            var verdict = DocumentVerifier.Verify(change, _node);
            _log.Info("Ghost verdict on change {0} (main at version {1}): {2}",
                change.ChangeId, _mainVersion, verdict.Verified ? "verified" : "rejected");
            _configStore.Tell(verdict);
        });
        Receive<IntentCommitted>(c => _mainVersion = Math.Max(_mainVersion, c.Version));
        Receive<SubscribeAck>(_ => { });
    }

    protected override void PreStart()
    {
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        mediator.Tell(new Subscribe(ConfigTopics.GhostProposals, Self));
        mediator.Tell(new Subscribe(ConfigTopics.Committed, Self));
    }
}
