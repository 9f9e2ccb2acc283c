using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace EdgeGuard.Daemon.Tests;

/// <summary>
/// The one set of rules every JSON route applies to the bytes of a request body: one JSON value and nothing after it,
/// no name twice in an object, lone surrogates replaced as the library replaces them, and an error object for anything
/// else, never an empty 500.
/// </summary>
public sealed class RequestBodyTests(TinyModels models)
{
    private const string Token = "body-token";

    [Theory]
    [InlineData("/v1/moderations", """{"input": "\ud800"}""", false)]
    [InlineData("/v1/moderations", """{"input": ["fine", "\udc00"]}""", false)]
    [InlineData("/v1/classify", """{"prompt": "\ud800"}""", false)]
    [InlineData("/v1/classify", """{"inputs": [{"prompt": "\ud800", "response": "\udfff"}]}""", true)]
    public async Task LoneSurrogateEscape_IsReplacedWithU_FFFD_LikeTheLibrary(string route, string body, bool withResponse)
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync(route, body);
        string text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        string? reply = withResponse ? "\uFFFD" : null;
        Assert.Equal(models.Reference.Classify("\ud800", withResponse ? "\udfff" : null).UnsafeScore, models.Reference.Classify("\uFFFD", reply).UnsafeScore);
        Assert.Contains(Score("\uFFFD", reply), text);
    }

    [Fact]
    public async Task EscapedBackslashBeforeU_IsText_AndASurrogatePairIsKept()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var literal = await daemon.PostJsonAsync("/v1/classify", """{"prompt": "\\ud800"}""");
        using var pair = await daemon.PostJsonAsync("/v1/classify", """{"prompt": "\ud83d\ude00 and \uD83D\uDE00"}""");

        Assert.Equal(HttpStatusCode.OK, literal.StatusCode);
        Assert.Equal(HttpStatusCode.OK, pair.StatusCode);
        Assert.Contains(Score(@"\ud800"), await literal.Content.ReadAsStringAsync());
        Assert.Contains(Score("\U0001F600 and \U0001F600"), await pair.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/v1/moderations", """{"input": "hello"} {"input": "how do I build a pipe bomb"}""")]
    [InlineData("/v1/moderations", """{"input": "hello"}}]]]garbage""")]
    [InlineData("/v1/moderations", """{"input": "hello"}x""")]
    [InlineData("/v1/moderations", """{"input": "hello"}null""")]
    [InlineData("/v1/classify", """{"prompt": "hello"}{"prompt": "other"}""")]
    [InlineData("/v1/classify", """{"prompt": "hello"},""")]
    public async Task DataAfterTheJsonValue_Is400(string route, string body)
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync(route, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("after", await ErrorResponseTests.AssertErrorObject(response, "invalid_request_error"));
    }

    [Fact]
    public async Task WhitespaceAfterTheJsonValue_IsFine()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync("/v1/moderations", "{\"input\": \"hello\"} \r\n\t ");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/v1/moderations", """{"input": "a", "input": "b"}""")]
    [InlineData("/v1/moderations", """{"input": "a", "\u0069nput": "b"}""")]
    [InlineData("/v1/moderations", """{"input": "a", "model": "x", "model": "y"}""")]
    [InlineData("/v1/classify", """{"prompt": "a", "prompt": "b"}""")]
    [InlineData("/v1/classify", """{"prompt": "a", "response": "x", "response": "y"}""")]
    [InlineData("/v1/classify", """{"inputs": [{"prompt": "a", "prompt": "b"}]}""")]
    [InlineData("/v1/classify", """{"inputs": [{"prompt": "a"}], "inputs": [{"prompt": "b"}]}""")]
    public async Task DuplicateNames_Are400(string route, string body)
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync(route, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("more than once", await ErrorResponseTests.AssertErrorObject(response, "invalid_request_error"));
    }

    public static TheoryData<string, byte[]> OddBodies => new()
    {
        { "lone surrogates", """{"input": "\ud800", "prompt": "\udc00", "inputs": [{"prompt": "\ud800\ud800"}]}"""u8.ToArray() },
        { "invalid UTF-8", [.. """{"input": "a"""u8, 0xC3, 0x28, 0xFF, .. "\", \"prompt\": \"b\"}"u8] },
        { "a byte-order mark", [0xEF, 0xBB, 0xBF, .. """{"input": "a"}"""u8] },
        { "trailing data", """{"input": "a", "prompt": "a"} {"input": "b"}"""u8.ToArray() },
        { "duplicate names", """{"input": "a", "input": "b", "prompt": "a", "prompt": "b"}"""u8.ToArray() },
        { "an empty body", [] },
        { "only whitespace", " \n "u8.ToArray() },
        { "a huge number", """{"input": 1e999999, "prompt": 1e999999, "inputs": 1e999999}"""u8.ToArray() },
        { "wrong types", """{"input": {"a": [{}]}, "prompt": ["x"], "response": {}, "inputs": {"x": 1}, "model": 5}"""u8.ToArray() },
        { "nulls", """{"input": null, "prompt": null, "inputs": [null]}"""u8.ToArray() },
        { "a raw control character", "{\"input\": \"a\u0001b\", \"prompt\": \"a\u0000b\"}"u8.ToArray() },
        { "a top-level string", "\"\\ud800\""u8.ToArray() },
        { "deep nesting", Encoding.ASCII.GetBytes("{\"input\": " + new string('[', 3000) + new string(']', 3000) + "}") },
        { "an unterminated string", "{\"input\": \"abc"u8.ToArray() },
        { "a truncated escape", "{\"input\": \"\\u12\"}"u8.ToArray() },
    };

    [Theory]
    [MemberData(nameof(OddBodies))]
    public async Task EveryRoute_AnswersOddBodiesWithAnErrorObjectOrAResult_NeverA500(string what, byte[] body)
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--token", Token);
        string[] paths = ["/v1/moderations", "/v1/classify", "/v1/models", "/healthz", "/readyz", "/metrics", "/admin/reload", "/v1/nothing"];
        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Get, HttpMethod.Put })
        {
            foreach (string path in paths)
            {
                var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                var request = new HttpRequestMessage(method, path) { Content = content };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
                using var response = await daemon.Http.SendAsync(request);
                string where = $"{what}: {method} {path} -> {(int)response.StatusCode}";

                Assert.True((int)response.StatusCode < 500, where + " " + await response.Content.ReadAsStringAsync());
                if ((int)response.StatusCode >= 400)
                {
                    await ErrorResponseTests.AssertErrorObject(response, "invalid_request_error");
                }
            }
        }

        using var still = await daemon.PostJsonAsync("/v1/moderations", """{"input": "still here"}""", Token);
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }

    [Fact]
    public async Task HandlerThatThrows_Is500WithAnErrorObject_OneLogLine_AndCountedAs500()
    {
        await using var daemon = await InProcessDaemon.StartAsync(
            models,
            models.BundlePath,
            openModel: null,
            configureApp: app => app.MapGet("/test/throws", (Microsoft.AspNetCore.Http.HttpContext _) => throw new InvalidOperationException("first line\nsecond line")));

        using var response = await daemon.Http.GetAsync("/test/throws");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("internal_error", await ErrorResponseTests.AssertErrorObject(response, "server_error"));
        await daemon.MetricsContainingAsync("edgeguard_http_requests_total{route=\"/test/throws\",status=\"500\"} 1\n");
        string metrics = await daemon.MetricsAsync();
        Assert.Contains("edgeguard_http_requests_total{route=\"/test/throws\",status=\"500\"} 1\n", metrics);
        Assert.DoesNotContain("route=\"/test/throws\",status=\"200\"", metrics);
        var loud = daemon.Logs.Lines.Where(l => !l.StartsWith("Debug", StringComparison.Ordinal) && !l.StartsWith("Trace", StringComparison.Ordinal)
            && (l.Contains("/test/throws", StringComparison.Ordinal) || l.Contains("first line", StringComparison.Ordinal))).ToArray();
        var line = Assert.Single(loud);
        Assert.DoesNotContain('\n', line.TrimEnd());
        Assert.Contains("InvalidOperationException", line);
    }

    private string Score(string text, string? response = null) =>
        models.Reference.Classify(text, response).UnsafeScore.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
