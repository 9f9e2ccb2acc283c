using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using EdgeGuard.Daemon.Metrics;

namespace EdgeGuard.Daemon.Http;

/// <summary>
/// The first middleware of every request: bearer-token check (when a token is configured; probes stay open),
/// request metrics by route and status, and one structured log line per request (never the text).
/// </summary>
internal sealed class RequestGate
{
    private const int MaxTokenBytes = 1024;

    private readonly RequestDelegate _next;
    private readonly DaemonMetrics _metrics;
    private readonly ILogger<RequestGate> _logger;
    private readonly byte[]? _tokenHash;

    public RequestGate(RequestDelegate next, DaemonMetrics metrics, Hosting.DaemonSettings settings, ILogger<RequestGate> logger)
    {
        _next = next;
        _metrics = metrics;
        _logger = logger;
        _tokenHash = settings.Token is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(settings.Token));
    }

    public async Task InvokeAsync(HttpContext context)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            if (_tokenHash is not null && !IsProbe(context.Request.Path) && !HasToken(context.Request.Headers.Authorization))
            {
                await ApiError.Unauthorized().WriteAsync(context).ConfigureAwait(false);
                return;
            }

            await _next(context).ConfigureAwait(false);
        }
        finally
        {
            Record(context, started);
        }
    }

    private void Record(HttpContext context, long started)
    {
        string route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText switch
        {
            null or "{*path:nonfile}" => "other",
            var pattern => pattern,
        };
        int status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? DaemonMetrics.ClientClosedRequest : context.Response.StatusCode;
        var elapsed = Stopwatch.GetElapsedTime(started);
        _metrics.ObserveRequest(route, status, elapsed.TotalSeconds);
        if (_logger.IsEnabled(LogLevel.Debug) || status >= 500)
        {
            _logger.Log(status >= 500 ? LogLevel.Warning : LogLevel.Debug, "{Method} {Route} {Status} in {ElapsedMs:F1} ms",
                context.Request.Method, route, status, elapsed.TotalMilliseconds);
        }
    }

    private static bool IsProbe(PathString path) => path.Equals("/healthz", StringComparison.Ordinal) || path.Equals("/readyz", StringComparison.Ordinal);

    private bool HasToken(string? header)
    {
        const string Scheme = "Bearer ";
        if (header is null || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        ReadOnlySpan<char> presented = header.AsSpan(Scheme.Length).Trim();
        if (Encoding.UTF8.GetMaxByteCount(presented.Length) > MaxTokenBytes)
        {
            return false;
        }

        // Comparing hashes in fixed time: neither the content nor the length of the token leaks through timing.
        Span<byte> bytes = stackalloc byte[MaxTokenBytes];
        int length = Encoding.UTF8.GetBytes(presented, bytes);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..length], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _tokenHash);
    }
}
