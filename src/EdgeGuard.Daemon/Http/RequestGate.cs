using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using EdgeGuard.Daemon.Hosting;
using EdgeGuard.Daemon.Metrics;

namespace EdgeGuard.Daemon.Http;

/// <summary>
/// The first middleware of every request: bearer-token check (when a token is configured; probes stay open),
/// request metrics by route and final status, one structured log line per request (never the text), and the last word
/// on a handler that throws: a 500 with the error object and one log line, not an empty 500 and a stack trace.
/// </summary>
internal sealed class RequestGate
{
    private readonly RequestDelegate _next;
    private readonly DaemonMetrics _metrics;
    private readonly ILogger<RequestGate> _logger;
    private readonly byte[]? _tokenHash;

    public RequestGate(RequestDelegate next, DaemonMetrics metrics, DaemonSettings settings, ILogger<RequestGate> logger)
    {
        _next = next;
        _metrics = metrics;
        _logger = logger;
        _tokenHash = settings.Token is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(settings.Token));
    }

    public async Task InvokeAsync(HttpContext context)
    {
        long started = Stopwatch.GetTimestamp();
        bool failed = false;
        try
        {
            if (_tokenHash is not null && !IsProbe(context.Request.Path) && !HasToken(context.Request.Headers.Authorization))
            {
                await ApiError.Unauthorized().WriteAsync(context).ConfigureAwait(false);
                return;
            }

            await _next(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; recorded as 499 below.
        }
        catch (Exception e)
        {
            // A bug in a handler: the client still gets the error object, the log one line (the stack at Debug), and
            // a request a client may mistake for an answer is cut off rather than left half-sent.
            failed = true;
            LogFailure(context, e);
            if (context.Response.HasStarted)
            {
                context.Abort();
            }
            else
            {
                context.Response.Clear();
                await ApiError.Internal().WriteAsync(context).ConfigureAwait(false);
            }
        }
        finally
        {
            Record(context, started, failed);
        }
    }

    private void LogFailure(HttpContext context, Exception e)
    {
        // The first frame says where; the message is bounded and escaped like any text that reaches the log.
        string stack = e.StackTrace?.TrimStart() ?? "no stack";
        int newline = stack.IndexOf('\n', StringComparison.Ordinal);
        string where = newline < 0 ? stack : stack[..newline].TrimEnd();
        _logger.LogError(
            "{Method} {Route} failed with {Exception}: {Message} ({Where})",
            context.Request.Method,
            RouteOf(context),
            e.GetType().Name,
            PrintableText.Escape(e.Message, PrintableText.MaxErrorChars),
            PrintableText.Escape(where, PrintableText.MaxErrorChars));
        _logger.LogDebug(e, "Stack of the failure of {Method} {Route}", context.Request.Method, RouteOf(context));
    }

    private void Record(HttpContext context, long started, bool failed)
    {
        string route = RouteOf(context);
        int status = failed ? StatusCodes.Status500InternalServerError
            : context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? DaemonMetrics.ClientClosedRequest
            : context.Response.StatusCode;
        var elapsed = Stopwatch.GetElapsedTime(started);
        _metrics.ObserveRequest(route, status, elapsed.TotalSeconds);

        // A failure has had its line already.
        if (!failed && (_logger.IsEnabled(LogLevel.Debug) || status >= 500))
        {
            _logger.Log(status >= 500 ? LogLevel.Warning : LogLevel.Debug, "{Method} {Route} {Status} in {ElapsedMs:F1} ms",
                context.Request.Method, route, status, elapsed.TotalMilliseconds);
        }
    }

    private static string RouteOf(HttpContext context) => (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText switch
    {
        null or "{*path:nonfile}" => "other",
        var pattern => pattern,
    };

    private static bool IsProbe(PathString path) => path.Equals("/healthz", StringComparison.Ordinal) || path.Equals("/readyz", StringComparison.Ordinal);

    private bool HasToken(string? header)
    {
        const string Scheme = "Bearer ";
        if (header is null || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // Configured tokens are printable ASCII of at most MaxTokenBytes (checked at start): a longer one cannot match.
        ReadOnlySpan<char> presented = header.AsSpan(Scheme.Length).Trim();
        if (presented.Length > DaemonSettings.MaxTokenBytes || Encoding.UTF8.GetByteCount(presented) > DaemonSettings.MaxTokenBytes)
        {
            return false;
        }

        // Comparing hashes in fixed time: neither the content nor the length of the token leaks through timing.
        Span<byte> bytes = stackalloc byte[DaemonSettings.MaxTokenBytes];
        int length = Encoding.UTF8.GetBytes(presented, bytes);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..length], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _tokenHash);
    }
}
