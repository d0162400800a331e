using System.Collections.Immutable;
using Fabric.Actors.Config;
using Fabric.Messages.Config;
using Fabric.Tests.Support;

namespace Fabric.Tests.Config;

public class ConfigStateTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private static ProposeChange Command(string document, long? baseVersion = null, string? key = null, DateTimeOffset? notAfter = null) =>
        IntentNormalizer.Normalize(document).ToProposal(baseVersion, "test", key) with { NotAfter = notAfter };

    private static (ConfigState State, long ChangeId) Propose(ConfigState state, string document, long? baseVersion = null, string? key = null)
    {
        var decision = state.Decide(Command(document, baseVersion, key), Now);
        var accepted = Assert.IsType<ChangeAccepted>(decision.Reply);
        return (Apply(state, decision), accepted.ChangeId);
    }

    private static ConfigState Apply(ConfigState state, Decision decision) => decision.Events.Aggregate(state, (s, e) => s.Apply(e));

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
    public void An_invalid_document_is_refused_with_its_line_before_it_reaches_the_store()
    {
        var document = IntentNormalizer.Normalize(Intents.UnknownNode);
        Assert.False(document.IsValid);
        var refused = document.ToRefusal();
        Assert.Equal(RefusalKind.InvalidDocument, refused.Kind);
        var problem = Assert.Single(refused.Problems);
        Assert.Equal(7, problem.Line);
        Assert.Contains("node-zz", problem.Reason);
        Assert.Throws<InvalidOperationException>(() => document.ToProposal(null, "test"));
    }

    [Fact]
    public void A_proposal_on_a_stale_base_version_is_refused_as_a_conflict()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"));
        state = Verdict(state, id, ok: true);
        var decision = state.Decide(Command(Intents.WithTenant("red"), 0), Now);
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
        var decision = state.Decide(Command(Intents.WithTenant("blue")), Now);
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

    [Fact]
    public void A_proposal_with_an_idempotency_key_journals_the_key_with_it()
    {
        var decision = ConfigState.Empty.Decide(Command(Intents.WithTenant("blue"), key: "k-1"), Now);

        Assert.Collection(decision.Events,
            e => Assert.IsType<ChangeProposed>(e),
            e => Assert.Equal(new ChangeKeyed(1, "k-1", Now), e));
        Assert.Equal(1, Apply(ConfigState.Empty, decision).Keys["k-1"]);
    }

    [Fact]
    public void The_same_key_again_returns_the_original_change_and_journals_nothing()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"), key: "k-1");
        state = Verdict(state, id, ok: true);

        // Even after it committed (a plain retry would now be 'unchanged', or stale with a base).
        var retry = state.Decide(Command(Intents.WithTenant("blue"), baseVersion: 0, key: "k-1"), Now);

        Assert.Empty(retry.Events);
        Assert.Equal(new ChangeAccepted(id, 0, Replayed: true), retry.Reply);
    }

    [Fact]
    public void The_same_key_with_another_document_is_refused()
    {
        var (state, _) = Propose(ConfigState.Empty, Intents.WithTenant("blue"), key: "k-1");

        var decision = state.Decide(Command(Intents.WithTenant("red"), key: "k-1"), Now);

        Assert.Empty(decision.Events);
        Assert.Equal(RefusalKind.IdempotencyKeyReused, Assert.IsType<ChangeRefused>(decision.Reply).Kind);
    }

    [Fact]
    public void A_proposal_read_after_its_sender_stopped_waiting_is_refused_and_journals_nothing()
    {
        var late = ConfigState.Empty.Decide(Command(Intents.WithTenant("blue"), key: "k-1", notAfter: Now.AddSeconds(-1)), Now);
        Assert.Empty(late.Events);
        Assert.Equal(RefusalKind.Expired, Assert.IsType<ChangeRefused>(late.Reply).Kind);

        var abandoned = ConfigState.Empty.Decide(Command(Intents.WithTenant("blue"), key: "k-1", notAfter: Now.AddSeconds(5)), Now, abandoned: true);
        Assert.Empty(abandoned.Events);
        Assert.Equal(RefusalKind.Expired, Assert.IsType<ChangeRefused>(abandoned.Reply).Kind);
    }

    [Fact]
    public void Keys_survive_a_snapshot_and_leave_with_the_changes_no_longer_retained()
    {
        var (state, id) = Propose(ConfigState.Empty, Intents.WithTenant("blue"), key: "k-1");
        state = Verdict(state, id, ok: false);

        var restored = ConfigState.FromSnapshot(state.ToSnapshot());
        Assert.Equal(id, restored.Keys["k-1"]);
        Assert.Equal(id, restored.ChangeForKey("k-1")!.ChangeId);

        for (var i = 0; i < ConfigState.Empty.RetainedChanges; i++)
        {
            (restored, var next) = Propose(restored, Intents.WithTenant($"t{i}"));
            restored = Verdict(restored, next, ok: false);
        }
        Assert.False(restored.Changes.ContainsKey(id));
        Assert.Null(restored.ChangeForKey("k-1"));
        Assert.Empty(restored.Keys);
    }

    [Fact]
    public void Retained_documents_are_bounded_by_bytes_the_oldest_decided_going_first_and_pending_ones_kept()
    {
        // The bound is checked as a change is proposed: the decided changes that do not fit beside
        // the pending ones (the new one included) go, oldest first. Here about four documents fit.
        var (probe, _) = Propose(ConfigState.Empty, Intents.WithTenant("t00"));
        var size = 2L * probe.Changes.Values.Single().Document.Length;
        var state = ConfigState.Empty with { RetainedChanges = 500, RetainedBytes = 4 * size + size / 2 };
        (state, var pending) = Propose(state, Intents.WithTenant("pending"));
        for (var i = 10; i < 40; i++)
        {
            (state, var id) = Propose(state, Intents.WithTenant($"t{i}"));
            var bytes = state.Changes.Values.Sum(c => 2L * c.Document.Length);
            Assert.True(bytes <= state.RetainedBytes, $"after change {id}: {bytes} bytes retained, bound {state.RetainedBytes}");
            state = Verdict(state, id, ok: false);
        }

        Assert.True(state.Changes.ContainsKey(pending)); // pending: kept whatever the bound
        Assert.Equal(31, state.LastChangeId);
        Assert.Equal(new long[] { 1, 29, 30, 31 }, state.Changes.Keys); // the pending one and the newest three decided
    }
}
