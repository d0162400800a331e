using System.Security.Cryptography;

namespace Fabric.Node.Hosting;

/// <summary>
/// The bearer token that mutating management calls need: <c>--token</c> / <c>FABRIC_TOKEN</c>,
/// else generated once into <c>DATA/token</c> (mode 0600) and reused on every restart. A token
/// file that group or others may read is refused, not repaired: the token may already have
/// been read, so the operator decides (chmod 600 to keep it, delete it for a new one).
/// </summary>
public static class ManagementToken
{
    public const string FileName = "token";

    public static string PathIn(string dataDir) => Path.Combine(dataDir, FileName);

    public static (string Token, string Source) Resolve(NodeOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.Token)) return (options.Token.Trim(), "--token/FABRIC_TOKEN");

        var file = PathIn(options.DataDir);
        if (File.Exists(file))
        {
            var mode = File.GetUnixFileMode(file);
            if ((mode & DataDirectory.GroupOrOther) != 0)
                throw new ArgumentException(
                    $"the token file {file} has mode {DataDirectory.Octal(mode)}: group or others can read it, so the token may have leaked. " +
                    $"Keep it with 'chmod 600 {file}', or delete it and a new token is generated");
            var existing = File.ReadAllText(file).Trim();
            if (existing.Length > 0) return (existing, file);
        }

        DataDirectory.Create(options.DataDir);
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using (var stream = new FileStream(file, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(token);
        }
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (token, file);
    }

    /// <summary>Constant-time comparison of an Authorization header value against the token.</summary>
    public static bool Matches(string? authorizationHeader, string token)
    {
        const string prefix = "Bearer ";
        if (authorizationHeader is null || !authorizationHeader.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            return false;
        var given = System.Text.Encoding.UTF8.GetBytes(authorizationHeader[prefix.Length..].Trim());
        var expected = System.Text.Encoding.UTF8.GetBytes(token);
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }
}
