namespace Fabric.Node.Hosting;

/// <summary>
/// The node's data directory holds the token and (with SQLite) the journal: it is created 0700.
/// An existing directory keeps its mode (the operator chose it), with a warning when others can enter it.
/// </summary>
public static class DataDirectory
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="path"/> (and missing parents) 0700; returns a warning when it already existed open to others.</summary>
    public static string? Create(string path)
    {
        if (Directory.Exists(path))
        {
            var mode = File.GetUnixFileMode(path);
            return (mode & GroupOrOther) == 0 ? null
                : $"the data directory {path} has mode {Octal(mode)}: group or others can enter it (chmod 700 {path})";
        }
        Directory.CreateDirectory(path, OwnerOnly);
        return null;
    }

    public static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);
}
