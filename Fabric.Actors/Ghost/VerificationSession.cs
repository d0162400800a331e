using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Guardian;
using Fabric.Messages.Config;
using Fabric.Messages.Ghost;
using Fabric.Messages.Intent;
using Fabric.Messages.Node;

namespace Fabric.Actors.Ghost;

/// <summary>A ghost-shadow node as a verification sees it.</summary>
public sealed record GhostNode(string Name, IActorRef Ghost);

/// <summary>
/// One verification, run by the coordinating ghost-shadow node: (1) the ghost copy of main runs
/// the probes (baseline), (2) the proposal is applied to the ghost copies on every ghost-shadow
/// node (stand-ins for nodes without the role), (3) the same probes and the proposal's checks
/// run again, (4) the judge gives findings and the differential, (5) a rejected proposal's ghost
/// copies go back to main, and the verdict goes to the config store. The probes are those of
/// what the change can affect (<see cref="ChangeScope"/>) and the declared checks: all of them
/// for a first intent. One job: ends when the verdict is sent.
/// </summary>
public sealed class VerificationSession : ReceiveActor
{
    /// <summary>How many times probes dropped for an unresolved neighbour, or at a port still coming up, are sent again (one per router on a path).</summary>
    private const int MaxResolveRounds = 4;

    /// <summary>Before sending again probes dropped at a port still coming up: this, times the round.</summary>
    private static readonly TimeSpan NotReadyPause = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly VerifyChange _change;
    private readonly string _node;
    private readonly IReadOnlyDictionary<string, bool> _alive;
    private readonly IReadOnlyList<GhostNode> _ghosts;
    private readonly GhostPlaneContext _plane;
    private readonly IActorRef _store;
    private readonly Func<int, uint> _allocateIds;
    private readonly long _session;
    private readonly GhostSettings _settings;

    public VerificationSession(VerifyChange change, string node, IReadOnlyDictionary<string, bool> alive, IReadOnlyList<GhostNode> ghosts,
        GhostPlaneContext plane, IActorRef store, Func<int, uint> allocateIds, GhostSettings settings)
    {
        _settings = settings;
        _change = change;
        _node = node;
        _alive = alive;
        _ghosts = ghosts;
        _plane = plane;
        _store = store;
        _allocateIds = allocateIds;
        _session = change.ChangeId;
        ReceiveAsync<Start>(_ => Run());
    }

    public static Props Props(VerifyChange change, string node, IReadOnlyDictionary<string, bool> alive, IReadOnlyList<GhostNode> ghosts,
        GhostPlaneContext plane, IActorRef store, Func<int, uint> allocateIds, GhostSettings settings) =>
        ActorProps.Of(() => new VerificationSession(change, node, alive, ghosts, plane, store, allocateIds, settings));

    public sealed class Start
    {
        public static readonly Start Instance = new();
    }

    /// <summary>Told to the parent when the verdict is sent.</summary>
    public sealed record Done(long ChangeId, GhostReport Report);

    protected override void PreStart() => Self.Tell(Start.Instance);

    private async Task Run()
    {
        var clock = Stopwatch.StartNew();
        GhostReport report;
        try
        {
            report = await Verify(clock);
        }
        catch (Exception e)
        {
            _log.Error(e, "Ghost verification of change {0} failed", _change.ChangeId);
            report = new GhostReport(false, [new GhostFinding("ghost-verifier", $"the verification could not complete: {e.GetType().Name}: {e.Message}", [])],
                [], [], 0, 0, 1, clock.Elapsed.TotalSeconds);
        }
        var verdictLine = report.Verified
            ? $"verdict: verified ({report.ChecksPassed} check(s) passed, {report.Probes} probe(s), {report.Diff.Length} flow(s) changed) in {report.Seconds:F2} s"
            : $"verdict: rejected ({report.ChecksFailed} check(s) failed) in {report.Seconds:F2} s";
        Progress(verdictLine);
        var findings = report.Verified
            ? ImmutableArray.Create(verdictLine)
            : report.Findings.Select(f => $"{f.Check}: {f.Reason}").ToImmutableArray();
        _store.Tell(new SubmitVerdict(_change.ChangeId, report.Verified, $"ghost@{_node}", findings, report));
        Context.Parent.Tell(new Done(_change.ChangeId, report));
        Context.Stop(Self);
    }

    private async Task<GhostReport> Verify(Stopwatch clock)
    {
        // Both documents at once: at 500 PE pairs each is 1.1 MB of canonical JSON.
        var parsing = Task.Run(() => Parse(_change.BaseDocument));
        var proposed = Parse(_change.Proposed) ?? throw new InvalidOperationException("the proposed document does not parse");
        var main = await parsing ?? new IntentDocument();
        Progress($"verification started by ghost-shadow node {_node}; ghost-shadow nodes: {string.Join(", ", _ghosts.Select(g => g.Name))}");

        var placement = GhostPlacement.Plan(proposed, _alive, _node);
        var mainPlacement = GhostPlacement.Plan(main, _alive, _node);
        var ghostMain = mainPlacement.Rewrite(main);
        var ghostProposed = placement.Rewrite(proposed);
        // Only what the change can affect is probed (the declared checks always are).
        var scope = ChangeScope.Between(ghostMain, ghostProposed);
        Progress(scope.Describe(ProbePlan.Count(ghostProposed, _plane.Attachments, scope.Covers), ProbePlan.Count(ghostProposed, _plane.Attachments)));

        // The ghost PWs this verification judges run at their intent intervals from the baseline
        // on, whatever stretch the ghost hello budget puts on the rest of the copy.
        var urgent = UrgentPws(ghostMain, ghostProposed, scope);

        // 1. Baseline: the proposal's declared checks and main's own, on the ghost copy of main.
        await ApplyAll(ghostMain, "main", scope, urgent: urgent);
        var baselineIntent = ghostMain with { Checks = proposed.Checks.Concat(main.Checks.Where(c => proposed.Checks.All(p => p.Name != c.Name))).ToImmutableArray() };
        var before = await Probe(baselineIntent, scope);
        Progress($"baseline: {before.Count} probe(s) on the ghost copy of main (version {_change.BaseVersion})");

        // 2. The proposal on the ghost copies.
        var notStarted = await ApplyAll(ghostProposed, "the proposal", scope, holdForDetection: true, urgent: urgent);
        var after = await Probe(ghostProposed, scope);
        Progress($"probes sent: {after.Count} on the proposal");

        // 3. Judge.
        var (findings, passed, failed) = ProbeJudge.Judge(ghostProposed, after);
        // A ghost element that could not start says why (its probes only say "no port").
        var placementFindings = placement.DownFindings(main, proposed).Concat(notStarted.Select(n => new GhostFinding("ghost-start",
            $"{n.Element.Kind} {n.Element.Name} could not start in its ghost copy on node {n.Node} ({n.Element.StartFailures} attempt(s)): " +
            $"{n.Element.LastError}. Its probes cannot run, so the change cannot be verified.", []))).ToImmutableArray();
        findings = placementFindings.AddRange(findings);
        failed += placementFindings.Length;
        var diff = ProbeJudge.Diff(before, after);
        Progress($"checks passed: {passed}, failed: {failed}; {diff.Length} probe outcome(s) differ from main");
        foreach (var f in findings.Take(20)) Progress($"  finding [{f.Check}] {f.Reason}");

        // 4. A rejected proposal's ghost copies go back to main. A verified one's stay: its commit
        // moves the standing copy there anyway (and a change the store refuses as stale has a newer
        // commit, which the ghost-shadow actor applies when this session ends). Going back and
        // forth stopped and restarted every element of a first intent while main started its own.
        if (findings.IsEmpty) Progress("ghost copies stay on the proposal until its commit");
        else await ApplyAll(ghostMain, "main (restored)", scope, wait: false);
        return new GhostReport(findings.IsEmpty, findings, diff, placement.Describe(proposed), after.Count, passed, failed, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Applies <paramref name="intent"/> to every ghost copy and (with <paramref name="wait"/>) waits
    /// until it is ready; returns the ghost elements that had not started by then, per node.
    /// </summary>
    private async Task<List<(string Node, RestartingElement Element)>> ApplyAll(IntentDocument intent, string what, ChangeScope scope, bool wait = true,
        bool holdForDetection = false, ImmutableArray<string> urgent = default)
    {
        var applied = await Task.WhenAll(_ghosts.Select(g => g.Ghost.Ask<GhostIntentApplied>(new ApplyGhostIntent(_session, g.Name, intent, urgent), AskTimeout)));
        if (!wait) return [];
        // Elements start asynchronously: wait until every port a probe is sent from or should
        // arrive at is open (a peer on a shared segment only receives once its port is open) and
        // the ghost PWs have come up (BFD), or the readiness timeout passes (then findings say why).
        var ports = ProbePlan.Ports(intent, _plane.Attachments, scope.Covers);
        var elements = applied.Sum(a => a.Elements);
        // Every PW of a PE that a ghost node runs must be there (trunks start after their PE) and up.
        var running = _ghosts.Select(g => g.Name).ToHashSet(StringComparer.Ordinal);
        var pes = intent.Pes.Where(p => running.Contains(p.Node)).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var expectedPws = intent.Pws.Count(p => pes.Contains(p.Pe));
        var deadline = Stopwatch.StartNew();
        // The wait ends when everything is up, or when nothing moved for readiness-timeout (a big
        // change's ghost copy keeps making progress for longer than a small one's), or at readiness-max.
        var progress = (Ready: -1, At: TimeSpan.Zero);
        bool Waiting() =>
            applied.Sum(a => a.PortsMissing) > 0 || applied.Sum(a => a.PwsTotal) < expectedPws || applied.Sum(a => a.PwsUp) < applied.Sum(a => a.PwsTotal);
        var polls = 0;
        // A PW whose other end changed (stopped sending hellos, say) still counts as up until its
        // BFD detection time has passed: on the proposal, everything must stay up that long
        // before probes run (main's copy is what already ran, usually untouched by this apply).
        // The ghost clocks' own detection times count too: they are longer than the intent's while
        // a copy was quiet (or over its hello budget), until the other end's next hello says otherwise.
        var intentHold = !holdForDetection || scope.All ? TimeSpan.Zero : DetectionTime(intent, scope);
        var hold = intentHold;
        TimeSpan? readySince = null;
        do
        {
            // Every 20 ms at first (a small change is ready within ~100 ms), then every 50 ms: each
            // poll counts every ghost PW and looks up every probe port (thousands at scale).
            await Task.Delay(polls++ < 10 ? 20 : 50);
            applied = await Task.WhenAll(_ghosts.Select(g => g.Ghost.Ask<GhostIntentApplied>(
                new GetGhostReadiness(_session, ports.GetValueOrDefault(g.Name, [])), AskTimeout)));
            if (intentHold > TimeSpan.Zero)
            {
                hold = TimeSpan.FromMilliseconds(Math.Max(intentHold.TotalMilliseconds, applied.Max(a => a.LongestDetectionMs)));
            }
            var ready = applied.Sum(a => a.PwsUp + a.PwsTotal - a.PortsMissing);
            if (ready != progress.Ready) progress = (ready, deadline.Elapsed);
            readySince = Waiting() ? null : readySince ?? deadline.Elapsed;
        }
        while ((readySince is not { } since || deadline.Elapsed - since < hold)
               && deadline.Elapsed - progress.At < _settings.ReadinessTimeout && deadline.Elapsed < _settings.ReadinessMax);
        Progress($"ghost elements applied ({what}): {elements} element(s) on {applied.Length} node(s), ghost PWs up {applied.Sum(a => a.PwsUp)}/{applied.Sum(a => a.PwsTotal)}" +
                 (applied.Sum(a => a.PortsMissing) is > 0 and var m ? $", {m} probe port(s) not open" : "") + $" after {deadline.ElapsedMilliseconds} ms");
        var notStarted = applied.SelectMany(a => (a.NotStarted.IsDefault ? [] : a.NotStarted).Select(e => (a.Node, e))).ToList();
        if (notStarted.Count > 0)
            Progress($"ghost element(s) not started ({what}): " + string.Join("; ", notStarted.Select(n => $"{n.e.Kind} {n.e.Name} on {n.Node}: {n.e.LastError}")));
        return notStarted;
    }

    /// <summary>
    /// The PWs whose liveness the verdict rests on: the members of the trunks whose
    /// <c>trunk-members</c> probes are in <paramref name="scope"/>, in main or the proposal, and
    /// the PW at the other end of each (its hellos are what the member's detection waits for).
    /// Empty when everything is in scope: the hold is not used then, and thousands of urgent
    /// sessions would not fit the ghost hello budget anyway.
    /// </summary>
    private ImmutableArray<string> UrgentPws(IntentDocument main, IntentDocument proposed, ChangeScope scope)
    {
        if (scope.All) return [];
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var intent in new[] { main, proposed })
        {
            var trunks = _plane.Attachments.SelectMany(a => a.Implicit(intent))
                .Where(p => p.Check == "trunk-members" && scope.Covers(p)).Select(p => p.Group).ToHashSet(StringComparer.Ordinal);
            foreach (var t in intent.Trunks.Where(t => trunks.Contains(t.Name))) names.UnionWith(t.Members);
        }
        foreach (var intent in new[] { main, proposed })
        {
            var byEnd = intent.Pws.ToLookup(q => (q.Pe, q.RemotePe, q.LocalLabel));
            foreach (var p in intent.Pws.Where(p => names.Contains(p.Name)).ToList())
            {
                foreach (var peer in byEnd[(p.RemotePe, p.Pe, p.RemoteLabel)]) names.Add(peer.Name);
            }
        }
        return [.. names.Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The longest BFD detection time (hello interval x multiplier, as the intent sets them) of
    /// the trunks whose probes are in <paramref name="scope"/>: zero when none is. The ghost clock
    /// may stretch its intervals beyond the intent's (its hello budget, or a quiet copy); the
    /// readiness replies carry that longer time and the hold takes it.
    /// </summary>
    private TimeSpan DetectionTime(IntentDocument intent, ChangeScope scope)
    {
        var inScope = _plane.Attachments.SelectMany(a => a.Implicit(intent))
            .Where(p => p.Check == "trunk-members" && scope.Covers(p)).Select(p => p.Group).ToHashSet(StringComparer.Ordinal);
        var longest = intent.Trunks.Where(t => inScope.Contains(t.Name)).Select(t => t.HelloIntervalMs * t.Multiplier).DefaultIfEmpty(0).Max();
        return TimeSpan.FromMilliseconds(longest);
    }

    /// <summary>Sends the probes of <paramref name="intent"/> within <paramref name="scope"/> and gathers what became of each.</summary>
    private async Task<List<ProbeOutcome>> Probe(IntentDocument intent, ChangeScope scope)
    {
        // Ids are allocated once the count is known.
        var count = ProbePlan.Count(intent, _plane.Attachments, scope.Covers);
        var probes = ProbePlan.Build(intent, _plane.Attachments, _allocateIds(count), scope.Covers);
        var round = Stopwatch.StartNew();
        var (hops, timing) = await SendAndCollect(probes.Where(p => p.Unresolved is null).ToList());
        var outcomes = probes.Select(p => new ProbeOutcome(p, hops.GetValueOrDefault(p.Id, []))).ToList();
        Progress($"probe round 1: {count} probe(s) in {round.ElapsedMilliseconds} ms ({timing})");
        // A probe with no end (no delivery, no drop) keeps the round waiting for probe-quiet: say which.
        var open = outcomes.Where(o => o.Probe.Unresolved is null && !o.Hops.Any(h => h.Dropped || ProbeOutcome.IsDelivery(h))).ToList();
        if (open.Count > 0)
            Progress($"  {open.Count} probe(s) had no end (no delivery, no drop), e.g. " +
                     string.Join("; ", open.GroupBy(o => o.Probe.Check).Select(g => $"{g.Key} x{g.Count()}: {g.First().Probe.Describe}, {g.First().Summary}").Take(5)));

        // A first packet towards an unresolved neighbour is dropped while ARP asks (as on a live
        // router), once per router on the path: send those again with fresh ids (bounded). So too
        // a packet dropped at a ghost container port whose table was not in place yet (MFE
        // NotReady): on a loaded machine the ghost copy's ports could still be coming up when the
        // first round went, and a valid change was rejected (its DNAT probe then also found the
        // container's address unresolved, the ARP answer having met the same port). A port that
        // never comes up is still reported after the last round.
        for (var again = 0; again < MaxResolveRounds; again++)
        {
            var retry = outcomes.Where(o => o.FirstDrop?.Detail is { } d
                && (d.StartsWith("neighbor-unresolved", StringComparison.Ordinal) || d == "NotReady")).ToList();
            if (retry.Count == 0) break;
            if (retry.Any(o => o.FirstDrop!.Detail == "NotReady")) await Task.Delay(NotReadyPause * (again + 1));
            round.Restart();
            var first = _allocateIds(retry.Count);
            var reissued = retry.Select((o, i) => ProbePlan.Reissue(o.Probe, first + (uint)i)).ToList();
            var (more, againTiming) = await SendAndCollect(reissued);
            var byKey = reissued.ToDictionary(p => p.Key);
            outcomes = outcomes.Select(o => byKey.TryGetValue(o.Probe.Key, out var p) ? new ProbeOutcome(p, more.GetValueOrDefault(p.Id, [])) : o).ToList();
            Progress($"probe round {again + 2}: {reissued.Count} probe(s) sent again (dropped while a neighbour resolved or a port came up) in {round.ElapsedMilliseconds} ms ({againTiming})");
        }
        return outcomes;
    }

    /// <summary>Sends <paramref name="probes"/>, waits for them to end, and collects their hops by id; with how long each step took.</summary>
    private async Task<(Dictionary<uint, ImmutableArray<ProbeHop>> Hops, string Timing)> SendAndCollect(IReadOnlyList<PlannedProbe> probes)
    {
        var result = new Dictionary<uint, ImmutableArray<ProbeHop>>();
        if (probes.Count == 0) return (result, "none sent");
        var clock = Stopwatch.StartNew();
        var started = Stopwatch.GetTimestamp();
        // In waves of probe-wave: a round injected at once (33,800 probes through 1,000 trunks)
        // overran the ghost underlay's socket and loop pool, and a third of the probes vanished
        // without a drop to say so (no end: the round then waited probe-quiet for them).
        var polls = 0;
        var waves = probes.OrderBy(p => p.Id).Chunk(Math.Max(1, _settings.ProbeWave)).ToList();
        for (var w = 0; w < waves.Count; w++)
        {
            await Inject(waves[w]);
            if (w < waves.Count - 1) polls += await UntilWaveEnded(waves[w]);
        }
        var injected = clock.ElapsedMilliseconds;
        uint lo = probes.Min(p => p.Id), hi = probes.Max(p => p.Id);
        long last = -1;
        var waited = Stopwatch.StartNew();
        var sinceNewHop = Stopwatch.StartNew();
        // Until every probe has ended (delivered or dropped) and one more poll adds nothing (a
        // delivered frame may still be flooded elsewhere), or no new hop came for probe-quiet
        // (the rest are lost: "no answer"), at most probe-max-wait. The polls ask only for counts
        // (hops, and a bitmap of the probes that ended); the hops are collected once, at the end.
        var settled = false;
        while (waited.Elapsed < _settings.ProbeMaxWait)
        {
            await Task.Delay(waited.Elapsed < TimeSpan.FromMilliseconds(60) ? 30 : 50);
            var counts = await Task.WhenAll(_ghosts.Select(g => g.Ghost.Ask<HopCount>(new CountHops(_session, lo, hi), AskTimeout)));
            polls++;
            var hopCount = counts.Sum(c => c.Hops);
            var quietPoll = hopCount == last;
            if (!quietPoll) sinceNewHop.Restart();
            last = hopCount;
            if (quietPoll && settled) break;
            settled = Ended(counts) >= probes.Count;
            if (sinceNewHop.Elapsed >= _settings.ProbeQuiet) break;
        }

        var ended = clock.ElapsedMilliseconds;
        var collected = await Task.WhenAll(_ghosts.Select(g => g.Ghost.Ask<ProbeHops>(new CollectHops(_session, lo, hi), AskTimeout)));
        foreach (var g in collected.SelectMany(c => c.Hops).GroupBy(h => h.Id))
        {
            result[g.Key] = g.OrderBy(h => h.AtTicks).ToImmutableArray();
        }
        return (result, $"injected {injected} ms, settled {ended} ms after {polls} poll(s), hops collected {clock.ElapsedMilliseconds} ms; {Transit(result, started)}");
    }

    /// <summary>Injects <paramref name="probes"/> at their ghost ports, on every node at once (chunks of 512 per message).</summary>
    private async Task Inject(IReadOnlyList<PlannedProbe> probes)
    {
        var sends = new List<Task<ProbesInjected>>();
        foreach (var group in probes.GroupBy(p => p.From!.Node))
        {
            var ghost = _ghosts.FirstOrDefault(g => g.Name == group.Key);
            if (ghost is null) continue; // the node is down: its probes see no hop ("no answer")
            foreach (var chunk in group.Chunk(512))
            {
                sends.Add(ghost.Ghost.Ask<ProbesInjected>(new InjectProbes(_session,
                    chunk.Select(p => new ProbeFrame(p.Id, p.From!.PortKey, p.Frame)).ToImmutableArray()), AskTimeout));
            }
        }
        await Task.WhenAll(sends);
    }

    /// <summary>
    /// Until every probe of <paramref name="wave"/> has ended, or no new hop of it came for
    /// probe-wave-quiet (the round's own wait judges the rest); returns the polls made.
    /// </summary>
    private async Task<int> UntilWaveEnded(IReadOnlyList<PlannedProbe> wave)
    {
        uint lo = wave.Min(p => p.Id), hi = wave.Max(p => p.Id);
        var quiet = Stopwatch.StartNew();
        long last = -1;
        var polls = 0;
        while (true)
        {
            await Task.Delay(10);
            var counts = await Task.WhenAll(_ghosts.Select(g => g.Ghost.Ask<HopCount>(new CountHops(_session, lo, hi), AskTimeout)));
            polls++;
            if (Ended(counts) >= wave.Count) return polls;
            var hops = counts.Sum(c => c.Hops);
            if (hops != last) quiet.Restart();
            last = hops;
            if (quiet.Elapsed >= _settings.ProbeWaveQuiet) return polls;
        }
    }

    /// <summary>
    /// How long probes took from their first hop to their last, in percentiles, and when the last
    /// hop was recorded: where a round's time goes. Hops of this node only (timestamps are its clock).
    /// </summary>
    private string Transit(Dictionary<uint, ImmutableArray<ProbeHop>> all, long started)
    {
        var hops = all.ToDictionary(p => p.Key, p => p.Value.Where(h => h.Node == _node).ToImmutableArray());
        double Since(long ticks) => (ticks - started) * 1000.0 / Stopwatch.Frequency;
        var ms = hops.Values.Where(h => h.Length > 0)
            .Select(h => (h[^1].AtTicks - h[0].AtTicks) * 1000.0 / Stopwatch.Frequency).Order().ToArray();
        if (ms.Length == 0) return "no hops";
        double At(double q) => ms[(int)Math.Min(ms.Length - 1, q * ms.Length)];
        var last = hops.Values.Where(h => h.Length > 0).Max(h => h[^1].AtTicks);
        return $"transit p50 {At(0.5):F0} ms, p90 {At(0.9):F0} ms, max {ms[^1]:F0} ms, last hop {Since(last):F0} ms";
    }

    /// <summary>Probes that ended on some node (the nodes' bitmaps OR-ed: a flooded probe may end on several).</summary>
    private static int Ended(HopCount[] counts)
    {
        if (counts.Length == 0) return 0;
        var ended = new byte[counts.Max(c => c.Ended.Length)];
        foreach (var c in counts)
        {
            for (var i = 0; i < c.Ended.Length; i++) ended[i] |= c.Ended[i];
        }

        return ended.Sum(b => System.Numerics.BitOperations.PopCount(b));
    }

    private void Progress(string line)
    {
        _log.Info("Ghost verification of change {0}: {1}", _change.ChangeId, line);
        _store.Tell(new VerificationProgress(_change.ChangeId, line));
    }

    private static IntentDocument? Parse(string document)
    {
        if (string.IsNullOrWhiteSpace(document)) return null;
        var parsed = IntentParser.Parse(document, IntentParseLimits.Trusted); // canonical, accepted at the edge
        return parsed.IsValid ? parsed.Document : null;
    }
}
