using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Config;
using Fabric.Actors.Guardian;
using Fabric.Messages.Config;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;

namespace Fabric.Tests.Guardian;

/// <summary>The guardian starts, changes and stops element children to match each committed intent.</summary>
public class GuardianReconcileTests() : TestKit("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.port = 0
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.loglevel = WARNING
    """)
{
    /// <summary>An element per tenant: name = tenant, fingerprint = its VNI. Reports its life to a probe.</summary>
    private sealed class TenantKind(IActorRef probe) : IElementKind
    {
        public string Kind => "tenant";

        public IEnumerable<ElementSpec> Desired(IntentDocument intent, string node) =>
            intent.Tenants.Select(t => new ElementSpec(Kind, t.Name, t, t.Vni.ToString()));

        public Props Props(ElementSpec spec) => Akka.Actor.Props.Create(() => new Element(probe, spec));
    }

    private sealed class Element : ReceiveActor
    {
        public Element(IActorRef probe, ElementSpec spec)
        {
            probe.Tell($"start {spec.Name} {spec.Fingerprint}");
            Receive<ElementSpecChanged>(c => probe.Tell($"change {c.Spec.Name} {c.Spec.Fingerprint}"));
            var name = spec.Name;
            ReceiveAny(_ => { });
            _stop = () => probe.Tell($"stop {name}");
        }

        private readonly Action _stop;

        protected override void PostStop() => _stop();
    }

    private static string Canonical(string yaml) => IntentNormalizer.Normalize(yaml).Canonical!;

    [Fact]
    public void Elements_follow_the_committed_intent_started_changed_and_stopped()
    {
        Akka.Cluster.Cluster.Get(Sys).Join(Akka.Cluster.Cluster.Get(Sys).SelfAddress);
        var store = CreateTestProbe();
        var kinds = new ElementKindRegistry();
        kinds.Add(new TenantKind(TestActor));
        var guardian = Sys.ActorOf(Props.Create(() => new FabricGuardianActor(store.Ref, "node-a", TimeSpan.FromSeconds(1), kinds)), "fabric");

        store.ExpectMsg<GetIntent>();
        store.Reply(new CurrentIntent(1, 1, Canonical(Intents.WithTenant("blue", 100))));
        ExpectMsg("start blue 100");

        guardian.Tell(new IntentCommitted(2, 2, Canonical(Intents.WithTenant("blue", 101))));
        ExpectMsg("change blue 101");

        guardian.Tell(new IntentCommitted(3, 3, Canonical(Intents.WithTenant("red", 200))));
        var lifecycle = new[] { ExpectMsg<string>(), ExpectMsg<string>() };
        Assert.Contains("stop blue", lifecycle);
        Assert.Contains("start red 200", lifecycle);

        guardian.Tell(new IntentCommitted(2, 2, Canonical(Intents.WithTenant("blue", 100))));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // an older version never rolls elements back
    }

    [Fact]
    public void The_plan_starts_the_new_changes_the_different_and_stops_the_gone()
    {
        ElementSpec Spec(string name, string fp) => new("pe", name, name, fp);
        var running = new Dictionary<string, ElementSpec> { ["pe-a"] = Spec("a", "1"), ["pe-b"] = Spec("b", "1"), ["pe-c"] = Spec("c", "1") };
        var plan = ElementPlan.Between(running, [Spec("a", "1"), Spec("b", "2"), Spec("d", "1")]);
        Assert.Equal(["pe-d"], plan.Start.Select(s => s.ChildName));
        Assert.Equal(["pe-b"], plan.Change.Select(s => s.ChildName));
        Assert.Equal(["pe-c"], plan.Stop);
    }
}
