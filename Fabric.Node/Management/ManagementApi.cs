using Fabric.Node.Hosting;

namespace Fabric.Node.Management;

/// <summary>
/// Management HTTP: the Akka.Management-like cluster routes, health, intent and changes, and the
/// actor tree. Reads are open on the (loopback by default) management address unless
/// <c>--token-for-reads</c>; every call that changes something needs
/// <c>Authorization: Bearer TOKEN</c>, checked before its body is read. Every error is
/// problem+json (<see cref="ManagementPipeline"/> for the ones no route writes).
/// </summary>
public static class ManagementApi
{
    public static WebApplication MapManagementApi(this WebApplication app)
    {
        app.MapClusterEndpoints();
        app.MapHealthEndpoints();
        app.MapIntentEndpoints();
        app.MapActorEndpoints();
        app.MapPseudowireEndpoints();
        app.MapGatewayEndpoints();
        app.MapHostEndpoints();
        app.MapCellularEndpoints();
        Fabric.Node.Dashboard.DashboardEndpoints.MapDashboard(app);
        return app;
    }

    /// <summary>Refuses the call with 401 problem+json unless it carries the node's bearer token.</summary>
    public static TBuilder RequireToken<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var node = context.HttpContext.RequestServices.GetRequiredService<NodeContext>();
            if (!ManagementToken.Matches(context.HttpContext.Request.Headers.Authorization, node.Token))
            {
                context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
                return Problems.Unauthorized();
            }
            return await next(context);
        });
}

/// <summary>problem+json (RFC 9457) results used by every route.</summary>
public static class Problems
{
    public static IResult Unauthorized(bool reads = false) => Results.Problem(
        statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
        detail: (reads ? "This node serves reads with the token only (--token-for-reads): this call" : "This call changes the fabric and") +
                " needs 'Authorization: Bearer <token>' (the token is in DATA/token or FABRIC_TOKEN).");

    public static IResult BadRequest(string detail, IDictionary<string, object?>? extensions = null) => Results.Problem(
        statusCode: StatusCodes.Status400BadRequest, title: "Bad request", detail: detail, extensions: extensions);

    public static IResult NotFound(string detail) => Results.Problem(
        statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail);

    public static IResult Conflict(string detail) => Results.Problem(
        statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail);

    public static IResult Unavailable(string detail, IDictionary<string, object?>? extensions = null) => Results.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unavailable", detail: detail, extensions: extensions);

    public static IResult UnsupportedMediaType(string detail) => Status(StatusCodes.Status415UnsupportedMediaType, detail);

    /// <summary>Any status, titled with its reason phrase.</summary>
    public static IResult Status(int status, string? detail, IDictionary<string, object?>? extensions = null) => Results.Problem(
        statusCode: status, title: Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status), detail: detail, extensions: extensions);

    /// <summary>
    /// 400 for a refused element name in a route: names are matched literally and follow the
    /// intent's grammar, so <c>*</c> or <c>?</c> (which an actor selection would expand) match nothing.
    /// </summary>
    public static IResult? BadName(string kind, string name) => Fabric.Messages.Intent.IntentNames.IsValid(name)
        ? null
        : BadRequest($"'{(name.Length <= 64 ? name : name[..64] + "…")}' is not a {kind} name ({Fabric.Messages.Intent.IntentNames.Grammar})");
}
