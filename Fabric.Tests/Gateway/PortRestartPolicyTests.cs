using Fabric.Actors.Gateway;

namespace Fabric.Tests.Gateways;

public class PortRestartPolicyTests
{
    private static PortRestartPolicy Policy() => new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));

    [Fact]
    public void The_delay_doubles_from_100_ms_up_to_5_s_and_failed_opens_are_counted()
    {
        var p = Policy();
        var delays = Enumerable.Range(0, 8).Select(_ => (int)p.Failed("ENODEV", openFailed: true).TotalMilliseconds).ToArray();
        Assert.Equal([100, 200, 400, 800, 1600, 3200, 5000, 5000], delays);
        Assert.Equal(8, p.OpenFailures);
        Assert.True(p.Restarting);
        Assert.Equal(0, p.Restarts);
    }

    [Fact]
    public void A_reopen_after_a_failure_is_a_restart_and_the_backoff_resets_only_after_the_port_stayed_up()
    {
        var p = Policy();
        p.Opened(now: 0);
        Assert.Equal(0, p.Restarts); // the first open is not a restart
        p.Failed("device vanished", openFailed: false);
        p.Failed("EINVAL", openFailed: true);
        p.Opened(now: 1_000);
        Assert.Equal(1, p.Restarts);
        Assert.Equal(1, p.OpenFailures);
        Assert.False(p.Restarting);

        p.StillUp(now: 5_000);
        Assert.Equal(TimeSpan.FromMilliseconds(400), p.Backoff); // a flapping port keeps backing off
        p.StillUp(now: 11_000);
        Assert.Equal(TimeSpan.FromMilliseconds(100), p.Backoff);
    }
}
