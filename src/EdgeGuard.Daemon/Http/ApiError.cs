using System.Diagnostics.CodeAnalysis;

namespace EdgeGuard.Daemon.Http;

/// <summary>An error response: the HTTP status and OpenAI's error object.</summary>
internal sealed record ApiError(int Status, string Type, string Code, string Message, string? Param = null, int? RetryAfterSeconds = null)
{
    public static ApiError BadRequest(string message, string? param = null) => new(400, "invalid_request_error", "invalid_request", message, param);

    public static ApiError Unauthorized() => new(401, "invalid_request_error", "invalid_api_key", "This endpoint needs 'Authorization: Bearer <token>' with the daemon's token.");

    public static ApiError Forbidden(string message) => new(403, "invalid_request_error", "forbidden", message);

    public static ApiError NotFound(string path) => new(404, "invalid_request_error", "not_found", $"No endpoint {path}. See GET /v1/models, POST /v1/moderations, POST /v1/classify, POST /v1/chat/completions, POST /v1/completions.");

    public static ApiError MethodNotAllowed(string method, string path) =>
        new(405, "invalid_request_error", "method_not_allowed", $"{path} does not take {method}; see docs/daemon.md for each route's method.");

    public static ApiError BodyTimeout(int milliseconds) => new(408, "invalid_request_error", "request_timeout", $"The request body did not arrive within {milliseconds} ms.");

    public static ApiError TooLarge(long limit) => new(413, "invalid_request_error", "request_too_large", $"The request body is larger than {limit} bytes (EdgeGuard:MaxBodyBytes).");

    public static ApiError UnsupportedMediaType() => new(415, "invalid_request_error", "unsupported_media_type", "The request body must be JSON: send 'Content-Type: application/json'.");

    public static ApiError QueueFull(int retryAfterSeconds) =>
        new(429, "rate_limit_error", "rate_limit_exceeded", "The classification queue is full; retry after the time in Retry-After.", RetryAfterSeconds: retryAfterSeconds);

    public static ApiError NotReady(string reason) => new(503, "server_error", "model_not_ready", "The guard is not ready: " + reason, RetryAfterSeconds: 5);

    /// <summary>A generation endpoint on a daemon started without a generator model.</summary>
    public static ApiError NoGenerator(string path) => new(
        404, "invalid_request_error", "model_not_found",
        $"{path} needs a generator model, and none is configured: start the daemon with --generator-model <decoder bundle or Hugging Face directory> (EdgeGuard:Generator:Model).",
        "model");

    public static ApiError ShuttingDown() => new(503, "server_error", "shutting_down", "The daemon is shutting down.");

    public static ApiError Deadline(int milliseconds) => new(504, "server_error", "deadline_exceeded", $"No verdict within the request deadline of {milliseconds} ms (EdgeGuard:DeadlineMs).");

    public static ApiError Internal() => new(500, "server_error", "internal_error", "The guard failed on this request; the daemon log has the details.");

    /// <summary>Writes the error unless the response has started or the client has gone.</summary>
    public Task WriteAsync(HttpContext context)
    {
        if (context.Response.HasStarted || context.RequestAborted.IsCancellationRequested)
        {
            return Task.CompletedTask;
        }

        context.Response.StatusCode = Status;
        if (RetryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return context.Response.WriteAsJsonAsync(new ErrorEnvelope(new ErrorBody(Message, Type, Param, Code)), DaemonJsonContext.Web.ErrorEnvelope);
    }
}

/// <summary>Throws of errors users cause, out of line so the methods that parse stay small.</summary>
internal static class ApiThrow
{
    [DoesNotReturn]
    public static void BadRequest(string message, string? param = null) => throw new ApiException(ApiError.BadRequest(message, param));
}

/// <summary>Carries an <see cref="ApiError"/> out of request parsing to the endpoint that writes it.</summary>
internal sealed class ApiException(ApiError error) : Exception(error.Message)
{
    public ApiError Error { get; } = error;
}
