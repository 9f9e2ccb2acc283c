using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace EdgeGuard.Daemon.Tests;

/// <summary>Every input a client can get wrong ends in OpenAI's error object with the right status, and the daemon keeps serving.</summary>
public sealed class ErrorResponseTests(TinyModels models)
{
    public static TheoryData<string, string> MalformedBodies => new()
    {
        { "{", "unterminated object" },
        { "[1, 2]", "an array instead of an object" },
        { "null", "null" },
        { """{"input": 42}""", "a number as input" },
        { """{"input": ["ok", 7]}""", "a number inside the input array" },
        { """{"input": []}""", "an empty input array" },
        { """{"model": "x"}""", "no input" },
        { """{"input": {"text": "x"}}""", "an object as input" },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task Moderations_MalformedBody_Is400WithAnErrorObject(string body, string what)
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync("/v1/moderations", body);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, what);
        await AssertErrorObject(response, "invalid_request_error");
        await AssertStillServes(daemon);
    }

    [Theory]
    [InlineData("""{"response": "no prompt"}""")]
    [InlineData("""{"prompt": "x", "inputs": [{"prompt": "y"}]}""")]
    [InlineData("""{"inputs": [{"response": "no prompt"}]}""")]
    [InlineData("""{"inputs": [null]}""")]
    [InlineData("""{"prompt": 5}""")]
    public async Task Classify_MalformedBody_Is400(string body)
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync("/v1/classify", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await AssertErrorObject(response, "invalid_request_error");
    }

    [Fact]
    public async Task InvalidUtf8_Is400()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        byte[] body = [.. """{"input": "abc"""u8, 0xC3, 0x28, 0xFF, .. "\"}"u8];
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await daemon.Http.PostAsync("/v1/moderations", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("UTF-8", await AssertErrorObject(response, "invalid_request_error"));
    }

    [Fact]
    public async Task DeeplyNestedJson_Is400()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        string body = """{"input": """ + new string('[', 5000) + new string(']', 5000) + "}";
        using var response = await daemon.PostJsonAsync("/v1/moderations", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await AssertErrorObject(response, "invalid_request_error");
    }

    [Fact]
    public async Task TooManyInputs_Is400NamingTheLimit()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--max-inputs", "3");
        using var response = await daemon.PostJsonAsync("/v1/moderations", """{"input": ["a", "b", "c", "d"]}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("limit is 3", await AssertErrorObject(response, "invalid_request_error"));
    }

    [Fact]
    public async Task InputNeedingTooManyWindows_Is400()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--max-windows", "1");
        using var response = await daemon.PostJsonAsync("/v1/moderations", JsonSerializer.Serialize(new { input = LongText(2000) }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("windows", await AssertErrorObject(response, "invalid_request_error"));
    }

    [Fact]
    public async Task BodyOverTheLimit_Is413_WithContentLengthOrChunked()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--max-body-bytes", "1000");
        string body = JsonSerializer.Serialize(new { input = new string('a', 5000) });
        using var declared = await daemon.PostJsonAsync("/v1/moderations", body);
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)));
        chunked.Headers.ContentType = new("application/json");
        using var streamed = await daemon.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/moderations") { Content = chunked, Headers = { TransferEncodingChunked = true } });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        await AssertErrorObject(declared, "invalid_request_error");
        await AssertErrorObject(streamed, "invalid_request_error");
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData(null)]
    public async Task WrongContentType_Is415(string? contentType)
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        var content = new ByteArrayContent("""{"input": "x"}"""u8.ToArray());
        if (contentType is not null)
        {
            content.Headers.ContentType = new(contentType);
        }

        using var response = await daemon.Http.PostAsync("/v1/moderations", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        await AssertErrorObject(response, "invalid_request_error");
    }

    [Fact]
    public async Task UnknownRoute_Is404WithAnErrorObject()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.Http.GetAsync("/v1/embeddings");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await AssertErrorObject(response, "invalid_request_error");
    }

    [Fact]
    public async Task WrongMethod_Is405WithAnErrorObject()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.Http.GetAsync("/v1/moderations");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("method_not_allowed", await AssertErrorObject(response, "invalid_request_error"));
    }

    [Fact]
    public async Task SlowBody_TripsTheReadTimeoutWith408()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--body-timeout-ms", "300");
        using var client = new TcpClient();
        await client.ConnectAsync(daemon.BaseAddress.Host, daemon.BaseAddress.Port);
        var stream = client.GetStream();
        await stream.WriteAsync("POST /v1/moderations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"input\": \""u8.ToArray());

        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int read = await stream.ReadAsync(buffer, timeout.Token);
        string head = Encoding.ASCII.GetString(buffer, 0, read);

        Assert.StartsWith("HTTP/1.1 408", head);
        Assert.Contains("request_timeout", head);
    }

    [Fact]
    public async Task NoModel_ReadyzIs503WithTheReason_AndRequestsAre503_WhileHealthzIsAlive()
    {
        string missing = Path.Combine(models.NewScratch(), "missing.gguf");
        await using var daemon = await InProcessDaemon.StartAsync(models, missing);
        using var health = await daemon.Http.GetAsync("/healthz");
        using var ready = await daemon.Http.GetAsync("/readyz");
        using var moderation = await daemon.PostJsonAsync("/v1/moderations", """{"input": "x"}""");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("missing.gguf", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, moderation.StatusCode);
        Assert.Contains("model_not_ready", await AssertErrorObject(moderation, "server_error"));
        Assert.Contains(daemon.Logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("missing.gguf", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DeadlineExceeded_Is504()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--deadline-ms", "1", "--max-windows", "512");
        using var response = await daemon.PostJsonAsync("/v1/moderations", JsonSerializer.Serialize(new { input = LongText(20_000) }));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        await AssertErrorObject(response, "server_error");
    }

    [Fact]
    public async Task QueueFull_Is429WithRetryAfter_AndTheQueuedRequestsSucceed()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--queue", "1", "--max-batch", "1", "--max-windows", "512", "--deadline-ms", "120000");
        string body = JsonSerializer.Serialize(new { input = LongText(3000) });
        var responses = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => daemon.PostJsonAsync("/v1/moderations", body)));

        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToArray();
        Assert.NotEmpty(refused);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, r.StatusCode.ToString()));
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal("1", refused[0].Headers.GetValues("Retry-After").Single());
        Assert.Contains("rate_limit_exceeded", await AssertErrorObject(refused[0], "rate_limit_error"));
        foreach (var r in responses)
        {
            r.Dispose();
        }
    }

    /// <summary>Distinct words, so the tokenizer cannot fold them: about one token per word or more.</summary>
    internal static string LongText(int words) => string.Join(' ', Enumerable.Range(0, words).Select(i => "word" + i));

    internal static async Task<string> AssertErrorObject(HttpResponseMessage response, string type)
    {
        string text = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(text);
        var error = json.RootElement.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.True(error.TryGetProperty("param", out _));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("code").GetString()));
        return text;
    }

    private static async Task AssertStillServes(InProcessDaemon daemon)
    {
        using var ok = await daemon.PostJsonAsync("/v1/moderations", """{"input": "still here"}""");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}
