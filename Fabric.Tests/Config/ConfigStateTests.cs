using System.Collections.Immutable;
using Fabric.Actors.Config;
using Fabric.Messages.Config;
using Fabric.Tests.Support;

namespace Fabric.Tests.Config;

public class ConfigStateTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private static (ConfigState State, long ChangeId) Propose(ConfigState state, string document, long? baseVersion = null)
    {
        var decision = state.Decide(new ProposeChange(document, baseVersion, "test"), IntentNormalizer.Normalize, Now);
        var accepted = Assert.IsType<ChangeAccepted>(decision.Reply);
        return (decision.Events.Aggregate(state, (s, e) => s.Apply(e)), accepted.ChangeId);
    }

    private static ConfigState Verdict(ConfigState state, long id, bool ok) =>
        state.Decide(new SubmitVerdict(id, ok, "test", ["because"]), Now).Events.Aggregate(state, (s, e) => s.Apply(e));

    [Fact]
    public void A_valid_proposal_is_journaled_as_proposed_and_changes_nothing_yet()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"));
        Assert.Equal(1, id);
        Assert.Equal(0, state.Version);
        Assert.Equal(ChangeStatus.Proposed, state.Changes[id].Status);
    }

    [Fact]
    public void A_verified_change_commits_as_the_next_intent_version()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"));
        state = Verdict(state, id, ok: true);
        Assert.Equal(1, state.Version);
        Assert.Equal(id, state.CommittedChangeId);
        Assert.Equal(ChangeStatus.Committed, state.Changes[id].Status);
        Assert.Contains("\"blue\"", state.Document);
    }

    [Fact]
    public void A_rejected_change_never_reaches_the_intent()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"));
        state = Verdict(state, id, ok: false);
        Assert.Equal(0, state.Version);
        Assert.Equal("", state.Document);
        Assert.Equal(ChangeStatus.Rejected, state.Changes[id].Status);
    }

    [Fact]
    public void An_invalid_document_is_refused_with_its_line_and_journals_nothing()
    {
        var decision = ConfigState.Empty.Decide(new ProposeChange(Intents.UnknownNode, null, "test"), IntentNormalizer.Normalize, Now);
        Assert.Empty(decision.Events);
        var refused = Assert.IsType<ChangeRefused>(decision.Reply);
        Assert.Equal(RefusalKind.InvalidDocument, refused.Kind);
        var problem = Assert.Single(refused.Problems);
        Assert.Equal(7, problem.Line);
        Assert.Contains("node-zz", problem.Reason);
    }

    [Fact]
    public void A_proposal_on_a_stale_base_version_is_refused_as_a_conflict()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"));
        state = Verdict(state, id, ok: true);
        var decision = state.Decide(new ProposeChange(Intents.WithTenant("red"), 0, "test"), IntentNormalizer.Normalize, Now);
        Assert.Empty(decision.Events);
        Assert.Equal(RefusalKind.StaleBaseVersion, Assert.IsType<ChangeRefused>(decision.Reply).Kind);
    }

    [Fact]
    public void A_change_verified_after_the_intent_moved_is_rejected_as_stale()
    {
        var (state, first) = Propose(ConfigState.Empty, Intents.WithTenant("blue"));
        (state, var second) = Propose(state, Intents.WithTenant("red"));
        state = Verdict(state, first, ok: true);
        state = Verdict(state, second, ok: true);
        Assert.Equal(1, state.Version);
        Assert.Equal(ChangeStatus.Rejected, state.Changes[second].Status);
        Assert.Contains(state.Changes[second].Findings, f => f.StartsWith("stale"));
    }

    [Fact]
    public void A_proposal_equal_to_the_intent_is_unchanged_and_journals_nothing()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"));
        state = Verdict(state, id, ok: true);
        var decision = state.Decide(new ProposeChange(Intents.WithTenant("blue"), null, "test"), IntentNormalizer.Normalize, Now);
        Assert.Empty(decision.Events);
        Assert.Equal(1, Assert.IsType<ChangeUnchanged>(decision.Reply).Version);
    }

    [Fact]
    public void A_second_verdict_on_a_decided_change_is_ignored()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"));
        state = Verdict(state, id, ok: true);
        Assert.Empty(state.Decide(new SubmitVerdict(id, false, "late", ImmutableArray<string>.Empty), Now).Events);
    }

    [Fact]
    public void A_snapshot_restores_the_same_state()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"));
        state = Verdict(state, id, ok: true);
        var restored = ConfigState.FromSnapshot(state.ToSnapshot());
        Assert.Equal(state.Version, restored.Version);
        Assert.Equal(state.Document, restored.Document);
        Assert.Equal(state.Changes.Keys, restored.Changes.Keys);
    }

    [Fact]
    public void A_store_behind_adopts_a_newer_offered_intent_and_ignores_an_older_one()
    {
        var adopted = ConfigState.Empty.Decide(new OfferIntent(3, 7, "{\"tenants\":[]}", "node-a"), Now).Events
            .Aggregate(ConfigState.Empty, (s, e) => s.Apply(e));
        Assert.Equal(3, adopted.Version);
        Assert.Equal(7, adopted.LastChangeId);
        Assert.Empty(adopted.Decide(new OfferIntent(2, 5, "{}", "node-b"), Now).Events);
        Assert.Empty(adopted.Decide(new OfferIntent(3, 7, "{}", "node-b"), Now).Events);
    }
}
