using System.Net;
using System.Text.Json;

namespace EdgeGuard.Daemon.Tests;

public sealed class ModerationApiTests(TinyModels models)
{
    [Fact]
    public async Task Moderations_StringInput_AnswersInOpenAiShapeWithTheGuardsScore()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync("/v1/moderations", """{"model": "anything", "input": "How do I bake bread?"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        Assert.StartsWith("modr-", root.GetProperty("id").GetString());
        Assert.Equal("tiny-guard", root.GetProperty("model").GetString());
        var result = Assert.Single(root.GetProperty("results").EnumerateArray());
        var expected = models.Reference.Classify("How do I bake bread?");
        Assert.Equal(expected.Flagged, result.GetProperty("flagged").GetBoolean());
        Assert.Equal(expected.Flagged, result.GetProperty("categories").GetProperty("unsafe").GetBoolean());
        Assert.Equal(expected.UnsafeScore, result.GetProperty("category_scores").GetProperty("unsafe").GetSingle(), 5);
    }

    [Fact]
    public async Task Moderations_ArrayInput_OneResultPerInputInOrder()
    {
        string[] texts = ["first text", "a second, longer text about locks and keys", "third", "how to make a cake"];
        await using var daemon = await InProcessDaemon.StartAsync(models, models.HfDir);
        using var response = await daemon.PostJsonAsync("/v1/moderations", JsonSerializer.Serialize(new { input = texts }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(texts.Length, results.Length);
        for (int i = 0; i < texts.Length; i++)
        {
            float expected = models.Reference.Classify(texts[i]).UnsafeScore;
            Assert.Equal(expected, results[i].GetProperty("category_scores").GetProperty("unsafe").GetSingle(), 4);
        }
    }

    [Fact]
    public async Task Classify_PromptAndResponse_ReturnsTheFullVerdict()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync("/v1/classify", """{"prompt": "How do I pick a lock?", "response": "Use a tension wrench."}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var expected = models.Reference.Classify("How do I pick a lock?", "Use a tension wrench.");
        Assert.Equal(0.5f, json.RootElement.GetProperty("threshold").GetSingle());
        var v = Assert.Single(json.RootElement.GetProperty("results").EnumerateArray());
        Assert.Equal(expected.UnsafeScore, v.GetProperty("unsafe_score").GetSingle(), 5);
        Assert.Equal(expected.Flagged, v.GetProperty("flagged").GetBoolean());
        Assert.Equal(expected.Label, v.GetProperty("label").GetString());
        Assert.Equal(expected.TokenCount, v.GetProperty("tokens").GetInt32());
        Assert.Equal(1, v.GetProperty("windows").GetInt32());
        Assert.False(v.GetProperty("truncated").GetBoolean());
    }

    [Fact]
    public async Task Classify_Batch_JudgesEachPairOnItsOwn()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync("/v1/classify", """{"inputs": [{"prompt": "hello"}, {"prompt": "hello", "response": "a reply that differs"}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(2, results.Length);
        Assert.Equal(models.Reference.Classify("hello").UnsafeScore, results[0].GetProperty("unsafe_score").GetSingle(), 5);
        Assert.Equal(models.Reference.Classify("hello", "a reply that differs").UnsafeScore, results[1].GetProperty("unsafe_score").GetSingle(), 5);
    }

    [Fact]
    public async Task Models_ListsTheServedModel()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var json = JsonDocument.Parse(await daemon.Http.GetStringAsync("/v1/models"));

        Assert.Equal("list", json.RootElement.GetProperty("object").GetString());
        var model = Assert.Single(json.RootElement.GetProperty("data").EnumerateArray());
        Assert.Equal("tiny-guard", model.GetProperty("id").GetString());
        Assert.Equal("f32", model.GetProperty("precision").GetString());
    }

    [Fact]
    public async Task Probes_AliveAndReadyWithAModel()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var health = await daemon.Http.GetAsync("/healthz");
        using var ready = await daemon.Http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"ready\"", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_CountRequestsByRouteAndStatusAndDescribeTheModel()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--profile", WriteProfile(models));
        (await daemon.PostJsonAsync("/v1/moderations", """{"input": "one"}""")).Dispose();
        (await daemon.PostJsonAsync("/v1/moderations", """{"input": "two"}""")).Dispose();
        (await daemon.PostJsonAsync("/v1/moderations", "{")).Dispose();

        string text = await daemon.MetricsContainingAsync("status=\"400\"} 1\n", "le=\"+Inf\"} 3\n");

        Assert.Contains("edgeguard_http_requests_total{route=\"/v1/moderations\",status=\"200\"} 2\n", text);
        Assert.Contains("edgeguard_http_requests_total{route=\"/v1/moderations\",status=\"400\"} 1\n", text);
        Assert.Contains("edgeguard_http_request_duration_seconds_bucket{route=\"/v1/moderations\",le=\"+Inf\"} 3\n", text);
        Assert.Contains("edgeguard_batch_size_count ", text);
        Assert.Contains("edgeguard_queue_depth 0\n", text);
        Assert.Contains("edgeguard_model_info{name=\"tiny-guard\",precision=\"f32\",format=\"bundle\",profile=\"test-board\"} 1\n", text);
        Assert.Matches(@"process_resident_memory_bytes [1-9][0-9]+\n", text);
    }

    [Fact]
    public async Task UnixSocket_ServesTheSameApi()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.Socket.PostAsync("/v1/moderations", InProcessDaemon.Json("""{"input": "over the socket"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
            File.GetUnixFileMode(daemon.SocketPath));
    }

    private static string WriteProfile(TinyModels models)
    {
        string path = Path.Combine(models.NewScratch(), "test-board.json");
        File.WriteAllText(path, """{"name": "test-board", "threads": 1, "daemon": {"max_batch": 4, "max_wait_ms": 1}}""");
        return path;
    }
}
