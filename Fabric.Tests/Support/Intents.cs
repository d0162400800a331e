namespace Fabric.Tests.Support;

/// <summary>Small valid and invalid intent documents for config tests.</summary>
public static class Intents
{
    /// <summary>A valid document with one tenant named <paramref name="tenant"/> (so each is different).</summary>
    public static string WithTenant(string tenant, uint vni = 100, params string[] nodes) =>
        $"""
        version: 1
        nodes:
        {string.Join("\n", (nodes.Length == 0 ? ["node-a"] : nodes).Select(n => $"  - name: {n}\n    roles: [fabric, ghost-shadow]"))}
        tenants:
          - name: {tenant}
            vni: {vni}
        """;

    /// <summary>Invalid: a PE on a node that the document does not declare (line 7).</summary>
    public const string UnknownNode = """
        version: 1
        nodes:
          - name: node-a
            roles: [fabric]
        pes:
          - name: pe-1
            node: node-zz
            routerId: 10.255.0.1
            attachmentCircuits: []
        """;
}
