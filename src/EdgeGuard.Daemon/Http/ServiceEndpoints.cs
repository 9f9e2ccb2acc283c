using System.Text;
using EdgeGuard.Daemon.Batching;
using EdgeGuard.Daemon.Hosting;
using EdgeGuard.Daemon.Metrics;
using EdgeGuard.Daemon.Models;

namespace EdgeGuard.Daemon.Http;

/// <summary>Endpoints for operators and probes: liveness, readiness, Prometheus metrics, model reload.</summary>
internal sealed class ServiceEndpoints(ModelHost models, MicroBatcher batcher, DaemonMetrics metrics, DaemonSettings settings, IHostApplicationLifetime lifetime)
{
    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/healthz", HealthAsync);
        routes.MapGet("/readyz", ReadyAsync);
        routes.MapGet("/metrics", MetricsAsync);
        routes.MapPost("/admin/reload", ReloadAsync);
        routes.MapFallback(FallbackAsync);
    }

    /// <summary>Every path the daemon serves, with any method; a known path with the wrong method is a 405.</summary>
    private static readonly HashSet<string> KnownPaths = new(StringComparer.Ordinal)
    {
        "/v1/moderations", "/v1/classify", "/v1/chat/completions", "/v1/completions", "/v1/models", "/healthz", "/readyz", "/metrics", "/admin/reload",
    };

    // The fallback takes every unmatched request, including a known path with the wrong method, which routing would
    // otherwise answer with a bare 405: clients expect the error object everywhere.
    private static Task FallbackAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? string.Empty;
        return (KnownPaths.Contains(path) ? ApiError.MethodNotAllowed(context.Request.Method, path) : ApiError.NotFound(path)).WriteAsync(context);
    }

    public Task HealthAsync(HttpContext context) =>
        context.Response.WriteAsJsonAsync(new ReadyBody("alive", models.Current?.Name, null), DaemonJsonContext.Web.ReadyBody);

    public Task ReadyAsync(HttpContext context)
    {
        var model = models.Current;
        string? reason = batcher.IsStopping ? "the daemon is shutting down" : model is null ? models.NotReadyReason ?? "no model is loaded" : null;
        context.Response.StatusCode = reason is null ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        return context.Response.WriteAsJsonAsync(new ReadyBody(reason is null ? "ready" : "not_ready", model?.Name, reason), DaemonJsonContext.Web.ReadyBody);
    }

    public Task MetricsAsync(HttpContext context)
    {
        var model = models.Current;
        var text = new StringBuilder(4096);
        metrics.Write(text, new DaemonMetrics.Snapshot(
            batcher.QueueDepth,
            model is not null,
            model?.Name,
            model?.Guard.Model.Precision,
            model?.Guard.Model.Format,
            settings.Profile ?? "none",
            models.ReloadsSucceeded,
            models.ReloadsFailed));
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        return context.Response.WriteAsync(text.ToString(), context.RequestAborted);
    }

    public async Task ReloadAsync(HttpContext context)
    {
        if (settings.Token is null)
        {
            // Without a token nobody can be told apart from any local process; SIGHUP needs the service's user or root.
            await ApiError.Forbidden("POST /admin/reload is off because no token is configured (EdgeGuard:Token); send SIGHUP instead.")
                .WriteAsync(context).ConfigureAwait(false);
            return;
        }

        // The reload is the operator's, not the connection's: a client that stops waiting does not abandon it, a stop does.
        ReloadOutcome outcome;
        try
        {
            outcome = await models.LoadAsync("POST /admin/reload", lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            await ApiError.ShuttingDown().WriteAsync(context).ConfigureAwait(false);
            return;
        }

        if (!outcome.Succeeded)
        {
            await new ApiError(422, "invalid_request_error", "model_invalid",
                    "The new model was not loaded and the previous one keeps serving: " + outcome.Message)
                .WriteAsync(context).ConfigureAwait(false);
            return;
        }

        await context.Response.WriteAsJsonAsync(new ReloadBody(true, outcome.Model, outcome.Message), DaemonJsonContext.Web.ReloadBody).ConfigureAwait(false);
    }
}
