using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Config;
using Fabric.Actors.Guardian;
using Fabric.Messages.Config;
using Fabric.Messages.Intent;
using Fabric.Messages.Node;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Guardian;

/// <summary>
/// An element whose actor throws while it starts is listed as restarting with the reason and
/// created again with backoff (here 50 ms doubling to 400 ms) until it starts; an intent that
/// removes it ends the retries, one that changes it is tried at once.
/// </summary>
public class ElementRestartTests(ITestOutputHelper output) : TestKit("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.port = 0
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.loglevel = WARNING
    fabric.elements.restart-min = 50ms
    fabric.elements.restart-max = 400ms
    """)
{
    /// <summary>An element per tenant whose start throws while its name is in <c>faults</c>; reports each attempt and each start.</summary>
    private sealed class FlakyKind(IActorRef probe, ConcurrentDictionary<string, string> faults, ConcurrentQueue<(string, long)> attempts) : IElementKind
    {
        public string Kind => "tenant";

        public IEnumerable<ElementSpec> Desired(IntentDocument intent, string node) =>
            intent.Tenants.Select(t => new ElementSpec(Kind, t.Name, t, t.Vni.ToString()));

        public Props Props(ElementSpec spec) => Akka.Actor.Props.Create(() => new Element(probe, faults, attempts, spec));
    }

    private sealed class Element : ReceiveActor
    {
        private readonly IActorRef _probe;
        private readonly ConcurrentDictionary<string, string> _faults;
        private readonly ConcurrentQueue<(string, long)> _attempts;
        private readonly ElementSpec _spec;

        public Element(IActorRef probe, ConcurrentDictionary<string, string> faults, ConcurrentQueue<(string, long)> attempts, ElementSpec spec)
        {
            (_probe, _faults, _attempts, _spec) = (probe, faults, attempts, spec);
            Receive<string>(m => m == "stop yourself", _ => Context.Stop(Self));
            ReceiveAny(_ => { });
        }

        protected override void PreStart()
        {
            _attempts.Enqueue((_spec.Name, Stopwatch.GetTimestamp()));
            _probe.Tell($"attempt {_spec.Name} {_spec.Fingerprint}");
            if (_faults.TryGetValue(_spec.Name, out var fault)) throw new InvalidOperationException(fault);
            _probe.Tell($"started {_spec.Name} {_spec.Fingerprint}");
        }
    }

    private readonly ConcurrentDictionary<string, string> _faults = new();
    private readonly ConcurrentQueue<(string Name, long At)> _attempts = new();

    private static string Canonical(string yaml) => IntentNormalizer.Normalize(yaml).Canonical!;

    private IActorRef Guardian(Akka.TestKit.TestProbe store, ElementRestartSettings? restart = null)
    {
        Akka.Cluster.Cluster.Get(Sys).Join(Akka.Cluster.Cluster.Get(Sys).SelfAddress);
        var kinds = new ElementKindRegistry();
        kinds.Add(new FlakyKind(TestActor, _faults, _attempts));
        return Sys.ActorOf(Props.Create(() => new FabricGuardianActor(store.Ref, "node-a", TimeSpan.FromSeconds(1), kinds, null, restart)), "fabric");
    }

    private AppliedIntent Applied(IActorRef guardian) => guardian.Ask<AppliedIntent>(GetAppliedIntent.Instance, TimeSpan.FromSeconds(3)).Result;

    [Fact]
    public void A_failed_start_is_retried_with_doubling_delays_listed_as_restarting_and_runs_once_the_fault_clears()
    {
        _faults["blue"] = "underlay 127.0.9.1:6635 is in use";
        var store = CreateTestProbe();
        var guardian = Guardian(store);
        store.ExpectMsg<GetIntent>();
        store.Reply(new CurrentIntent(1, 1, Canonical(Intents.WithTenant("blue", 100))));

        for (var i = 0; i < 5; i++) ExpectMsg("attempt blue 100", TimeSpan.FromSeconds(3));
        // Timed where each attempt starts (in the element's PreStart), not where the probe hears of it.
        var attempts = _attempts.Where(a => a.Name == "blue").Take(5).Select(a => a.At).ToArray();
        var gaps = attempts.Zip(attempts.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a, b).TotalMilliseconds).ToArray();
        output.WriteLine($"gaps between attempts: {string.Join(", ", gaps.Select(g => $"{g:F0} ms"))}");
        // 50, 100, 200, 400 ms (timers fire no earlier than asked; later under load).
        double[] expected = [50, 100, 200, 400];
        for (var i = 0; i < gaps.Length; i++) Assert.True(gaps[i] >= expected[i] * 0.9, $"gap {i} was {gaps[i]:F0} ms, expected >= {expected[i]} ms");

        var restarting = Assert.Single(Applied(guardian).Restarting);
        Assert.Equal(("tenant", "blue", "restarting"), (restarting.Kind, restarting.Name, restarting.State));
        Assert.Contains("underlay 127.0.9.1:6635 is in use", restarting.LastError);
        Assert.True(restarting.StartFailures >= 5);

        _faults.Clear();
        FishForMessage(m => m is "started blue 100", TimeSpan.FromSeconds(3));
        AwaitCondition(() => Applied(guardian).Restarting.IsEmpty, TimeSpan.FromSeconds(3));
        ExpectNoMsg(TimeSpan.FromMilliseconds(900)); // started: no more attempts
    }

    [Fact]
    public void An_element_removed_while_it_backs_off_is_never_started_again()
    {
        _faults["blue"] = "held";
        var store = CreateTestProbe();
        var guardian = Guardian(store);
        store.ExpectMsg<GetIntent>();
        store.Reply(new CurrentIntent(1, 1, Canonical(Intents.WithTenant("blue", 100))));
        ExpectMsg("attempt blue 100", TimeSpan.FromSeconds(3));
        ExpectMsg("attempt blue 100", TimeSpan.FromSeconds(3));

        guardian.Tell(new IntentCommitted(2, 2, Canonical(Intents.WithTenant("red", 200))));
        FishForMessage(m => m is "started red 200", TimeSpan.FromSeconds(3));
        _faults.Clear(); // the fault is gone, but so is blue from the intent: no resurrection
        ExpectNoMsg(TimeSpan.FromMilliseconds(1500)); // > 3 backoff periods of 400 ms
        Assert.Empty(Applied(guardian).Restarting);
    }

    [Fact]
    public void An_element_changed_while_it_backs_off_is_tried_at_once_with_the_new_spec()
    {
        _faults["blue"] = "held";
        var store = CreateTestProbe();
        // A long backoff, so "at once" cannot be mistaken for the scheduled retry.
        var guardian = Guardian(store, new ElementRestartSettings(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5)));
        store.ExpectMsg<GetIntent>();
        store.Reply(new CurrentIntent(1, 1, Canonical(Intents.WithTenant("blue", 100))));
        ExpectMsg("attempt blue 100", TimeSpan.FromSeconds(3)); // failed: the next attempt in 5 s
        AwaitCondition(() => Applied(guardian).Restarting.Length == 1, TimeSpan.FromSeconds(3));

        _faults.Clear();
        var changed = Stopwatch.StartNew();
        guardian.Tell(new IntentCommitted(2, 2, Canonical(Intents.WithTenant("blue", 101))));
        ExpectMsg("attempt blue 101", TimeSpan.FromSeconds(3)); // the new spec, not the old one
        output.WriteLine($"attempt with the changed spec {changed.ElapsedMilliseconds} ms after the change");
        Assert.True(changed.Elapsed < TimeSpan.FromSeconds(3), "tried at once, not after the 5 s backoff");
        ExpectMsg("started blue 101");
        AwaitCondition(() => Applied(guardian).Restarting.IsEmpty, TimeSpan.FromSeconds(3));
        ExpectNoMsg(TimeSpan.FromSeconds(6)); // the pending 5 s retry finds nothing to do
    }

    [Fact]
    public void An_element_that_stops_on_its_own_while_the_intent_has_it_is_started_again()
    {
        var store = CreateTestProbe();
        var guardian = Guardian(store);
        store.ExpectMsg<GetIntent>();
        store.Reply(new CurrentIntent(1, 1, Canonical(Intents.WithTenant("blue", 100))));
        ExpectMsg("attempt blue 100", TimeSpan.FromSeconds(3));
        ExpectMsg("started blue 100");

        Sys.ActorSelection("/user/fabric/tenant-blue").Tell("stop yourself");
        ExpectMsg("attempt blue 100", TimeSpan.FromSeconds(3));
        ExpectMsg("started blue 100");
        AwaitCondition(() => Applied(guardian).Restarting.IsEmpty, TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void The_backoff_doubles_from_min_up_to_max_and_starts_over_once_the_element_started()
    {
        var restarts = new ElementRestarts(new ElementRestartSettings(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5)));
        var spec = new ElementSpec("pe", "pe-1", "spec", "1");
        var delays = Enumerable.Range(0, 8).Select(i => (int)restarts.Failed(spec, $"failure {i}").TotalMilliseconds).ToArray();
        Assert.Equal([100, 200, 400, 800, 1600, 3200, 5000, 5000], delays);
        var status = Assert.Single(restarts.Status());
        Assert.Equal(new Fabric.Messages.Node.RestartingElement("pe", "pe-1", "restarting", "failure 7", 8), status);
        Assert.True(restarts.Waiting("pe-pe-1"));
        restarts.Attempting("pe-pe-1");
        Assert.False(restarts.Waiting("pe-pe-1")); // an attempt in flight: a due retry does nothing
        Assert.True(restarts.Forget("pe-pe-1"));
        Assert.Empty(restarts.Status());
        Assert.Equal(100, restarts.Failed(spec, "again").TotalMilliseconds);
        var refused = Assert.Throws<ArgumentException>(() => Fabric.Actors.Settings.FabricSettings.From(Akka.Configuration.ConfigurationFactory.ParseString(
            "fabric.elements { restart-min = 2s, restart-max = 1s }")));
        Assert.Contains("fabric.elements.restart-max", refused.Message);
    }
}
