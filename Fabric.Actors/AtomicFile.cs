namespace Fabric.Actors;

/// <summary>Replaces a small file whole: written beside it, then renamed over it, so a crash leaves the old file or the new one, never half of one.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string contents)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, contents);
        File.Move(temporary, path, overwrite: true);
    }
}
