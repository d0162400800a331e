using System.Collections.Immutable;
using System.Net;

namespace Fabric.Node.Hosting;

/// <summary>
/// Everything `fabric-node run` is told: each flag has an environment variable
/// (<c>--seed</c> = <c>FABRIC_SEEDS</c>, comma-separated); flags win over the environment.
/// </summary>
public sealed record NodeOptions
{
    public const int DefaultRemotingPort = 4053;
    public const string DefaultManagement = "127.0.0.1:8558";

    public string Name { get; init; } = "node-1";
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = DefaultRemotingPort;
    public ImmutableArray<string> Seeds { get; init; } = ImmutableArray<string>.Empty;
    public ImmutableArray<string> Roles { get; init; } = ImmutableArray.Create("fabric", "ghost-shadow");
    public string ManagementHost { get; init; } = "127.0.0.1";
    public int ManagementPort { get; init; } = 8558;
    public string DataDir { get; init; } = "./data";
    public string Db { get; init; } = "sqlite";
    /// <summary>An intent file to propose at start; null = none; "sample" = the shipped sample.</summary>
    public string? IntentFile { get; init; }
    public string? Token { get; init; }
    /// <summary>Extra HOCON file layered over hocon/fabric.conf.</summary>
    public string? HoconFile { get; init; }
    /// <summary>PEM certificate (chain) and private key for management HTTPS; both or neither.</summary>
    public string? ManagementCert { get; init; }
    public string? ManagementKey { get; init; }
    /// <summary>
    /// PEM certificate and key for Akka remoting over mutual TLS, and the PEM CA bundle every peer's
    /// certificate must chain to; all three or none (see <see cref="RemotingTls"/>).
    /// </summary>
    public string? RemotingCert { get; init; }
    public string? RemotingKey { get; init; }
    public string? RemotingCa { get; init; }
    /// <summary>Plain HTTP on a non-loopback management address, accepted only with this explicit opt-out.</summary>
    public bool InsecureManagement { get; init; }
    /// <summary>Extra names the management API answers to in the Host header (a DNS name, a load balancer's).</summary>
    public ImmutableArray<string> ManagementAllowedHosts { get; init; } = ImmutableArray<string>.Empty;
    /// <summary>Reads need the bearer token too (all routes but /health/*).</summary>
    public bool TokenForReads { get; init; }
    /// <summary>Most management connections open at once; more are closed at once and logged.</summary>
    public int ManagementMaxConnections { get; init; } = DefaultManagementMaxConnections;

    public const int DefaultManagementMaxConnections = 128;

    /// <summary>Flags that take no value (<c>--flag</c>, or <c>--flag=false</c>); their variables take 1/true/yes.</summary>
    public static readonly IReadOnlySet<string> Switches = new HashSet<string> { "--insecure-management", "--token-for-reads" };

    public static readonly IReadOnlyDictionary<string, string> EnvironmentNames = new Dictionary<string, string>
    {
        ["--name"] = "FABRIC_NAME",
        ["--host"] = "FABRIC_HOST",
        ["--port"] = "FABRIC_PORT",
        ["--seed"] = "FABRIC_SEEDS",
        ["--roles"] = "FABRIC_ROLES",
        ["--management"] = "FABRIC_MANAGEMENT",
        ["--data"] = "FABRIC_DATA",
        ["--db"] = "FABRIC_DB",
        ["--intent"] = "FABRIC_INTENT",
        ["--token"] = "FABRIC_TOKEN",
        ["--hocon"] = "FABRIC_HOCON",
        ["--management-cert"] = "FABRIC_MANAGEMENT_CERT",
        ["--management-key"] = "FABRIC_MANAGEMENT_KEY",
        ["--insecure-management"] = "FABRIC_INSECURE_MANAGEMENT",
        ["--management-allowed-host"] = "FABRIC_MANAGEMENT_ALLOWED_HOSTS",
        ["--token-for-reads"] = "FABRIC_TOKEN_FOR_READS",
        ["--management-max-connections"] = "FABRIC_MANAGEMENT_MAX_CONNECTIONS",
        ["--remoting-cert"] = "FABRIC_REMOTING_CERT",
        ["--remoting-key"] = "FABRIC_REMOTING_KEY",
        ["--remoting-ca"] = "FABRIC_REMOTING_CA",
    };

    public const string Usage = """
        fabric-node run [options]        start a node (the agent)
          --name NAME           node name (FABRIC_NAME, default node-1)
          --host HOST           Akka remoting address (FABRIC_HOST, default 127.0.0.1)
          --port PORT           Akka remoting port (FABRIC_PORT, default 4053; 0 = any)
          --seed HOST:PORT      seed node, repeatable (FABRIC_SEEDS, comma-separated); none = new cluster
          --roles R1,R2         roles (FABRIC_ROLES, default fabric,ghost-shadow)
          --management H:P      management HTTP (FABRIC_MANAGEMENT, default 127.0.0.1:8558)
          --data DIR            data directory (FABRIC_DATA, default ./data)
          --db sqlite|CONN      sqlite (default, DATA/fabric.db) or a PostgreSQL connection string (FABRIC_DB)
          --intent FILE         propose this intent document at start (FABRIC_INTENT); 'none' to skip
          --token TOKEN         management bearer token (FABRIC_TOKEN, default: generated into DATA/token)
          --hocon FILE          extra HOCON layered over hocon/fabric.conf (FABRIC_HOCON)
          --management-cert FILE, --management-key FILE
                                PEM certificate and key: management over HTTPS (FABRIC_MANAGEMENT_CERT/_KEY)
          --insecure-management plain HTTP on a non-loopback management address (logged as a warning);
                                without it such an address needs --management-cert (FABRIC_INSECURE_MANAGEMENT)
          --management-allowed-host NAME
                                another name clients use in the Host header, repeatable (FABRIC_MANAGEMENT_ALLOWED_HOSTS)
          --token-for-reads     every route but /health/* needs the token (FABRIC_TOKEN_FOR_READS)
          --management-max-connections N
                                most management connections at once (FABRIC_MANAGEMENT_MAX_CONNECTIONS, default 128)
          --remoting-cert FILE, --remoting-key FILE, --remoting-ca FILE
                                PEM certificate, key and CA bundle: Akka remoting over mutual TLS; a peer
                                whose certificate does not chain to the CA cannot connect
                                (FABRIC_REMOTING_CERT/_KEY/_CA)
        With no options and no seed, the node starts a new one-node cluster and proposes the sample intent.
        """;

    /// <summary>Parses flags over environment variables. Throws <see cref="ArgumentException"/> with a one-line reason.</summary>
    public static NodeOptions Parse(IReadOnlyList<string> args, Func<string, string?> env)
    {
        var values = new Dictionary<string, List<string>>();
        foreach (var (flag, variable) in EnvironmentNames)
            if (env(variable) is { Length: > 0 } v)
                values[flag] = flag is "--seed" or "--management-allowed-host"
                    ? v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
                    : [v];

        var fromFlags = new HashSet<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var (flag, inline) = args[i].Split('=', 2) is [var f, var val] && f.StartsWith("--") ? (f, val) : (args[i], null);
            if (!EnvironmentNames.ContainsKey(flag)) throw new ArgumentException($"unknown option '{args[i]}'");
            var value = Switches.Contains(flag)
                ? inline ?? "true"
                : inline ?? (i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{flag} needs a value"));
            if (fromFlags.Add(flag)) values[flag] = [];
            values[flag].Add(value);
        }

        string? One(string flag) => values.TryGetValue(flag, out var v) ? v[^1] : null;
        var options = new NodeOptions();
        if (One("--name") is { } name) options = options with { Name = name };
        if (One("--host") is { } host) options = options with { Host = host };
        if (One("--port") is { } port) options = options with { Port = ParsePort(port, "--port") };
        if (values.TryGetValue("--seed", out var seeds))
        {
            foreach (var s in seeds) ParseEndpoint(s, "--seed");
            options = options with { Seeds = seeds.ToImmutableArray() };
        }
        if (One("--roles") is { } roles)
            options = options with { Roles = roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToImmutableArray() };
        if (One("--management") is { } mgmt)
        {
            var (h, p) = ParseEndpoint(mgmt, "--management");
            options = options with { ManagementHost = h, ManagementPort = p };
        }
        if (One("--data") is { } data) options = options with { DataDir = data };
        if (One("--db") is { } db) options = options with { Db = db };
        if (One("--intent") is { } intent) options = options with { IntentFile = intent };
        if (One("--token") is { } token) options = options with { Token = token };
        if (One("--hocon") is { } hocon) options = options with { HoconFile = hocon };
        if (One("--management-cert") is { } cert) options = options with { ManagementCert = cert };
        if (One("--management-key") is { } key) options = options with { ManagementKey = key };
        if (One("--remoting-cert") is { } rcert) options = options with { RemotingCert = rcert };
        if (One("--remoting-key") is { } rkey) options = options with { RemotingKey = rkey };
        if (One("--remoting-ca") is { } rca) options = options with { RemotingCa = rca };
        if (new[] { options.RemotingCert, options.RemotingKey, options.RemotingCa }.Count(v => v is not null) is 1 or 2)
            throw new ArgumentException("--remoting-cert, --remoting-key and --remoting-ca go together: give all three or none");
        if (One("--insecure-management") is { } insecure) options = options with { InsecureManagement = ParseSwitch(insecure, "--insecure-management") };
        if (values.TryGetValue("--management-allowed-host", out var hosts))
            options = options with { ManagementAllowedHosts = hosts.ToImmutableArray() };
        if (One("--token-for-reads") is { } reads) options = options with { TokenForReads = ParseSwitch(reads, "--token-for-reads") };
        if (One("--management-max-connections") is { } max)
            options = options with
            {
                ManagementMaxConnections = int.TryParse(max, out var n) && n is >= 1 and <= 100_000
                    ? n
                    : throw new ArgumentException($"--management-max-connections: '{max}' is not a number of connections (1-100000)"),
            };
        return options;
    }

    private static bool ParseSwitch(string text, string flag) => text.ToLowerInvariant() switch
    {
        "" or "1" or "true" or "yes" or "on" => true,
        "0" or "false" or "no" or "off" => false,
        _ => throw new ArgumentException($"{flag}: '{text}' is not true or false"),
    };

    /// <summary>The Akka address of a seed given as host:port (akka.ssl.tcp when remoting runs over TLS).</summary>
    public static string SeedAddress(string seed, string systemName, bool tls = false)
    {
        var (host, port) = ParseEndpoint(seed, "--seed");
        return $"{(tls ? "akka.ssl.tcp" : "akka.tcp")}://{systemName}@{host}:{port}";
    }

    /// <summary>Remoting runs over mutual TLS (all three remoting files given).</summary>
    public bool RemotingTls => RemotingCert is not null;

    public static (string Host, int Port) ParseEndpoint(string text, string flag)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0) throw new ArgumentException($"{flag} '{text}' is not host:port");
        var host = text[..colon];
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown && !IPAddress.TryParse(host, out _))
            throw new ArgumentException($"{flag} '{text}': '{host}' is not a host name or address");
        return (host, ParsePort(text[(colon + 1)..], flag));
    }

    private static int ParsePort(string text, string flag) =>
        int.TryParse(text, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new ArgumentException($"{flag}: '{text}' is not a port (0-65535)");
}
