using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Config;
using Fabric.Messages.Config;
using Fabric.Tests.Support;

namespace Fabric.Tests.Config;

/// <summary>
/// The answer to a proposal is the truth (issue 15: a slow store made POST /changes answer 500
/// and then commit). A store that does not answer in time is asked by idempotency key whether it
/// journaled the proposal; "no" also makes it refuse that attempt should it still arrive.
/// </summary>
public class ChangeProposerTests() : TestKit("akka.loglevel = WARNING")
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(300);

    private static ProposeChange Proposal(string key) =>
        IntentNormalizer.Normalize(Intents.WithTenant("blue")).ToProposal(null, "test", key);

    [Fact]
    public async Task A_store_that_answers_in_time_gives_its_answer()
    {
        var store = CreateTestProbe();
        var proposer = new ChangeProposer(store, Timeout, Timeout);

        var reply = proposer.ProposeAsync(Proposal("k-1"), CancellationToken.None);
        var sent = store.ExpectMsg<ProposeChange>();
        store.Reply(new ChangeAccepted(3, 0));

        Assert.Equal(new ChangeAccepted(3, 0), await reply);
        Assert.Equal("k-1", sent.IdempotencyKey);
        Assert.NotNull(sent.Attempt);
        Assert.True(sent.NotAfter > DateTimeOffset.UtcNow - TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_store_that_journaled_but_answered_late_is_found_by_key_and_the_answer_is_202()
    {
        var store = CreateTestProbe();
        var proposer = new ChangeProposer(store, Timeout, TimeSpan.FromSeconds(3));
        var proposal = Proposal("k-2");

        var reply = proposer.ProposeAsync(proposal, CancellationToken.None);
        store.ExpectMsg<ProposeChange>();
        var lookup = store.ExpectMsg<FindChangeByKey>(TimeSpan.FromSeconds(3));
        store.Reply(new ChangeRecord(5, ChangeStatus.Proposed, 0, "test", DateTimeOffset.UtcNow, null, [], null, null, proposal.Document));

        Assert.Equal("k-2", lookup.IdempotencyKey);
        Assert.Equal(new ChangeAccepted(5, 0), await reply);
    }

    [Fact]
    public async Task A_store_that_did_not_journal_in_time_is_told_to_refuse_that_attempt_and_the_answer_says_so()
    {
        var store = CreateTestProbe();
        var proposer = new ChangeProposer(store, Timeout, TimeSpan.FromSeconds(3));

        var reply = proposer.ProposeAsync(Proposal("k-3"), CancellationToken.None);
        var sent = store.ExpectMsg<ProposeChange>();
        var lookup = store.ExpectMsg<FindChangeByKey>(TimeSpan.FromSeconds(3));
        store.Reply(new NoChangeForKey("k-3"));

        Assert.Equal(sent.Attempt, lookup.AbandonedAttempt);
        Assert.Equal(new StoreSilent("k-3", KnownNotJournaled: true), await reply);
    }

    [Fact]
    public async Task A_store_that_answers_nothing_gives_an_unknown_outcome_never_a_guess()
    {
        var store = CreateTestProbe();
        var proposer = new ChangeProposer(store, Timeout, Timeout);

        var reply = await proposer.ProposeAsync(Proposal("k-4"), CancellationToken.None);

        Assert.Equal(new StoreSilent("k-4", KnownNotJournaled: false), reply);
    }

    [Fact]
    public async Task The_config_store_refuses_an_abandoned_attempt_that_arrives_after_the_lookup_but_takes_a_new_attempt_of_the_key()
    {
        using var dir = new TempDir();
        var system = ActorSystem.Create("store", Akka.Configuration.ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.remote.dot-netty.tcp.port = 0
            akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
            """));
        try
        {
            var store = system.ActorOf(Props.Create(() => new ConfigStoreActor(ConfigStoreSettings.Default)), "config-store");
            var proposal = Proposal("k-5") with { NotAfter = DateTimeOffset.UtcNow.AddMinutes(1), Attempt = "attempt-1" };

            Assert.Equal(new NoChangeForKey("k-5"), await store.Ask<object>(new FindChangeByKey("k-5", "attempt-1"), TimeSpan.FromSeconds(5)));
            var late = Assert.IsType<ChangeRefused>(await store.Ask<object>(proposal, TimeSpan.FromSeconds(5)));
            Assert.Equal(RefusalKind.Expired, late.Kind);
            Assert.Empty((await store.Ask<ChangeList>(new GetChanges(10), TimeSpan.FromSeconds(5))).Changes);

            var retry = await store.Ask<object>(proposal with { Attempt = "attempt-2" }, TimeSpan.FromSeconds(5));
            var accepted = Assert.IsType<ChangeAccepted>(retry);
            var again = await store.Ask<object>(proposal with { Attempt = "attempt-3" }, TimeSpan.FromSeconds(5));
            Assert.Equal(accepted with { Replayed = true }, again);
        }
        finally
        {
            await system.Terminate();
        }
    }
}
