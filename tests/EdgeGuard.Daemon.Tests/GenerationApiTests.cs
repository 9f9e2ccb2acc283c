using System.Net;
using System.Text;
using System.Text.Json;
using EdgeGuard.Generation;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Daemon.Tests;

/// <summary>
/// <c>/v1/chat/completions</c> and <c>/v1/completions</c> on the tiny Llama 3 chat fixture, guarded by a classifier the
/// test switches to "unsafe": replies equal the library's, streams carry the same text, flagged prompts and replies are
/// answered per policy, bad requests get error objects, a client that leaves stops its generation.
/// </summary>
public sealed class GenerationApiTests(TinyModels models)
{
    private const string Hello = """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}], "temperature": 0, "max_tokens": 12""";

    [Fact]
    public async Task Chat_ReturnsTheLibrarysGreedyReply_InOpenAisShape()
    {
        await using var daemon = await StartAsync(new SwitchedClassifier());
        using var response = await daemon.PostJsonAsync("/v1/chat/completions", Hello + "}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        Assert.StartsWith("chatcmpl-", root.GetProperty("id").GetString());
        Assert.Equal("chat.completion", root.GetProperty("object").GetString());
        Assert.Equal("llama3-small-chat", root.GetProperty("model").GetString());
        Assert.True(root.GetProperty("created").GetInt64() > 1_700_000_000);
        var choice = root.GetProperty("choices")[0];
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());

        var expected = LibraryChat([new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hello there")], 12);
        Assert.Equal(expected.Text, choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(expected.FinishReasonName, choice.GetProperty("finish_reason").GetString());
        var usage = root.GetProperty("usage");
        Assert.Equal(expected.PromptTokenCount, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.TokenIds.Count, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(expected.PromptTokenCount + expected.TokenIds.Count, usage.GetProperty("total_tokens").GetInt32());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("3")]
    public async Task ChatStream_CarriesTheSameText_InChunks_EndingWithDone(string guardEvery)
    {
        await using var daemon = await StartAsync(new SwitchedClassifier(), "--guard-rail-every", guardEvery);
        using var plain = await daemon.PostJsonAsync("/v1/chat/completions", Hello + "}");
        using var plainJson = JsonDocument.Parse(await plain.Content.ReadAsStringAsync());
        string expected = plainJson.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

        var events = await StreamAsync(daemon, "/v1/chat/completions", Hello + """, "stream": true}""");

        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        string text = string.Concat(chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : string.Empty));
        Assert.Equal(expected, text);
        Assert.Equal(
            plainJson.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString(),
            chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
    }

    [Fact]
    public async Task Completions_FieldsLeftOut_TakeTheServedModelsGenerationConfig()
    {
        string model = Directory.CreateTempSubdirectory("edgeguard-daemon-genconfig-").FullName;
        try
        {
            foreach (string file in Directory.EnumerateFiles(models.ChatModelDir))
            {
                File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
            }

            File.WriteAllText(Path.Combine(model, "generation_config.json"), """{"do_sample": false, "max_new_tokens": 4}""");
            await using var daemon = await InProcessDaemon.StartAsync(
                models, models.BundlePath, (_, options) => ScriptedGuards.Create(new SwitchedClassifier(), options), null, ["--generator-model", model]);
            async Task<JsonElement> Complete(string body)
            {
                using var response = await daemon.PostJsonAsync("/v1/completions", body);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            }

            JsonElement byDefault = await Complete("""{"prompt": "Once upon a time"}""");
            JsonElement explicitGreedy = await Complete("""{"prompt": "Once upon a time", "temperature": 0, "max_tokens": 4}""");
            Assert.Equal(4, byDefault.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            Assert.Equal(explicitGreedy.GetProperty("choices")[0].GetProperty("text").GetString(), byDefault.GetProperty("choices")[0].GetProperty("text").GetString());
        }
        finally
        {
            Directory.Delete(model, recursive: true);
        }
    }

    [Fact]
    public async Task Completions_ReturnTheLibrarysText_StreamedAndNot()
    {
        await using var daemon = await StartAsync(new SwitchedClassifier());
        const string Request = """{"prompt": "Once upon a time", "temperature": 0, "max_tokens": 10""";
        using var response = await daemon.PostJsonAsync("/v1/completions", Request + "}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var choice = json.RootElement.GetProperty("choices")[0];

        var expected = LibraryCompletion("Once upon a time", 10);
        Assert.Equal("text_completion", json.RootElement.GetProperty("object").GetString());
        Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
        Assert.Equal(expected.FinishReasonName, choice.GetProperty("finish_reason").GetString());

        var events = await StreamAsync(daemon, "/v1/completions", Request + """, "stream": true}""");
        Assert.Equal("[DONE]", events[^1]);
        string streamed = string.Concat(events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(expected.Text, streamed);
    }

    [Fact]
    public async Task OffsetPartnersThatAgree_ServeTheBaseModelsReply()
    {
        // S′ = S₀: the offset ℓ_S′ − ℓ_S₀ is zero, so the group must write what the base writes alone.
        await using var daemon = await StartAsync(
            new SwitchedClassifier(), "--generator-offset-unlearned", models.ChatModelDir, "--generator-offset-original", models.ChatModelDir, "--generator-offset-alpha", "2");
        using var response = await daemon.PostJsonAsync("/v1/chat/completions", Hello + "}");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(
            LibraryChat([new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hello there")], 12).Text,
            json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task EmptyPrompt_StartsFromBos()
    {
        await using var daemon = await StartAsync(new SwitchedClassifier());
        using var response = await daemon.PostJsonAsync("/v1/completions", """{"prompt": "", "temperature": 0, "max_tokens": 5}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(LibraryCompletion(string.Empty, 5).Text, json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task StopSequence_EndsTheReplyBeforeIt()
    {
        await using var daemon = await StartAsync(new SwitchedClassifier());
        var full = LibraryCompletion("Once upon a time", 10);
        Assert.True(full.Text.Length >= 3, "the fixture's greedy text is long enough to cut");
        string stop = full.Text.Substring(full.Text.Length / 2, 1);
        string body = JsonSerializer.Serialize(new Dictionary<string, object> { ["prompt"] = "Once upon a time", ["temperature"] = 0, ["max_tokens"] = 10, ["stop"] = new[] { stop } });

        using var response = await daemon.PostJsonAsync("/v1/completions", body);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var choice = json.RootElement.GetProperty("choices")[0];

        Assert.Equal(full.Text[..full.Text.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task FlaggedPrompt_ContentFilterPolicy_AnswersWithoutGenerating()
    {
        var guard = new SwitchedClassifier();
        await using var daemon = await StartAsync(guard);
        guard.FlagFromCall(0);

        using var response = await daemon.PostJsonAsync("/v1/chat/completions", Hello + "}");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var choice = json.RootElement.GetProperty("choices")[0];

        Assert.Equal("content_filter", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(string.Empty, choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        string metrics = await daemon.MetricsContainingAsync("edgeguard_guard_rail_checks_total{direction=\"input\",outcome=\"flagged\"} 1");
        Assert.Contains("edgeguard_guard_rail_checks_total{direction=\"input\",outcome=\"flagged\"} 1", metrics);
        Assert.DoesNotContain("direction=\"output\"", metrics);
        Assert.Contains("edgeguard_generated_tokens_total 0", metrics);
    }

    [Fact]
    public async Task FlaggedPrompt_RefusePolicy_AnswersWithTheMessage_StreamedAndNot()
    {
        var guard = new SwitchedClassifier();
        await using var daemon = await StartAsync(guard, "--guard-rail-policy", "refuse", "--guard-rail-refusal", "Not with me.");
        guard.FlagFromCall(0);

        using var response = await daemon.PostJsonAsync("/v1/chat/completions", Hello + "}");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var choice = json.RootElement.GetProperty("choices")[0];
        Assert.Equal("Not with me.", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());

        var events = await StreamAsync(daemon, "/v1/chat/completions", Hello + """, "stream": true}""");
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
        Assert.Equal("Not with me.", string.Concat(chunks.Select(c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : string.Empty)));
        Assert.Equal("stop", chunks[^1].GetProperty("finish_reason").GetString());
        await daemon.MetricsContainingAsync("edgeguard_guard_rail_checks_total{direction=\"input\",outcome=\"flagged\"} 2");
    }

    [Fact]
    public async Task FlaggedReply_IsWithheld_WithContentFilter()
    {
        var guard = new SwitchedClassifier();
        await using var daemon = await StartAsync(guard);
        guard.FlagFromCall(1);

        using var response = await daemon.PostJsonAsync("/v1/chat/completions", Hello + "}");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var choice = json.RootElement.GetProperty("choices")[0];

        Assert.Equal("content_filter", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(string.Empty, choice.GetProperty("message").GetProperty("content").GetString());
        string metrics = await daemon.MetricsContainingAsync(
            "edgeguard_guard_rail_checks_total{direction=\"input\",outcome=\"passed\"} 1",
            "edgeguard_guard_rail_checks_total{direction=\"output\",outcome=\"flagged\"} 1");
        Assert.Contains("edgeguard_guard_rail_checks_total{direction=\"output\",outcome=\"flagged\"} 1", metrics);
        Assert.Contains("edgeguard_generations_total{finish_reason=\"content_filter\"} 1", metrics);
    }

    [Fact]
    public async Task FlaggedReplyMidStream_StopsWithContentFilter_AfterOnlyTheTextThatPassed()
    {
        var guard = new SwitchedClassifier();
        await using var daemon = await StartAsync(guard, "--guard-rail-every", "2");

        // The prompt check and the first reply check pass; the second reply check is flagged.
        guard.FlagFromCall(2);
        const string Long = """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}], "temperature": 0, "max_tokens": 40, "stream": true}""";
        var events = await StreamAsync(daemon, "/v1/chat/completions", Long);

        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
        Assert.Equal("content_filter", chunks[^1].GetProperty("finish_reason").GetString());
        string sent = string.Concat(chunks.Select(c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : string.Empty));
        string full = LibraryChat([new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hello there")], 40).Text;
        Assert.NotEmpty(sent);
        Assert.True(full.StartsWith(sent, StringComparison.Ordinal) && sent.Length < full.Length, $"sent '{sent}' of '{full}'");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FlaggedReply_RefusePolicy_BeforeAnyTextWasSent_IsTheRefusal(bool stream)
    {
        var guard = new SwitchedClassifier();
        await using var daemon = await StartAsync(guard, "--guard-rail-policy", "refuse", "--guard-rail-refusal", "Not with me.", "--guard-rail-every", "0");
        guard.FlagFromCall(1);

        string content;
        string? finish;
        if (stream)
        {
            var events = await StreamAsync(daemon, "/v1/chat/completions", Hello + """, "stream": true}""");
            var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
            content = string.Concat(chunks.Select(c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : string.Empty));
            finish = chunks[^1].GetProperty("finish_reason").GetString();
        }
        else
        {
            using var response = await daemon.PostJsonAsync("/v1/chat/completions", Hello + "}");
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            content = json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
            finish = json.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString();
        }

        Assert.Equal(("Not with me.", "stop"), (content, finish));
        await daemon.MetricsContainingAsync("edgeguard_guard_rail_checks_total{direction=\"output\",outcome=\"flagged\"} 1");
    }

    public static TheoryData<string, string> MalformedChats => new()
    {
        { "{}", "no messages" },
        { """{"messages": "hello"}""", "messages as a string" },
        { """{"messages": []}""", "no message in the array" },
        { """{"messages": [null]}""", "a null message" },
        { """{"messages": [{"role": "user"}]}""", "a message without content" },
        { """{"messages": [{"role": "user", "content": 5}]}""", "content as a number" },
        { """{"messages": [{"role": "robot", "content": "hi"}]}""", "an unknown role" },
        { """{"messages": [{"role": "system", "content": "hi"}]}""", "no user message" },
        { """{"messages": [{"role": "user", "content": "a"}], "messages": [{"role": "user", "content": "b"}]}""", "messages given twice" },
        { """{"messages": [{"role": "user", "content": "a", "content": "b"}]}""", "content given twice" },
        { """{"messages": [{"role": "user", "content": "a"}]} {}""", "a second JSON value" },
        { """{"messages": [{"role": "user", "content": "a"}], "max_tokens": 0}""", "max_tokens 0" },
        { """{"messages": [{"role": "user", "content": "a"}], "max_tokens": "ten"}""", "max_tokens as a string" },
        { """{"messages": [{"role": "user", "content": "a"}], "temperature": 7}""", "temperature out of range" },
        { """{"messages": [{"role": "user", "content": "a"}], "top_p": 0}""", "top_p 0" },
        { """{"messages": [{"role": "user", "content": "a"}], "stop": 5}""", "stop as a number" },
        { """{"messages": [{"role": "user", "content": "a"}], "stop": [""]}""", "an empty stop sequence" },
        { """{"messages": [{"role": "user", "content": "a"}], "stream": "yes"}""", "stream as a string" },
    };

    [Theory]
    [MemberData(nameof(MalformedChats))]
    public async Task Chat_MalformedRequest_Is400WithAnErrorObject(string body, string what)
    {
        var guard = new SwitchedClassifier();
        await using var daemon = await StartAsync(guard);
        int probes = guard.Calls;
        using var response = await daemon.PostJsonAsync("/v1/chat/completions", body);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, what);
        await ErrorResponseTests.AssertErrorObject(response, "invalid_request_error");
        Assert.Equal(probes, guard.Calls);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"prompt": 3}""")]
    [InlineData("""{"prompt": ["a", "b"]}""")]
    public async Task Completions_MalformedRequest_Is400(string body)
    {
        await using var daemon = await StartAsync(new SwitchedClassifier());
        using var response = await daemon.PostJsonAsync("/v1/completions", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("prompt", await ErrorResponseTests.AssertErrorObject(response, "invalid_request_error"));
    }

    [Fact]
    public async Task PromptLongerThanTheContext_Is400_OrKeepsItsEnd()
    {
        string longPrompt = string.Join(' ', Enumerable.Repeat("word", 100));
        string body = $$"""{"prompt": "{{longPrompt}}", "temperature": 0, "max_tokens": 4}""";
        await using (var refusing = await StartAsync(new SwitchedClassifier(), "--generator-context", "32"))
        {
            using var refused = await refusing.PostJsonAsync("/v1/completions", body);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("context of 32", await ErrorResponseTests.AssertErrorObject(refused, "invalid_request_error"));
        }

        await using var keeping = await StartAsync(new SwitchedClassifier(), "--generator-context", "32", "--generator-prompt-overflow", "keep-end");
        using var kept = await keeping.PostJsonAsync("/v1/completions", body);
        Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        using var json = JsonDocument.Parse(await kept.Content.ReadAsStringAsync());
        Assert.True(json.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() <= 32);
    }

    [Fact]
    public async Task ClientLeavingMidStream_StopsItsGeneration()
    {
        await using var daemon = await StartAsync(new SwitchedClassifier(), "--generator-max-tokens", "30000", "--generator-context", "30100", "--guard-rail-every", "1");
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = InProcessDaemon.Json("""{"prompt": "Once", "max_tokens": 30000, "temperature": 1, "seed": 3, "stream": true}"""),
        })
        {
            using var response = await daemon.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: {", await reader.ReadLineAsync());
        }

        // The response is disposed: the connection is gone, and the generation with it.
        string metrics = await daemon.MetricsContainingAsync("edgeguard_generations_total{finish_reason=\"cancelled\"} 1", "edgeguard_generations_active 0");
        Assert.Contains("edgeguard_generations_total{finish_reason=\"cancelled\"} 1", metrics);
        Assert.Contains("edgeguard_generations_active 0", metrics);
        long tokens = long.Parse(metrics.Split('\n').First(l => l.StartsWith("edgeguard_generated_tokens_total ", StringComparison.Ordinal)).Split(' ')[1]);
        Assert.InRange(tokens, 1, 29_999);

        // The daemon serves the next request.
        using var next = await daemon.PostJsonAsync("/v1/chat/completions", Hello + "}");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task ConcurrentRequests_EachGetTheirOwnReply()
    {
        await using var daemon = await StartAsync(new SwitchedClassifier());
        string[] prompts = ["Hello there", "What is up", "Tell me a story", "Hello there"];
        var replies = await Task.WhenAll(prompts.Select(async p =>
        {
            using var response = await daemon.PostJsonAsync("/v1/chat/completions", $$"""{"messages": [{"role": "user", "content": "{{p}}"}], "temperature": 0, "max_tokens": 12}""");
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        }));

        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(LibraryChat([new ChatMessage("user", prompts[i])], 12).Text, replies[i]);
        }
    }

    [Fact]
    public async Task StoppingTheDaemon_ReleasesTheGeneratorModels()
    {
        var daemon = await StartAsync(new SwitchedClassifier());
        var host = daemon.Services.GetRequiredService<Models.GeneratorHost>();
        Assert.NotNull(host.Group);

        await daemon.DisposeAsync();

        Assert.True(host.IsDisposed);
    }

    [Theory]
    [InlineData("/v1/chat/completions")]
    [InlineData("/v1/completions")]
    public async Task NoGeneratorConfigured_Is404NamingTheSetting_AndModerationStillServes(string path)
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var response = await daemon.PostJsonAsync(path, """{"messages": [{"role": "user", "content": "hi"}], "prompt": "hi"}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("--generator-model", await ErrorResponseTests.AssertErrorObject(response, "invalid_request_error"));
        using var moderation = await daemon.PostJsonAsync("/v1/moderations", """{"input": "hi"}""");
        Assert.Equal(HttpStatusCode.OK, moderation.StatusCode);
    }

    private Task<InProcessDaemon> StartAsync(SwitchedClassifier guard, params string[] extra) =>
        InProcessDaemon.StartAsync(models, models.BundlePath, (_, options) => ScriptedGuards.Create(guard, options), null, ["--generator-model", models.ChatModelDir, .. extra]);

    /// <summary>The data of every server-sent event of a streamed response, in order.</summary>
    private static async Task<List<string>> StreamAsync(InProcessDaemon daemon, string path, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = InProcessDaemon.Json(body) };
        using var response = await daemon.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        var events = new List<string>();
        foreach (string block in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", block);
            events.Add(block["data: ".Length..]);
        }

        return events;
    }

    private GenerationResult LibraryChat(ChatMessage[] messages, int maxTokens)
    {
        using var pool = new WorkerPool(1);
        using var model = GenerativeModel.Open(models.ChatModelDir, pool);
        var session = new ChatSession(ModelGroup.Single(model), new GenerationOptions { Sampling = SamplingSettingsGreedy(), MaxNewTokens = maxTokens }, contextLength: 2048);
        foreach (var message in messages)
        {
            session.Add(message);
        }

        return session.Generator.Generate(session.RenderPrompt());
    }

    private GenerationResult LibraryCompletion(string prompt, int maxTokens)
    {
        using var pool = new WorkerPool(1);
        using var model = GenerativeModel.Open(models.ChatModelDir, pool);
        return new Generator(ModelGroup.Single(model), new GenerationOptions { Sampling = SamplingSettingsGreedy(), MaxNewTokens = maxTokens }, 2048).Generate(prompt);
    }

    private static Generation.Logits.SamplingSettings SamplingSettingsGreedy() => Generation.Logits.SamplingSettings.Greedy;
}
