using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// What a scenario must undo (nodes, servers, links, namespaces), last first: at its end
/// (<see cref="Dispose"/>), or when it is interrupted. A scenario stopped by SIGINT (Ctrl-C, a
/// held run given up) or SIGTERM used to die at once and leave its namespaces, node processes and
/// iperf3 servers behind. Now the signal stops every process the scenario started (SIGTERM, so a
/// node leaves its cluster; SIGKILL after <see cref="StopGrace"/>), runs the undo stacks of the
/// scenarios still running, deletes the namespaces still open (<see cref="Track"/>), and exits
/// with 128 + the signal's number.
/// </summary>
internal sealed class ScenarioCleanup : IDisposable
{
    /// <summary>As long as <see cref="NodeProcesses.Terminate"/> gives a node to leave its cluster.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(30);
    private static readonly Lock Gate = new();
    private static readonly List<ScenarioCleanup> Running = [];
    private static readonly ConcurrentDictionary<object, Action> Tracked = new();
    private static PosixSignalRegistration[]? _signals;
    private static int _interrupted;
    [ThreadStatic]
    private static bool t_interrupting;

    private readonly ConcurrentStack<Action> _undo = new();

    public ScenarioCleanup()
    {
        lock (Gate) Running.Add(this);
    }

    /// <summary>Undone before what was pushed earlier.</summary>
    public void Push(Action undo) => _undo.Push(undo);

    /// <summary>
    /// Deletes these links (a gateway's TAPs, which it leaves persistent for its next start; a
    /// veth's end), in the host's namespace or in a scenario namespace still open: one moved into
    /// a namespace comes back to the host's when the namespace is deleted, but only once the
    /// kernel has torn it down, after <c>ip netns del</c> has returned.
    /// </summary>
    public void DeleteLinks(params string[] names) => Push(() =>
    {
        var open = Tracked.Keys.OfType<ScenarioNamespace>().Select(n => n.Name).ToList();
        foreach (var name in names)
        {
            ScenarioNamespace.Run("ip", $"link del {name}", check: false);
            foreach (var ns in open) ScenarioNamespace.Run("ip", $"-n {ns} link del {name}", check: false);
        }
    });

    /// <summary>Runs the undo actions, last first; one that fails is reported and the rest still run.</summary>
    public void Dispose()
    {
        YieldToInterrupt();
        Drain();
        lock (Gate) Running.Remove(this);
    }

    /// <summary>An owner that undoes itself when disposed (a namespace): <paramref name="undo"/> runs only if the scenario is interrupted first.</summary>
    public static void Track(object owner, Action undo) => Tracked[owner] = undo;

    public static void Untrack(object owner) => Tracked.TryRemove(owner, out _);

    /// <summary>
    /// Called before undoing something on a scenario's own thread: once a signal's cleanup has
    /// begun, that thread (its stream just killed under it) waits here until the process exits,
    /// so it does not race the cleanup (it deleted namespaces while the signal's thread was about
    /// to delete the TAPs in them, and the TAPs, returning to the host's namespace later, stayed).
    /// </summary>
    public static void YieldToInterrupt()
    {
        if (Volatile.Read(ref _interrupted) != 0 && !t_interrupting) Thread.Sleep(Timeout.Infinite);
    }

    /// <summary>Once per process, before a scenario starts: SIGINT and SIGTERM clean up, then exit.</summary>
    public static void HandleSignals()
    {
        lock (Gate)
        {
            _signals ??=
            [
                PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Interrupted(context, 2)),
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Interrupted(context, 15)),
            ];
        }
    }

    private void Drain()
    {
        while (_undo.TryPop(out var undo))
        {
            try
            {
                undo();
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"cleanup: {e.Message}");
            }
        }
    }

    private static void Interrupted(PosixSignalContext context, int number)
    {
        context.Cancel = true;
        t_interrupting = true;
        if (Interlocked.Exchange(ref _interrupted, 1) != 0) return;
        Console.Error.WriteLine($"scenario: {context.Signal}: stopping its processes, removing its links and namespaces");
        StopDescendants();
        ScenarioCleanup[] running;
        lock (Gate) running = [.. Running];
        for (int i = running.Length - 1; i >= 0; i--) running[i].Drain();
        foreach (var owner in Tracked.Keys)
        {
            if (Tracked.TryRemove(owner, out var undo))
            {
                try
                {
                    undo();
                }
                catch (Exception e)
                {
                    Console.Error.WriteLine($"cleanup: {e.Message}");
                }
            }
        }

        Environment.Exit(128 + number);
    }

    /// <summary>SIGTERM to every process below this one, SIGKILL to those still there after the grace.</summary>
    private static void StopDescendants()
    {
        var pids = Descendants(Environment.ProcessId);
        foreach (int pid in pids) NodeProcesses.Signal(pid, 15);
        var deadline = DateTime.UtcNow + StopGrace;
        while (pids.Any(Alive) && DateTime.UtcNow < deadline) Thread.Sleep(50);
        foreach (int pid in pids.Where(Alive)) NodeProcesses.Signal(pid, 9);
    }

    /// <summary>The processes below <paramref name="pid"/> (children of all its threads, recursively), from /proc.</summary>
    internal static List<int> Descendants(int pid)
    {
        var found = new List<int>();
        var pending = new Stack<int>([pid]);
        while (pending.TryPop(out int parent))
        {
            string[] tasks;
            try
            {
                tasks = Directory.GetDirectories($"/proc/{parent}/task");
            }
            catch (IOException)
            {
                continue; // gone meanwhile
            }

            foreach (var task in tasks)
            {
                string children;
                try
                {
                    children = File.ReadAllText(Path.Combine(task, "children"));
                }
                catch (IOException)
                {
                    continue;
                }

                foreach (var child in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    int c = int.Parse(child);
                    found.Add(c);
                    pending.Push(c);
                }
            }
        }

        return found;
    }

    /// <summary>Running (a zombie waiting for its parent to reap it counts as gone).</summary>
    internal static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
