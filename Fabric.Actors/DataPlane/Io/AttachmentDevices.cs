namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// The TAP devices this node created and keeps persistent (TUNSETPERSIST) so they outlive the
/// process: a stop or crash leaves them, with whatever the CE/VM side set on them, and a
/// restarted node attaches to them again. Kept as a small text file in the node's data
/// directory, one device a line (<c>NAMESPACE NAME</c>, <c>-</c> for the node's own namespace),
/// rewritten atomically (temporary file + rename) on every change.
/// </summary>
/// <remarks>
/// <para>Why a file and not a mark on the device: a TAP has nothing the node could set and read
/// back from any namespace without netlink (no owner field tells "made by us" from "made by
/// <c>ip tuntap add</c>": both are persistent devices of root), and the decision it guards,
/// deleting a device, must never hit one a VM manager or container runtime made. The file is
/// written <em>before</em> the device is made persistent: a crash in between leaves a line for a
/// device that vanished (harmless: the next open creates it again), never a persistent device the
/// node made but does not know.</para>
/// <para>Whether a device was created by this open is read from the kernel, not guessed: after
/// TUNSETIFF, TUNGETIFF reports IFF_PERSIST for a device that existed persistent already (ours from
/// a previous run, or foreign); a fresh one is not persistent yet.</para>
/// <para>A port is deleted (TUNSETPERSIST 0, then close) only when it is closed after being
/// <see cref="Retire">retired</see> (its port left the intent) and the node created it; every other
/// close only detaches.</para>
/// </remarks>
public sealed class AttachmentDevices
{
    /// <summary>The file's name in the node's data directory.</summary>
    public const string FileName = "attachment-devices";

    private readonly Lock _lock = new();
    private readonly string _path;
    private readonly HashSet<(string Namespace, string Name)> _created = [];
    private readonly HashSet<(string Namespace, string Name)> _retired = [];

    /// <summary>Loads the record at <paramref name="path"/> (absent = none yet).</summary>
    public AttachmentDevices(string path)
    {
        _path = path;
        if (!File.Exists(path)) return;
        foreach (var line in File.ReadAllLines(path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2) _created.Add((parts[0] == "-" ? "" : parts[0], parts[1]));
        }
    }

    /// <summary>The record of the node whose data directory is <paramref name="dataDir"/>.</summary>
    public static AttachmentDevices InDataDir(string dataDir) => new(Path.Combine(dataDir, FileName));

    /// <summary>Whether this node created device <paramref name="name"/> in namespace <paramref name="netns"/> ("" = the node's own).</summary>
    public bool Created(string netns, string name)
    {
        lock (_lock) return _created.Contains((netns, name));
    }

    /// <summary>Devices this node created, as (namespace, name).</summary>
    public IReadOnlyList<(string Namespace, string Name)> All
    {
        get
        {
            lock (_lock) return [.. _created];
        }
    }

    /// <summary>Records a device this node is creating (before it is made persistent).</summary>
    public void Record(string netns, string name)
    {
        lock (_lock)
        {
            if (_created.Add((netns, name))) Save();
        }
    }

    /// <summary>Forgets a device the node deleted.</summary>
    public void Forget(string netns, string name)
    {
        lock (_lock)
        {
            _retired.Remove((netns, name));
            if (_created.Remove((netns, name))) Save();
        }
    }

    /// <summary>
    /// The intent no longer has a port on this device: when its port closes, a device the node
    /// created is deleted. Opening the device again (the port came back) withdraws the mark.
    /// </summary>
    public void Retire(string netns, string name)
    {
        lock (_lock) _retired.Add((netns, name));
    }

    /// <summary>Withdraws a <see cref="Retire"/> mark (the device is wanted again).</summary>
    public void Keep(string netns, string name)
    {
        lock (_lock) _retired.Remove((netns, name));
    }

    /// <summary>True when the device's port is closing for good and the node created it: delete it.</summary>
    public bool ShouldDelete(string netns, string name)
    {
        lock (_lock) return _retired.Contains((netns, name)) && _created.Contains((netns, name));
    }

    private void Save()
    {
        AtomicFile.WriteAllText(_path, string.Concat(_created.OrderBy(d => d.Namespace, StringComparer.Ordinal).ThenBy(d => d.Name, StringComparer.Ordinal)
            .Select(d => $"{(d.Namespace.Length == 0 ? "-" : d.Namespace)} {d.Name}\n")));
    }
}
