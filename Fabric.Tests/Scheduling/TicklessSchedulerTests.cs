using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Scheduling;

namespace Fabric.Tests.Scheduling;

/// <summary>
/// The tickless scheduler, as Akka's scheduler inside an actor system (tells, actions, actor
/// timers, cancellation, repetition, order, precision) and on its own (its thread sleeps while
/// nothing is due, and wakes once per due timer).
/// </summary>
public class TicklessSchedulerTests() : TestKit(ConfigurationFactory.ParseString("""
    akka.loglevel = WARNING
    akka.scheduler.implementation = "Fabric.Actors.Scheduling.TicklessScheduler, Fabric.Actors"
    """))
{
    [Fact]
    public void The_actor_system_runs_on_it()
    {
        Assert.IsType<TicklessScheduler>(Sys.Scheduler);
    }

    [Fact]
    public void A_tell_arrives_within_milliseconds_of_its_delay_not_rounded_to_a_tick()
    {
        var late = new List<double>();
        for (var i = 0; i < 10; i++)
        {
            var clock = Stopwatch.StartNew();
            Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(25), TestActor, i, ActorRefs.NoSender);
            ExpectMsg(i, TimeSpan.FromSeconds(3));
            var took = clock.Elapsed.TotalMilliseconds;
            Assert.True(took >= 24.5, $"delivered after {took:F1} ms, before its 25 ms delay");
            late.Add(took - 25);
        }
        late.Sort();
        // Akka's wheel (10 ms ticks by default, 100 ms in fabric.conf) rounds up to a tick; here the
        // median lateness is a wake-up, not a tick (generous: the test machine is shared).
        Assert.True(late[5] < 20, $"median lateness {late[5]:F1} ms");
    }

    [Fact]
    public void Registrations_run_in_the_order_they_fall_due_and_an_earlier_one_wakes_a_sleeping_scheduler()
    {
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(30), TestActor, "far", ActorRefs.NoSender);
        var delays = Enumerable.Range(0, 40).Select(i => (i * 37) % 40 * 5 + 20).ToArray(); // 20..215 ms, shuffled
        foreach (var d in delays) Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(d), TestActor, d, ActorRefs.NoSender);

        var got = Enumerable.Range(0, delays.Length).Select(_ => ExpectMsg<int>(TimeSpan.FromSeconds(3))).ToArray();

        Assert.Equal(delays.Order(), got);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // "far" is not due
    }

    [Fact]
    public void A_cancelled_registration_does_not_run_and_a_repeated_one_repeats_until_cancelled()
    {
        var once = Sys.Scheduler.ScheduleTellOnceCancelable(TimeSpan.FromMilliseconds(100), TestActor, "cancelled", ActorRefs.NoSender);
        once.Cancel();
        var repeated = Sys.Scheduler.ScheduleTellRepeatedlyCancelable(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), TestActor, "tick", ActorRefs.NoSender);

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 6; i++) ExpectMsg("tick", TimeSpan.FromSeconds(3));
        var sixTicks = clock.Elapsed;
        repeated.Cancel();
        Thread.Sleep(60); // one in flight at the cancel may still arrive
        while (HasMessages) ExpectMsg("tick");

        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.True(sixTicks >= TimeSpan.FromMilliseconds(10 + 5 * 50 - 5), $"six ticks took {sixTicks.TotalMilliseconds:F0} ms: faster than the 50 ms interval");
    }

    [Fact]
    public async Task Actions_run_and_one_that_throws_does_not_stop_the_scheduler()
    {
        var ran = new TaskCompletionSource();
        Sys.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(10), () => throw new InvalidOperationException("test: a failing action"));
        Sys.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(30), () => ran.SetResult());

        await ran.Task.WaitAsync(TimeSpan.FromSeconds(3));
    }

    private sealed class TimerUser : ReceiveActor, IWithTimers
    {
        public TimerUser(IActorRef probe)
        {
            Receive<string>(s => s == "start", _ =>
            {
                Timers.StartPeriodicTimer("p", "periodic", TimeSpan.FromMilliseconds(40));
                Timers.StartSingleTimer("s", "single", TimeSpan.FromMilliseconds(120));
            });
            Receive<string>(s => s == "stop", _ => Timers.Cancel("p"));
            Receive<string>(s => probe.Tell(s));
        }

        public ITimerScheduler Timers { get; set; } = null!;
    }

    [Fact]
    public void Actor_timers_run_on_it()
    {
        var actor = Sys.ActorOf(Props.Create(() => new TimerUser(TestActor)));
        actor.Tell("start");

        var got = ReceiveN(5, TimeSpan.FromSeconds(3)).Cast<string>().ToList();
        Assert.Contains("single", got);
        Assert.True(got.Count(s => s == "periodic") >= 2);
        actor.Tell("stop");
        Thread.Sleep(100);
        while (HasMessages) ReceiveOne();
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Cancelled_long_timers_are_purged_instead_of_held_until_due()
    {
        using var scheduler = new TicklessScheduler(Sys.Settings.Config, Sys.Log, "tickless-purge");
        var cancels = new List<ICancelable>();
        for (var i = 0; i < 20_000; i++)
        {
            var c = new Cancelable((IScheduler)scheduler);
            ((ITellScheduler)scheduler).ScheduleTellOnce(TimeSpan.FromHours(1), TestActor, i, ActorRefs.NoSender, c);
            c.Cancel();
        }

        Assert.InRange(scheduler.Pending, 0, 2_048);
    }

    [Fact]
    public void Its_thread_sleeps_while_nothing_is_due_and_wakes_once_per_due_timer()
    {
        var name = $"tickless-{Environment.ProcessId % 10000}";
        using var scheduler = new TicklessScheduler(Sys.Settings.Config, Sys.Log, name);
        var task = AwaitThread(name);

        var idle = Switches(task);
        Thread.Sleep(1_000);
        var idleWakeUps = Switches(task) - idle;

        var fired = 0;
        var c = new Cancelable((IScheduler)scheduler);
        ((IActionScheduler)scheduler).ScheduleRepeatedly(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100), () => Interlocked.Increment(ref fired), c);
        var busy = Switches(task);
        Thread.Sleep(1_050);
        var busyWakeUps = Switches(task) - busy;
        c.Cancel();

        Assert.InRange(idleWakeUps, 0, 1); // Akka's wheel: 10 (100 ms ticks) to 100 (default 10 ms)
        Assert.InRange(Volatile.Read(ref fired), 8, 11);
        Assert.InRange(busyWakeUps, 8, 2 * 11 + 1); // one per run, and at most one more when woken early by the registration
    }

    /// <summary>The /proc task of this process's thread named <paramref name="name"/>.</summary>
    private static string AwaitThread(string name)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            foreach (var task in Directory.GetDirectories("/proc/self/task"))
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(task, "comm")).Trim() == name) return task;
                }
                catch (IOException)
                {
                    // the thread ended meanwhile
                }
            }
            Thread.Sleep(10);
        }
        throw new InvalidOperationException($"no thread named {name}");
    }

    /// <summary>Voluntary context switches of a thread: each is a wait that ended (a wake-up).</summary>
    private static long Switches(string task) =>
        long.Parse(File.ReadAllLines(Path.Combine(task, "status")).First(l => l.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal)).Split(':')[1].Trim());
}
