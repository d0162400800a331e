using System.Collections.Immutable;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;
using static Fabric.Tests.Intent.IntentTestDocs;

namespace Fabric.Tests.Intent;

/// <summary>A simulated port's `traffic` rate, the `lab` section, and what `intent applied` lists.</summary>
public sealed class IntentTrafficAndLabTests
{
    private static string LabSample => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "samples", "lab-intent.yaml"));

    [Fact]
    public void The_sample_gives_its_circuits_and_downlinks_a_traffic_rate_that_survives_the_canonical_text()
    {
        var document = Valid(Sample);
        Assert.Equal(20, document.Pes.Single(p => p.Name == "pe-a").AttachmentCircuits.Single(a => a.Name == "ce-a").Port.Traffic);
        Assert.Equal(20, document.Gateways[0].Tenants.Single(t => t.Tenant == "blue").Downlink!.Traffic);
        var canonical = IntentJson.Write(document);
        Assert.Equal(canonical, IntentJson.Write(Valid(canonical)));
        Assert.Equal(4, canonical.Split("\"traffic\": ").Length - 1);
    }

    [Fact]
    public void Traffic_on_a_tap_port_or_out_of_range_is_refused_at_its_line()
    {
        var tap = LabSample.Replace("port: { kind: tap, name: lab-ce-a }", "port: { kind: tap, name: lab-ce-a, traffic: 5 }");
        var error = Assert.Single(Refused(tap));
        Assert.Equal("pes[0].attachmentCircuits[0].port.traffic", error.Field);
        Assert.Contains("only a simulated port generates traffic", error.Reason);

        var tooMuch = Sample.Replace("name: ce-a, traffic: 20", "name: ce-a, traffic: 1000000");
        Assert.Contains(Refused(tooMuch), e => e.Field.EndsWith("port.traffic", StringComparison.Ordinal));
    }

    [Fact]
    public void The_lab_section_names_tap_ports_of_the_document_and_round_trips()
    {
        var document = Valid(LabSample);
        Assert.Equal(["lab-ce-a", "lab-ce-b"], document.Lab.Select(l => l.Port));
        Assert.Equal("10.88.0.1/24", document.Lab[0].Address.ToString());
        var canonical = IntentJson.Write(document);
        Assert.Equal(canonical, IntentJson.Write(Valid(canonical)));

        var unknown = LabSample.Replace("- { port: lab-ce-b, address: 10.88.0.2/24 }", "- { port: nowhere, address: 10.88.0.2/24 }");
        var error = Assert.Single(Refused(unknown));
        Assert.Equal("lab[1].port", error.Field);
        Assert.Contains("'nowhere' is not a TAP port of this document", error.Reason);

        var badAddress = LabSample.Replace("address: 10.88.0.2/24", "address: 10.88.0.0/24");
        Assert.Contains(Refused(badAddress), e => e.Field == "lab[1].address");
    }

    [Fact]
    public void Intent_applied_lists_only_the_elements_whose_actor_runs()
    {
        var document = Valid(Sample);
        ElementSpec Spec(string kind, string name) => new(kind, name, new object(), "");
        var running = HostedElements.Running(document, "node-1", [Spec("pe", "pe-a"), Spec("gw", "gw-1")]);
        Assert.Contains(running, e => e is { Kind: "pe", Name: "pe-a" });
        Assert.Contains(running, e => e is { Kind: "trunk", Name: "trunk-a" });
        Assert.Contains(running, e => e is { Kind: "pw", Name: "pw-ab-1" });
        Assert.Contains(running, e => e is { Kind: "gateway", Name: "gw-1" });
        Assert.DoesNotContain(running, e => e.Name is "pe-b" or "trunk-b" or "pw-ba-1" or "host-1" or "hv-1");
        Assert.Equal(HostedElements.On(document, "node-1").Length,
            HostedElements.Running(document, "node-1", [Spec("pe", "pe-a"), Spec("pe", "pe-b"), Spec("gw", "gw-1"), Spec("host", "host-1"), Spec("hv", "hv-1")]).Length);
    }
}
