namespace Fabric.Tests.DataPlane.Io;

/// <summary>Reads captures back with the real tshark, the way an operator would.</summary>
internal static class Tshark
{
    /// <summary>
    /// `tshark -r FILE -V` with IP/UDP checksum validation on; throws if tshark fails. Asserts
    /// nothing is malformed or flagged as an error.
    /// </summary>
    public static string DecodeVerbose(string pcapPath, string extraOptions = "")
    {
        string tshark = HostTools.Require("tshark", "tshark");
        HostTools.Result r = HostTools.Run(
            tshark,
            $"-n -r {pcapPath} -V -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE {extraOptions}",
            timeoutMs: 60_000);
        Assert.True(r.ExitCode == 0, $"tshark failed: {r}");
        Assert.DoesNotContain("Malformed", r.Stdout);
        Assert.DoesNotContain("Expert Info (Error", r.Stdout);
        Assert.DoesNotContain("[Checksum Status: Bad]", r.Stdout);
        return r.Stdout;
    }

    /// <summary>One line per frame: the `frame.protocols` chain, e.g. "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:udp:data".</summary>
    public static string[] ProtocolChains(string pcapPath, string extraOptions = "")
    {
        string tshark = HostTools.Require("tshark", "tshark");
        HostTools.Result r = HostTools.Run(tshark, $"-n -r {pcapPath} -T fields -e frame.protocols {extraOptions}", timeoutMs: 60_000);
        Assert.True(r.ExitCode == 0, $"tshark failed: {r}");
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
