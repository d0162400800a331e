using Akka.Actor;
using Fabric.Node.Hosting;
using Microsoft.AspNetCore.Http.Features;

namespace Fabric.Node.Management;

/// <summary>
/// What every management request goes through before its route: errors become problem+json,
/// the Host header must name this node, oversized request lines and headers are refused, and
/// with <c>--token-for-reads</c> everything but /health/* needs the token. Routes answer
/// problem+json themselves; status codes with no body (404 for no route, 405) get one here.
/// </summary>
public static class ManagementPipeline
{
    /// <summary>Longest request line (method, target, version) answered; Kestrel itself stops at <see cref="KestrelRequestLineLimit"/>.</summary>
    public const int MaxRequestLine = 8 * 1024;

    /// <summary>Largest request headers in total answered; Kestrel itself stops at <see cref="KestrelHeadersLimit"/>.</summary>
    public const int MaxRequestHeaders = 32 * 1024;

    // Kestrel refuses beyond these with an empty body before any middleware runs; below them the
    // pipeline refuses with problem+json at the limits above.
    public const int KestrelRequestLineLimit = 64 * 1024;
    public const int KestrelHeadersLimit = 64 * 1024;

    /// <summary>Largest body of any route but <c>POST /changes</c> (which takes <c>fabric.intent.max-bytes</c>).</summary>
    public const long MaxRequestBody = 64 * 1024;

    public static WebApplication UseManagementPipeline(this WebApplication app)
    {
        var node = app.Services.GetRequiredService<NodeContext>();
        var allowedHosts = ManagementEndpoint.AllowedHosts(node.Options);
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("fabric-node.management");

        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (BadHttpRequestException e) when (!context.Response.HasStarted)
            {
                await Problems.Status(e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? "the request body is over the limit for this route"
                    : "the request could not be read").ExecuteAsync(context);
            }
            catch (AskTimeoutException) when (!context.Response.HasStarted)
            {
                await Problems.Unavailable("the node's actors did not answer in time; retry").ExecuteAsync(context);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away; nobody reads an answer.
            }
            catch (Exception e) when (!context.Response.HasStarted)
            {
                log.LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
                await Problems.Status(StatusCodes.Status500InternalServerError, "the node failed to answer this request; see its log")
                    .ExecuteAsync(context);
            }
        });

        app.Use(async (context, next) =>
        {
            var host = context.Request.Host;
            if (host.HasValue && !allowedHosts.Contains(ManagementEndpoint.Normalize(host.Host)))
            {
                await Problems.BadRequest($"this node does not answer to the host name in the Host header; " +
                                          "name it with --management-allowed-host if clients use it").ExecuteAsync(context);
                return;
            }
            var line = context.Request.Method.Length + (context.Features.Get<IHttpRequestFeature>()?.RawTarget?.Length ?? 0) + 10;
            if (line > MaxRequestLine)
            {
                await Problems.Status(StatusCodes.Status414UriTooLong, $"the request line is over {MaxRequestLine} bytes").ExecuteAsync(context);
                return;
            }
            long headers = 0;
            foreach (var (name, values) in context.Request.Headers)
            {
                foreach (var value in values) headers += name.Length + (value?.Length ?? 0) + 4;
            }
            if (headers > MaxRequestHeaders)
            {
                await Problems.Status(StatusCodes.Status431RequestHeaderFieldsTooLarge, $"the request headers are over {MaxRequestHeaders} bytes")
                    .ExecuteAsync(context);
                return;
            }
            await next(context);
        });

        app.UseStatusCodePages(async status =>
        {
            var code = status.HttpContext.Response.StatusCode;
            var detail = code switch
            {
                StatusCodes.Status404NotFound => "no such route; see /openapi/v1.json",
                StatusCodes.Status405MethodNotAllowed => "this route does not take that method; see /openapi/v1.json",
                _ => null,
            };
            await Problems.Status(code, detail).ExecuteAsync(status.HttpContext);
        });

        if (node.Options.TokenForReads)
        {
            app.Use(async (context, next) =>
            {
                if (!context.Request.Path.StartsWithSegments("/health")
                    && !ManagementToken.Matches(context.Request.Headers.Authorization, node.Token))
                {
                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    await Problems.Unauthorized(reads: true).ExecuteAsync(context);
                    return;
                }
                await next(context);
            });
        }
        return app;
    }
}
