using System.Text;
using System.Text.Json;
using EdgeGuard.Daemon.Batching;
using EdgeGuard.Daemon.Hosting;
using EdgeGuard.Daemon.Metrics;
using EdgeGuard.Daemon.Models;
using EdgeGuard.Generation;
using EdgeGuard.Generation.Logits;
using EdgeGuard.ModelFiles;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Daemon.Http;

/// <summary>
/// OpenAI's <c>/v1/chat/completions</c> and <c>/v1/completions</c> on the generator model, with guard rails: the prompt
/// (the last user message, or the completion prompt) is classified before anything is generated, and the reply, as a
/// prompt + reply pair, when it is complete; a stream holds its text back and releases it only after the guard has passed
/// it, every <see cref="GuardRailSettings.EveryTokens"/> tokens. A flagged prompt or reply is answered per
/// <see cref="GuardRailSettings.Refuse"/>.
/// </summary>
internal sealed class GenerationEndpoints(
    GeneratorHost generator, GuardClient guard, JsonBody body, DaemonSettings settings, DaemonMetrics metrics, ILogger<GenerationEndpoints> logger)
{
    private const string ContentFilter = "content_filter";

    private static readonly byte[] EventStart = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapPost("/v1/chat/completions", ChatAsync);
        routes.MapPost("/v1/completions", CompleteAsync);
    }

    public async Task ChatAsync(HttpContext context)
    {
        if (await ReadAsync(context, DaemonJsonContext.Web.ChatCompletionRequest, "/v1/chat/completions").ConfigureAwait(false) is not { } request)
        {
            return;
        }

        Plan plan;
        try
        {
            plan = PlanChat(request);
        }
        catch (ApiException e)
        {
            await e.Error.WriteAsync(context).ConfigureAwait(false);
            return;
        }

        await RunAsync(context, plan).ConfigureAwait(false);
    }

    public async Task CompleteAsync(HttpContext context)
    {
        if (await ReadAsync(context, DaemonJsonContext.Web.CompletionRequest, "/v1/completions").ConfigureAwait(false) is not { } request)
        {
            return;
        }

        Plan plan;
        try
        {
            plan = PlanCompletion(request);
        }
        catch (ApiException e)
        {
            await e.Error.WriteAsync(context).ConfigureAwait(false);
            return;
        }

        await RunAsync(context, plan).ConfigureAwait(false);
    }

    /// <summary>The body, or null when an error response was written (no generator, or a body that does not parse).</summary>
    private async ValueTask<T?> ReadAsync<T>(HttpContext context, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string path)
        where T : class
    {
        if (generator.Group is null)
        {
            await ApiError.NoGenerator(path).WriteAsync(context).ConfigureAwait(false);
            return null;
        }

        var (request, error) = await body.ReadAsync(context, type).ConfigureAwait(false);
        if (error is not null)
        {
            await error.WriteAsync(context).ConfigureAwait(false);
            return null;
        }

        return request;
    }

    /// <summary>What one request generates: its own generator (its own sessions), the prompt's ids and the text the guard reads.</summary>
    private sealed record Plan(Generator Generator, int[] PromptIds, string GuardPrompt, bool Chat, bool Stream);

    private Plan PlanChat(ChatCompletionRequest request)
    {
        if (request.Messages is not { } messages)
        {
            ApiThrow.BadRequest("'messages' is required: an array of {role, content} objects.", "messages");
            return null!;
        }

        if (messages.Count == 0)
        {
            ApiThrow.BadRequest("'messages' is an empty array; send at least one user message.", "messages");
        }

        var chat = new List<ChatMessage>(messages.Count);
        string? lastUser = null;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not { } message)
            {
                ApiThrow.BadRequest($"messages[{i}] is null; every message is an object with 'role' and 'content'.", "messages");
                return null!;
            }

            if (message.Role is not ("system" or "user" or "assistant"))
            {
                ApiThrow.BadRequest(
                    message.Role is null ? $"messages[{i}] has no 'role'; it must be system, user or assistant." : $"messages[{i}].role must be system, user or assistant.",
                    "messages");
            }

            if (message.Content is null)
            {
                ApiThrow.BadRequest($"messages[{i}] has no 'content' string.", "messages");
            }

            chat.Add(new ChatMessage(message.Role!, message.Content!));
            if (message.Role == "user")
            {
                lastUser = message.Content;
            }
        }

        if (lastUser is null)
        {
            ApiThrow.BadRequest("'messages' has no user message; the guard reads the last one before anything is generated.", "messages");
        }

        var options = Options(request, out bool stream);
        ChatSession session;
        try
        {
            session = new ChatSession(generator.Group!, options, contextLength: generator.ContextLength);
        }
        catch (ModelFileException e)
        {
            ApiThrow.BadRequest($"The generator model cannot chat: {e.Message} Use /v1/completions with a plain prompt.", "messages");
            return null!;
        }

        foreach (var message in chat)
        {
            session.Add(message);
        }

        int[] ids;
        try
        {
            ids = session.RenderPrompt();
        }
        catch (ArgumentException e)
        {
            ApiThrow.BadRequest("The messages do not fit the model's chat template: " + e.Message, "messages");
            return null!;
        }

        return new Plan(session.Generator, ids, lastUser!, Chat: true, stream);
    }

    private Plan PlanCompletion(CompletionRequest request)
    {
        if (request.Prompt.ValueKind != JsonValueKind.String)
        {
            ApiThrow.BadRequest(
                request.Prompt.ValueKind == JsonValueKind.Undefined ? "'prompt' is required: a string." : "'prompt' must be a string (arrays of prompts and token ids are not served).",
                "prompt");
        }

        string prompt = request.Prompt.GetString()!;
        var options = Options(request, out bool stream);
        var created = new Generator(generator.Group!, options, generator.ContextLength);
        return new Plan(created, created.EncodePrompt(prompt), prompt, Chat: false, stream);
    }

    /// <summary>
    /// The request's sampling fields within the daemon's limits, the served model's own settings for the rest;
    /// <c>max_tokens</c> is capped to the configured most.
    /// </summary>
    private GenerationOptions Options(GenerationRequest request, out bool stream)
    {
        var limits = settings.Generator!;
        if (request.MaxTokens is < 1)
        {
            ApiThrow.BadRequest("'max_tokens' must be at least 1.", "max_tokens");
        }

        if (request.Temperature is { } t && !(t >= 0f && t <= 2f))
        {
            ApiThrow.BadRequest("'temperature' must lie in [0, 2] (0 chooses the most likely token).", "temperature");
        }

        if (request.TopP is { } p && !(p > 0 && p <= 1))
        {
            ApiThrow.BadRequest("'top_p' must lie in (0, 1].", "top_p");
        }

        stream = request.Stream ?? false;

        // What the request leaves out comes from the model's generation_config.json when it has one (as vLLM serves),
        // else OpenAI's defaults (temperature 1, top_p 1).
        GenerationDefaults? defaults = generator.Group!.Primary.Defaults;
        SamplingSettings model = defaults?.Sampling ?? new SamplingSettings();
        return new GenerationOptions
        {
            Sampling = model with
            {
                Temperature = request.Temperature ?? model.Temperature,
                TopP = request.TopP ?? model.TopP,

                // OpenAI samples afresh without a seed; with one, the same request gives the same reply.
                Seed = request.Seed ?? (ulong)Random.Shared.NextInt64(),
            },
            MaxNewTokens = Math.Min(request.MaxTokens ?? defaults?.MaxNewTokens ?? limits.MaxTokens, limits.MaxTokens),
            StopTokenIds = defaults?.EndOfSequenceIds ?? [],
            StopSequences = StopSequences(request.Stop),
            PromptOverflow = limits.KeepPromptEnd ? PromptOverflow.KeepEnd : PromptOverflow.Refuse,
        };
    }

    private static string[] StopSequences(JsonElement stop)
    {
        const int MaxStops = 4;
        switch (stop.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return [];
            case JsonValueKind.String:
                return stop.GetString() is { Length: > 0 } one ? [one] : Refuse();
            case JsonValueKind.Array:
                if (stop.GetArrayLength() > MaxStops)
                {
                    ApiThrow.BadRequest($"'stop' has {stop.GetArrayLength()} sequences; at most {MaxStops} are taken.", "stop");
                }

                var stops = new List<string>(MaxStops);
                foreach (var item in stop.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String || item.GetString() is not { Length: > 0 } text)
                    {
                        return Refuse();
                    }

                    stops.Add(text);
                }

                return [.. stops];
            default:
                return Refuse();
        }

        static string[] Refuse()
        {
            ApiThrow.BadRequest("'stop' must be a non-empty string or an array of non-empty strings.", "stop");
            return [];
        }
    }

    private async Task RunAsync(HttpContext context, Plan plan)
    {
        if (plan.PromptIds.Length > plan.Generator.ContextLength && plan.Generator.Options.PromptOverflow == PromptOverflow.Refuse)
        {
            await ApiError.BadRequest(
                $"The prompt has {plan.PromptIds.Length} tokens, more than the context of {plan.Generator.ContextLength}; shorten it (EdgeGuard:Generator:Context, :PromptOverflow).",
                plan.Chat ? "messages" : "prompt").WriteAsync(context).ConfigureAwait(false);
            return;
        }

        if (settings.LogRequestText)
        {
            logger.LogInformation("{Route} prompt {Prompt}", plan.Chat ? "chat" : "completions", PrintableText.Escape(plan.GuardPrompt));
        }

        // The prompt first: a flagged one is answered without generating anything.
        if (await CheckAsync(context, new GuardInput(plan.GuardPrompt), "input").ConfigureAwait(false) is not { } inputFlagged)
        {
            return;
        }

        var reply = new Reply(plan, generator.Name);
        if (inputFlagged)
        {
            metrics.ObserveGeneration(ContentFilter, 0);
            await (plan.Stream ? StreamRefusalAsync(context, reply) : WriteRefusalAsync(context, reply)).ConfigureAwait(false);
            return;
        }

        using var active = metrics.BeginGeneration();
        if (plan.Stream)
        {
            await StreamAsync(context, plan, reply).ConfigureAwait(false);
        }
        else
        {
            await GenerateAsync(context, plan, reply).ConfigureAwait(false);
        }
    }

    private async Task GenerateAsync(HttpContext context, Plan plan, Reply reply)
    {
        // The decode loop computes on the thread that runs it; a pool thread keeps the request's thread free meanwhile.
        GenerationResult result;
        try
        {
            result = await Task.Run(() => plan.Generator.Generate(plan.PromptIds, context.RequestAborted), context.RequestAborted).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            await ApiError.BadRequest(e.Message, plan.Chat ? "messages" : "prompt").WriteAsync(context).ConfigureAwait(false);
            return;
        }

        if (result.FinishReason == FinishReason.Cancelled)
        {
            metrics.ObserveGeneration(result.FinishReasonName, result.TokenIds.Count);
            return;
        }

        if (await CheckAsync(context, new GuardInput(plan.GuardPrompt, result.Text), "output").ConfigureAwait(false) is not { } flagged)
        {
            return;
        }

        metrics.ObserveGeneration(flagged ? ContentFilter : result.FinishReasonName, result.TokenIds.Count);
        reply.PromptTokens = result.PromptTokenCount;
        reply.CompletionTokens = result.TokenIds.Count;
        if (flagged)
        {
            await WriteRefusalAsync(context, reply).ConfigureAwait(false);
            return;
        }

        await reply.WriteAsync(context, result.Text, result.FinishReasonName).ConfigureAwait(false);
    }

    private async Task StreamAsync(HttpContext context, Plan plan, Reply reply)
    {
        var released = new StringBuilder();
        var held = new StringBuilder();
        int heldPieces = 0;
        int every = settings.GuardRail.EveryTokens;
        bool started = false;
        var stream = plan.Generator.GenerateStreamingAsync(plan.PromptIds, context.RequestAborted);
        await using var pieces = stream.GetAsyncEnumerator(context.RequestAborted);
        try
        {
            while (await pieces.MoveNextAsync().ConfigureAwait(false))
            {
                if (!started)
                {
                    await reply.BeginStreamAsync(context).ConfigureAwait(false);
                    started = true;
                }

                held.Append(pieces.Current);
                if (every > 0 && ++heldPieces >= every)
                {
                    if (!await ReleaseAsync().ConfigureAwait(false))
                    {
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left while a token was computed or while text was written: ending the stream ends the generation,
            // and only then does it have its outcome.
            await pieces.DisposeAsync().ConfigureAwait(false);
            metrics.ObserveGeneration("cancelled", plan.Generator.LastResult?.TokenIds.Count ?? 0);
            return;
        }
        catch (ArgumentException e) when (!started)
        {
            await ApiError.BadRequest(e.Message, plan.Chat ? "messages" : "prompt").WriteAsync(context).ConfigureAwait(false);
            return;
        }

        if (!started)
        {
            await reply.BeginStreamAsync(context).ConfigureAwait(false);
        }

        var result = plan.Generator.LastResult!;
        if (held.Length > 0 || released.Length == 0)
        {
            if (!await ReleaseAsync().ConfigureAwait(false))
            {
                return;
            }
        }

        metrics.ObserveGeneration(result.FinishReasonName, result.TokenIds.Count);
        await reply.EndStreamAsync(context, result.FinishReasonName).ConfigureAwait(false);

        // Classifies everything so far; sends the held text when it passes, else ends the stream per policy. False: ended.
        async Task<bool> ReleaseAsync()
        {
            released.Append(held);
            var verdict = await CheckAsync(context, new GuardInput(plan.GuardPrompt, released.ToString()), "output").ConfigureAwait(false);
            if (verdict is not false)
            {
                // Flagged, or the guard could not answer (the error cannot be written into a stream that has begun):
                // the held text is not sent. Ending the stream ends the generation and gives it its outcome.
                await pieces.DisposeAsync().ConfigureAwait(false);
                int tokens = plan.Generator.LastResult?.TokenIds.Count ?? 0;
                metrics.ObserveGeneration(verdict is not null ? ContentFilter : context.RequestAborted.IsCancellationRequested ? "cancelled" : "failed", tokens);
                if (verdict is null)
                {
                    context.Abort();
                    return false;
                }

                // Before any text was sent the refusal is the whole reply, as when not streaming; after, the stream can only stop.
                bool refuseWhole = settings.GuardRail.Refuse && released.Length == held.Length;
                await reply.EndStreamAsync(context, refuseWhole ? "stop" : ContentFilter, refuseWhole ? settings.GuardRail.RefusalMessage : null)
                    .ConfigureAwait(false);
                return false;
            }

            if (held.Length > 0)
            {
                await reply.SendAsync(context, held.ToString()).ConfigureAwait(false);
            }

            held.Clear();
            heldPieces = 0;
            return true;
        }
    }

    /// <summary>A non-streamed answer to a flagged prompt or reply: the refusal message, or no text with <c>content_filter</c>.</summary>
    private Task WriteRefusalAsync(HttpContext context, Reply reply) => settings.GuardRail.Refuse
        ? reply.WriteAsync(context, settings.GuardRail.RefusalMessage, "stop")
        : reply.WriteAsync(context, string.Empty, ContentFilter);

    private async Task StreamRefusalAsync(HttpContext context, Reply reply)
    {
        await reply.BeginStreamAsync(context).ConfigureAwait(false);
        await reply.EndStreamAsync(context, settings.GuardRail.Refuse ? "stop" : ContentFilter, settings.GuardRail.Refuse ? settings.GuardRail.RefusalMessage : null)
            .ConfigureAwait(false);
    }

    /// <summary>Classifies one input: true when flagged, false when it passed, null when an error was written (or the client left).</summary>
    private async ValueTask<bool?> CheckAsync(HttpContext context, GuardInput input, string direction)
    {
        if (await guard.ClassifyAsync(context, [input]).ConfigureAwait(false) is not { } result)
        {
            return null;
        }

        bool flagged = result.Verdicts![0].Flagged;
        metrics.ObserveGuardRail(direction, flagged);
        return flagged;
    }

    /// <summary>One request's response in the endpoint's shape: a whole object, or server-sent chunks.</summary>
    private sealed class Reply(Plan plan, string model)
    {
        private readonly string _id = (plan.Chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        public int PromptTokens { get; set; } = plan.PromptIds.Length;

        public int CompletionTokens { get; set; }

        public Task WriteAsync(HttpContext context, string text, string finishReason)
        {
            var usage = new Usage(PromptTokens, CompletionTokens, PromptTokens + CompletionTokens);
            return plan.Chat
                ? context.Response.WriteAsJsonAsync(
                    new ChatCompletionResponse(_id, "chat.completion", _created, model, [new ChatChoice(0, new AssistantMessage("assistant", text), finishReason)], usage),
                    DaemonJsonContext.Web.ChatCompletionResponse)
                : context.Response.WriteAsJsonAsync(
                    new CompletionResponse(_id, "text_completion", _created, model, [new CompletionChoice(0, text, finishReason)], usage),
                    DaemonJsonContext.Web.CompletionResponse);
        }

        /// <summary>The event-stream headers and, for chat, the chunk that names the role.</summary>
        public async Task BeginStreamAsync(HttpContext context)
        {
            var response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            if (plan.Chat)
            {
                await ChunkAsync(context, new ChunkDelta("assistant", null), null).ConfigureAwait(false);
            }
            else
            {
                await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
            }
        }

        public Task SendAsync(HttpContext context, string text) => ChunkAsync(context, new ChunkDelta(null, text), null);

        /// <summary>The last text (if any), the chunk with the finish reason, and <c>data: [DONE]</c>.</summary>
        public async Task EndStreamAsync(HttpContext context, string finishReason, string? text = null)
        {
            if (text is not null)
            {
                await SendAsync(context, text).ConfigureAwait(false);
            }

            await ChunkAsync(context, new ChunkDelta(null, null), finishReason).ConfigureAwait(false);
            await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted).ConfigureAwait(false);
            await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }

        private async Task ChunkAsync(HttpContext context, ChunkDelta delta, string? finishReason)
        {
            byte[] json = plan.Chat
                ? JsonSerializer.SerializeToUtf8Bytes(
                    new ChatCompletionChunk(_id, "chat.completion.chunk", _created, model, [new ChunkChoice(0, delta, finishReason)]), DaemonJsonContext.Web.ChatCompletionChunk)
                : JsonSerializer.SerializeToUtf8Bytes(
                    new CompletionChunk(_id, "text_completion", _created, model, [new CompletionChoice(0, delta.Content ?? string.Empty, finishReason)]),
                    DaemonJsonContext.Web.CompletionChunk);
            var body = context.Response.Body;
            await body.WriteAsync(EventStart, context.RequestAborted).ConfigureAwait(false);
            await body.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
            await body.WriteAsync(EventEnd, context.RequestAborted).ConfigureAwait(false);
            await body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }
    }
}
