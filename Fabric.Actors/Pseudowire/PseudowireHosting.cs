using Fabric.Actors.Guardian;
using Microsoft.Extensions.DependencyInjection;

namespace Fabric.Actors.Pseudowire;

public static class PseudowireHosting
{
    /// <summary>
    /// The pseudowire capability on this node: one <see cref="PseudowireNode"/> (underlay socket,
    /// pool, live state for management) as a singleton, and the "pe" element kind the guardian
    /// starts PEs through.
    /// </summary>
    public static IServiceCollection AddPseudowires(this IServiceCollection services, ElementKindRegistry kinds, PseudowireNode? node = null)
    {
        node ??= new PseudowireNode();
        kinds.Add(new PeElementKind(node));
        services.AddSingleton(node);
        return services;
    }
}
