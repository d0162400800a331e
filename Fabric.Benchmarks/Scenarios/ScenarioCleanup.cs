using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// What a scenario must undo (nodes, servers, links, namespaces), last first: at its end
/// (<see cref="Dispose"/>), or when it is interrupted. A scenario stopped by SIGINT (Ctrl-C, a
/// held run given up) or SIGTERM used to die at once and leave its namespaces, node processes and
/// iperf3 servers behind. Now the signal stops every process the scenario started (SIGTERM, so a
/// node removes its TAPs; SIGKILL after <see cref="StopGrace"/>), runs the undo stacks of the
/// scenarios still running, deletes the namespaces still open (<see cref="Track"/>), and exits
/// with 128 + the signal's number.
/// </summary>
internal sealed class ScenarioCleanup : IDisposable
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    private static readonly Lock Gate = new();
    private static readonly List<ScenarioCleanup> Running = [];
    private static readonly ConcurrentDictionary<object, Action> Tracked = new();
    private static PosixSignalRegistration[]? _signals;
    private static int _interrupted;

    private readonly ConcurrentStack<Action> _undo = new();

    public ScenarioCleanup()
    {
        lock (Gate) Running.Add(this);
    }

    /// <summary>Undone before what was pushed earlier.</summary>
    public void Push(Action undo) => _undo.Push(undo);

    /// <summary>Runs the undo actions, last first; one that fails is reported and the rest still run.</summary>
    public void Dispose()
    {
        Drain();
        lock (Gate) Running.Remove(this);
    }

    /// <summary>An owner that undoes itself when disposed (a namespace): <paramref name="undo"/> runs only if the scenario is interrupted first.</summary>
    public static void Track(object owner, Action undo) => Tracked[owner] = undo;

    public static void Untrack(object owner) => Tracked.TryRemove(owner, out _);

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
