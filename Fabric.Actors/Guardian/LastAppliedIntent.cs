namespace Fabric.Actors.Guardian;

/// <summary>
/// The intent this node applied last, kept in its data directory (file <see cref="FileName"/>:
/// the version on the first line, the canonical document after it; replaced atomically by a
/// temporary file and a rename) so that a restarted node can start its elements before its
/// config store has recovered. It is a cache, never a source of truth: the store's intent always wins.
/// </summary>
public sealed class LastAppliedIntent(string path)
{
    public const string FileName = "applied-intent";

    public string Path { get; } = path;

    public bool Exists => File.Exists(Path);

    /// <summary>The kept intent, or null when there is none or it is unreadable.</summary>
    public (long Version, string Document)? Read()
    {
        try
        {
            var text = File.ReadAllText(Path);
            var newline = text.IndexOf('\n');
            if (newline < 0 || !long.TryParse(text.AsSpan(0, newline), out var version)) return null;
            return (version, text[(newline + 1)..]);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Keeps <paramref name="document"/> (intent version <paramref name="version"/>).</summary>
    public void Write(long version, string document)
    {
        AtomicFile.WriteAllText(Path, $"{version}\n{document}");
    }
}
