using System.Collections.Concurrent;
using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.Cellular.Serial;

namespace Fabric.Tests.Cellular;

/// <summary>The serial AT port code on a real pseudo-terminal, with the emulator on the other side.</summary>
public class SerialLinkTests
{
    private static SimulatedModem PtyModem() =>
        new("hv-pty", "m1", SimulatedLink.PseudoTerminal, new MemoryCarrierPort("carrier"));

    [Fact]
    public void The_emulator_answers_on_a_pseudo_terminal_opened_like_a_usb_modem()
    {
        using var modem = PtyModem();
        Assert.StartsWith("/dev/pts/", modem.DevicePath);
        using var link = modem.OpenLink();
        var lines = new BlockingCollection<string>();
        link.Start(lines.Add, _ => lines.Add("<closed>"));

        Assert.True(link.TrySend("ATE0"));
        Assert.True(link.TrySend("AT+CGSN"));
        var seen = new List<string>();
        while (seen.Count(l => l == "OK") < 2 && lines.TryTake(out var line, TimeSpan.FromSeconds(5))) seen.Add(line);

        Assert.Equal(["ATE0", "OK", modem.Emulator.SerialNumber, "OK"], seen);
    }

    [Fact]
    public async Task Unplugging_the_modem_closes_the_open_port_and_the_next_open_finds_it_on_a_new_terminal()
    {
        using var modem = PtyModem();
        var first = modem.DevicePath;
        using var link = modem.OpenLink();
        var closed = new TaskCompletionSource<string>();
        link.Start(_ => { }, reason => closed.TrySetResult(reason));

        modem.Unplug();
        Assert.Contains("", await closed.Task.WaitAsync(TimeSpan.FromSeconds(5))); // the open port sees the modem vanish
        Assert.NotEqual(first, modem.DevicePath);

        using var again = modem.OpenLink();
        var lines = new BlockingCollection<string>();
        again.Start(lines.Add, _ => { });
        Assert.True(again.TrySend("AT"));
        var seen = new List<string>();
        while (!seen.Contains("OK") && lines.TryTake(out var line, TimeSpan.FromSeconds(5))) seen.Add(line);
        Assert.Contains("OK", seen);
        Assert.Contains("RDY", seen); // the reboot announced itself on the new terminal
    }

    [Theory]
    [InlineData("/dev/../etc/passwd", "resolves to /etc/passwd, which is not under /dev/")]
    [InlineData("/dev/no-such-modem", "No such file or directory")]
    public void A_device_path_that_leaves_dev_or_does_not_exist_is_refused_before_opening(string path, string reason)
    {
        Assert.Null(SerialModemLink.ResolveDevice(path, out var why));
        Assert.Contains(reason, why);
        var error = Assert.Throws<IOException>(() => SerialModemLink.Open(path));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void A_symlink_under_dev_pointing_outside_is_refused_and_a_device_that_is_not_a_terminal_too()
    {
        var link = $"/dev/cel-test-{Environment.ProcessId}";
        File.CreateSymbolicLink(link, "/etc/hostname");
        try
        {
            Assert.Null(SerialModemLink.ResolveDevice(link, out var why));
            Assert.Contains("resolves to /etc/hostname", why);
        }
        finally
        {
            File.Delete(link);
        }
        var error = Assert.Throws<IOException>(() => SerialModemLink.Open("/dev/null"));
        Assert.Contains("is not a terminal", error.Message);
    }
}
