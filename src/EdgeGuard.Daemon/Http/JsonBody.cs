using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;

namespace EdgeGuard.Daemon.Http;

/// <summary>
/// Reads a JSON request body under the daemon's limits: content type (415), size (413), arrival time (408),
/// UTF-8 and JSON well-formedness (400). The body is parsed from the request pipe's buffers without a string copy.
/// </summary>
internal sealed class JsonBody(long maxBytes, int timeoutMs)
{
    public async ValueTask<(T? Value, ApiError? Error)> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type)
        where T : class
    {
        var request = context.Request;
        if (!request.HasJsonContentType())
        {
            return (null, ApiError.UnsupportedMediaType());
        }

        if (request.ContentLength > maxBytes)
        {
            return (null, RefuseUnreadBody(context, ApiError.TooLarge(maxBytes)));
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(timeoutMs);
        PipeReader reader = request.BodyReader;
        ReadResult result;
        try
        {
            while (true)
            {
                result = await reader.ReadAsync(timeout.Token).ConfigureAwait(false);
                if (result.Buffer.Length > maxBytes)
                {
                    reader.AdvanceTo(result.Buffer.End);
                    return (null, RefuseUnreadBody(context, ApiError.TooLarge(maxBytes)));
                }

                if (result.IsCompleted)
                {
                    break;
                }

                // Keep everything buffered until the body is complete; the size check above bounds it.
                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            return (null, RefuseUnreadBody(context, ApiError.BodyTimeout(timeoutMs)));
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limits (body size, minimum data rate) surface here with their status.
            return (null, RefuseUnreadBody(context, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? ApiError.TooLarge(maxBytes)
                : e.StatusCode == StatusCodes.Status408RequestTimeout ? ApiError.BodyTimeout(timeoutMs)
                : ApiError.BadRequest(e.Message)));
        }

        try
        {
            return Parse(result.Buffer, type);
        }
        finally
        {
            reader.AdvanceTo(result.Buffer.End);
        }
    }

    /// <summary>
    /// The rest of the body will not be read: the connection closes after the error, so a client that reuses
    /// connections does not send its next request into the remains of this one.
    /// </summary>
    private static ApiError RefuseUnreadBody(HttpContext context, ApiError error)
    {
        context.Response.Headers.Connection = "close";
        return error;
    }

    private static (T? Value, ApiError? Error) Parse<T>(ReadOnlySequence<byte> body, JsonTypeInfo<T> type)
        where T : class
    {
        if (body.IsEmpty)
        {
            return (null, ApiError.BadRequest("The request body is empty; send a JSON object."));
        }

        if (!IsValidUtf8(body))
        {
            return (null, ApiError.BadRequest("The request body is not valid UTF-8."));
        }

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = DaemonJsonContext.MaxDepth });
            T? value = JsonSerializer.Deserialize(ref reader, type);
            return value is null ? (null, ApiError.BadRequest("The request body must be a JSON object, not null.")) : (value, null);
        }
        catch (JsonException e)
        {
            // The serializer's message names the path and position; it never echoes the text.
            return (null, ApiError.BadRequest("The request body is not valid JSON for this endpoint: " + e.Message, e.Path));
        }
    }

    private static bool IsValidUtf8(ReadOnlySequence<byte> body)
    {
        if (body.IsSingleSegment)
        {
            return Utf8.IsValid(body.FirstSpan);
        }

        // A code point may straddle segments: validate a contiguous copy.
        byte[] copy = ArrayPool<byte>.Shared.Rent(checked((int)body.Length));
        try
        {
            body.CopyTo(copy);
            return Utf8.IsValid(copy.AsSpan(0, (int)body.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }
}
