using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;

namespace EdgeGuard.Daemon.Http;

/// <summary>
/// Reads a JSON request body under the daemon's limits: content type (415), size (413), arrival time (408),
/// UTF-8 and JSON well-formedness, exactly one value, no property read twice (400). Escaped lone surrogates become
/// U+FFFD (<see cref="LoneSurrogateEscapes"/>). The body is parsed from the request pipe's buffers without a string copy.
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

        // The parser wants one span. The pipe's own buffer is used when it is one segment and needs no rewrite; else a
        // rented copy (a code point or an escape may straddle segments, and lone surrogate escapes are rewritten).
        byte[]? copy = null;
        try
        {
            ReadOnlySpan<byte> json;
            if (body.IsSingleSegment && !LoneSurrogateEscapes.Any(body.FirstSpan))
            {
                json = body.FirstSpan;
            }
            else
            {
                int length = checked((int)body.Length);
                copy = ArrayPool<byte>.Shared.Rent(length);
                body.CopyTo(copy);
                LoneSurrogateEscapes.Replace(copy.AsSpan(0, length));
                json = copy.AsSpan(0, length);
            }

            return Utf8.IsValid(json) ? Deserialize(json, type) : (null, ApiError.BadRequest("The request body is not valid UTF-8."));
        }
        finally
        {
            if (copy is not null)
            {
                ArrayPool<byte>.Shared.Return(copy);
            }
        }
    }

    /// <summary>
    /// One JSON value and nothing after it but whitespace: a second value or trailing bytes are refused, because a proxy
    /// that reads the body differently would see other text than the one classified. A property name the endpoint reads
    /// that appears twice in one object is refused for the same reason (the serializer's duplicate check).
    /// </summary>
    private static (T? Value, ApiError? Error) Deserialize<T>(ReadOnlySpan<byte> json, JsonTypeInfo<T> type)
        where T : class
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = DaemonJsonContext.MaxDepth });
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(ref reader, type);
        }
        catch (JsonException e) when (e.Message.StartsWith("Duplicate property", StringComparison.Ordinal))
        {
            // The serializer's own words would name the daemon's request type; the path is what the client needs.
            return (null, ApiError.BadRequest($"The request body gives {e.Path} more than once in one object; send each property once.", e.Path));
        }
        catch (JsonException e)
        {
            // The serializer's message names the path and position; it never echoes the text.
            return (null, ApiError.BadRequest("The request body is not valid JSON for this endpoint: " + e.Message, e.Path));
        }

        long end = reader.BytesConsumed;
        bool more;
        try
        {
            more = reader.Read();
        }
        catch (JsonException)
        {
            more = true;
        }

        if (more)
        {
            return (null, ApiError.BadRequest(
                $"The request body has data after its JSON value (from byte {end}); send exactly one JSON object."));
        }

        return value is null ? (null, ApiError.BadRequest("The request body must be a JSON object, not null.")) : (value, null);
    }
}
