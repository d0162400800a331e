using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Fabric.Actors.Cellular.Bridge;
using Fabric.Actors.Cellular.Modem;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Ghost;
using Fabric.Actors.Pseudowire;
using Fabric.Actors.Settings;
using Fabric.Messages.Intent;
using Xunit.Abstractions;

namespace Fabric.Tests.Settings;

/// <summary>
/// One settings record for the node, read from the <c>fabric</c> hocon block: the shipped file is
/// its only source of defaults, every key in it is read (none is dead), and a bad value stops the
/// node with its key named.
/// </summary>
public partial class FabricSettingsTests(ITestOutputHelper output)
{
    private static string ShippedFile => Path.Combine(AppContext.BaseDirectory, "hocon", "fabric.conf");

    [Fact]
    public void The_embedded_hocon_is_the_shipped_file()
    {
        var shipped = FabricSettings.From(ConfigurationFactory.ParseString(File.ReadAllText(ShippedFile)));
        Assert.Equal(FabricSettings.Default, shipped);
        Assert.Equal(FabricSettings.Default, FabricSettings.From(ConfigurationFactory.Empty));
    }

    [Fact]
    public void Every_fabric_key_of_the_shipped_hocon_documents_its_default_and_has_it()
    {
        var documented = DocumentedKeys(File.ReadAllLines(ShippedFile));
        var leaves = Leaves(FabricSettings.Embedded.GetConfig("fabric").Root, "fabric").ToList();
        Assert.Equal(leaves.Order(), documented.Keys.Order());
        foreach (var (key, (value, @default)) in documented)
        {
            Assert.True(@default is not null, $"{key}: its comment says no default");
            Assert.True(Same(value, @default), $"{key} = {value}, but its comment says default {@default}");
        }
        output.WriteLine($"{documented.Count} keys, each with its default documented");
    }

    [Fact]
    public void The_shipped_defaults_are_the_values_that_were_constants()
    {
        var s = FabricSettings.Default;
        // Gateway (were GatewayActor.Buckets, PortCheckInterval, the 500 ms tick; GatewayPorts'
        // backoff; GatewayDatapath's cache size and idle timeout; MegaflowCache.MaxMasks).
        Assert.Equal(16, s.Gateway.Buckets);
        Assert.Equal(TimeSpan.FromMilliseconds(100), s.Gateway.PortCheckInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(500), s.Gateway.NeighborRetryMin);
        Assert.Equal(TimeSpan.FromSeconds(30), s.Gateway.NeighborRetryMax);
        Assert.Equal(TimeSpan.FromMilliseconds(100), s.Gateway.PortRestart.MinBackoff);
        Assert.Equal(TimeSpan.FromSeconds(5), s.Gateway.PortRestart.MaxBackoff);
        Assert.Equal(TimeSpan.FromSeconds(10), s.Gateway.PortRestart.StableAfter);
        Assert.Equal(65_536, s.Gateway.CacheFlowsPerBucket);
        Assert.Equal(TimeSpan.FromSeconds(60), s.Gateway.CacheIdleTimeout);
        Assert.Equal(16, s.Gateway.CacheMaxMasks);
        Assert.Equal(64, s.Gateway.PoolRetainedBatches);
        // Config store (were ConfigState.RetainedChanges, ConfigStoreActor's caps, ChangeProposer.NotAfterMargin).
        Assert.Equal(500, s.ConfigStore.RetainedChanges);
        Assert.Equal(64L << 20, s.ConfigStore.RetainedBytes);
        Assert.Equal(4096, s.ConfigStore.AbandonedAttemptsKept);
        Assert.Equal(200, s.ConfigStore.ProgressLines);
        Assert.Equal(100, s.ConfigStore.ProgressChanges);
        Assert.Equal(TimeSpan.FromSeconds(1), s.Management.ProposeMargin);
        // Management routes (were IntentEndpoints' and GatewayEndpoints' ask timeouts, LiveStatus.Interval).
        Assert.Equal(TimeSpan.FromSeconds(10), s.Management.StoreTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), s.Management.AskTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), s.Management.EntityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), s.Management.LiveStatusInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), s.Management.KeepAliveTimeout); // were FabricNodeApp's Kestrel limits
        Assert.Equal(TimeSpan.FromSeconds(10), s.Management.RequestHeadersTimeout);
        // Switching (were VnicActor's FirstRetry, LastRetry, CheckEvery; MfeGhostAttachments.MaxIsolationProbes).
        Assert.Equal(TimeSpan.FromMilliseconds(100), s.Switching.VnicRetryMin);
        Assert.Equal(TimeSpan.FromSeconds(5), s.Switching.VnicRetryMax);
        Assert.Equal(64, s.Switching.GhostIsolationProbes);
        Assert.Equal(256, s.Switching.PoolRetainedBatches); // was SwitchingNode.Pool's
        // Cellular (were BridgeActor's retry; the modem and bridge ticks are gone: both wake when something is due).
        Assert.Equal(TimeSpan.FromMilliseconds(250), s.Cellular.BridgeRetryMin);
        Assert.Equal(TimeSpan.FromSeconds(10), s.Cellular.BridgeRetryMax);
        Assert.Equal(64, s.Cellular.PoolRetainedBatches); // was CellularNode.Pool's
        // I/O loops (were IoLoop.BatchesPerTurn and MaxEvents).
        Assert.Equal(4, s.Io.BatchesPerTurn);
        Assert.Equal(64, s.Io.MaxEvents);
        Assert.Equal(TimeSpan.Zero, s.Io.BusyPoll);
        Assert.Equal(new LoopRealtime(0, 20, TimeSpan.FromMilliseconds(50)), s.Io.Realtime);
        Assert.False(s.Io.Realtime.IsOn);
        Assert.Equal(4096, s.Tap.TxQueueLength);
        Assert.Equal(0, FabricSettings.From(ConfigurationFactory.ParseString("fabric.tap.tx-queue-length = 0")).Tap.TxQueueLength);
        Assert.Equal(new LoopRealtime(10, 30, TimeSpan.FromMilliseconds(100)), FabricSettings.From(ConfigurationFactory.ParseString(
            "fabric.io { realtime-priority = 10, realtime-max-load-percent = 30, realtime-window = 100ms }")).Io.Realtime);
        // Busy-polling is set in fractions of a millisecond (Akka's hocon reads no "us").
        Assert.Equal(TimeSpan.FromMicroseconds(200),
            FabricSettings.From(ConfigurationFactory.ParseString("fabric.io.busy-poll = 0.2ms")).Io.BusyPoll);

        // The records whose readers live elsewhere (or that tests build without hocon) agree with the file.
        Assert.Equal(IoSettings.Default, s.Io);
        Assert.Equal(GhostSettings.Default, s.Ghost);
        Assert.Equal(LivenessSettings.Default, s.Pseudowire.Liveness);
        Assert.Equal(TrunkBalanceSettings.Default, s.Pseudowire.Trunk);
        Assert.Equal(IntentParseLimits.Default, s.Intent);
        Assert.Equal(new ModemTimings(), s.Cellular.Timings);
        Assert.Equal(new LeaseTerms(), s.Cellular.Lease);
        Assert.Equal(new TapSettings(Offloads: true, Persistent: true, IoUring: true, TxQueueLength: 4096), s.Tap);
    }

    /// <summary>
    /// No dead key: each leaf of the shipped <c>fabric</c> block, changed on its own, changes the
    /// settings record (or is refused with its own key named), so FabricSettings reads every one.
    /// </summary>
    [Fact]
    public void Every_fabric_key_of_the_shipped_hocon_is_read_into_the_settings()
    {
        var leaves = Leaves(FabricSettings.Embedded.GetConfig("fabric").Root, "fabric").ToList();
        Assert.True(leaves.Count > 80, $"only {leaves.Count} keys found under fabric");
        var dead = new List<string>();
        foreach (var key in leaves)
        {
            var changed = Changed(key, FabricSettings.Embedded.GetString(key));
            var config = ConfigurationFactory.ParseString($"{key} = {changed}");
            try
            {
                if (FabricSettings.From(config) == FabricSettings.Default) dead.Add($"{key} = {changed} changes nothing");
            }
            catch (ArgumentException e)
            {
                if (!e.Message.Contains(key, StringComparison.Ordinal)) dead.Add($"{key} = {changed} refused without naming it: {e.Message}");
            }
        }
        Assert.True(dead.Count == 0, string.Join("\n", dead));
        output.WriteLine($"{leaves.Count} keys, each read");
    }

    [Theory]
    [InlineData("fabric.gateway.buckets = 0", "fabric.gateway.buckets: must be 1..1024, not 0")]
    [InlineData("fabric.gateway.cache.flows-per-bucket = -5", "fabric.gateway.cache.flows-per-bucket: must be 16..16777216, not -5")]
    [InlineData("fabric.gateway.port-restart.min-backoff = 0ms", "fabric.gateway.port-restart.min-backoff: must be > 0")]
    [InlineData("fabric.gateway.port-restart.max-backoff = 10ms", "fabric.gateway.port-restart.max-backoff: must be >= min-backoff")]
    [InlineData("fabric.config-store.retained-changes = 0", "fabric.config-store.retained-changes: must be >= 1, not 0")]
    [InlineData("fabric.switching.vnic-retry-min = 0s", "fabric.switching.vnic-retry-min: must be > 0")]
    [InlineData("fabric.cellular.lease = soon", "fabric.cellular.lease: cannot read 'soon'")]
    [InlineData("fabric.cellular.rebind = 90s", "fabric.cellular.rebind: must be below lease")]
    [InlineData("fabric.io.max-events = 0", "fabric.io.max-events: must be 1..4096, not 0")]
    [InlineData("fabric.ghost.probe-quiet = 0s", "fabric.ghost.probe-quiet: must be > 0")]
    [InlineData("fabric.ghost.probe-wave = 0", "fabric.ghost.probe-wave: must be >= 1")]
    [InlineData("fabric.ghost.probe-wave-quiet = 0s", "fabric.ghost.probe-wave-quiet: must be > 0")]
    [InlineData("fabric.management.log-lines = -1", "fabric.management.log-lines: must be 1..1000000, not -1")]
    [InlineData("fabric.intent.max-values = 0", "fabric.intent.max-values: must be >= 1, not 0")]
    public void A_bad_value_is_refused_naming_its_key_and_reason(string hocon, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => FabricSettings.From(ConfigurationFactory.ParseString(hocon)));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void An_actor_system_with_a_bad_value_refuses_its_settings_naming_the_key()
    {
        using var system = ActorSystem.Create("bad-settings", ConfigurationFactory.ParseString("fabric.gateway.neighbor-retry-min = 0ms"));
        var e = Assert.Throws<ArgumentException>(() => FabricSettings.Get(system));
        Assert.StartsWith("fabric.gateway.neighbor-retry-min: must be > 0", e.Message);
        using var good = ActorSystem.Create("good-settings", ConfigurationFactory.ParseString("fabric.gateway.buckets = 4"));
        Assert.Equal(4, FabricSettings.Get(good).Gateway.Buckets);
        Assert.Same(FabricSettings.Get(good), FabricSettings.Get(good));
    }

    /// <summary>Every leaf path under <paramref name="path"/>.</summary>
    internal static IEnumerable<string> Leaves(HoconValue value, string path)
    {
        foreach (var (name, child) in value.GetObject().Items)
        {
            var key = $"{path}.{name}";
            if (child.IsObject())
                foreach (var leaf in Leaves(child, key)) yield return leaf;
            else
                yield return key;
        }
    }

    /// <summary>A value of the same kind that differs from <paramref name="value"/>.</summary>
    private static string Changed(string key, string value)
    {
        if (value is "on" or "true") return "off";
        if (value is "off" or "false") return "on";
        if (value == "0") return key == "fabric.io.loops" ? $"{Environment.ProcessorCount + 1}" : "1";
        var number = NumberWithUnit().Match(value);
        if (number.Success) return $"{Math.Max(1, long.Parse(number.Groups[1].Value) * 2)}{number.Groups[2].Value}"; // 0ms -> 1ms
        if (value == "least-loaded") return "hash";
        return $"\"{value}-changed\"";
    }

    /// <summary>Each <c>fabric.*</c> key of the file: its value and the default its comment documents.</summary>
    private static Dictionary<string, (string Value, string? Default)> DocumentedKeys(string[] lines)
    {
        var result = new Dictionary<string, (string, string?)>();
        var path = new Stack<string>();
        var comments = new List<string>();       // the comment block right above the current line
        var sectionComments = new List<string>(); // every comment since the section opened
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.StartsWith('#'))
            {
                comments.Add(line);
                sectionComments.Add(line);
                continue;
            }
            var open = SectionOpen().Match(line);
            if (open.Success)
            {
                path.Push(open.Groups[1].Value);
                comments.Clear();
                sectionComments.Clear();
                continue;
            }
            if (line.StartsWith('}'))
            {
                path.Pop();
                comments.Clear();
                sectionComments.Clear();
                continue;
            }
            var kv = KeyValue().Match(line);
            if (kv.Success && path.Count > 0 && path.Reverse().First().StartsWith("fabric", StringComparison.Ordinal))
            {
                var leaf = kv.Groups[1].Value;
                var key = string.Join('.', path.Reverse().Append(leaf));
                var value = kv.Groups[2].Value.Trim().Trim('"');
                var inline = kv.Groups[3].Value;
                var own = inline + " " + string.Join(' ', comments);
                result[key] = (value, DefaultFor(leaf, own) ?? DefaultFor(leaf, string.Join(' ', sectionComments), namedOnly: true));
            }
            comments.Clear();
        }
        return result;
    }

    private static string? DefaultFor(string leaf, string text, bool namedOnly = false)
    {
        var named = new Regex($@"\b{Regex.Escape(leaf)}\s*\(default\s+([^\s,;:)]+)").Match(text);
        if (named.Success) return Clean(named.Groups[1].Value);
        if (namedOnly) return null;
        var bare = new Regex(@"(\S+)\s+\(default\)").Match(text);
        if (bare.Success) return Clean(bare.Groups[1].Value);
        var any = new Regex(@"\bdefault\s+([^\s,;:)]+)").Match(text);
        return any.Success ? Clean(any.Groups[1].Value) : null;
    }

    private static string Clean(string token) => token.Trim('"', '.', ',', ';', ':', '(', ')');

    private static bool Same(string value, string @default) => string.Equals(value, @default, StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"^(\d+)([a-zA-Z]*)$")]
    private static partial Regex NumberWithUnit();

    [GeneratedRegex(@"^([A-Za-z0-9.\-]+)\s*\{\s*$")]
    private static partial Regex SectionOpen();

    [GeneratedRegex(@"^([A-Za-z0-9\-]+)\s*=\s*(""[^""]*""|[^#\s]+)\s*(#.*)?$")]
    private static partial Regex KeyValue();
}
