using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeGuard.Daemon.Http;

/// <summary><c>POST /v1/moderations</c>: OpenAI's request shape; <c>input</c> is a string or an array of strings.</summary>
internal sealed class ModerationRequest
{
    public JsonElement Input { get; set; }

    public string? Model { get; set; }
}

/// <summary><c>POST /v1/classify</c>: one pair (<c>prompt</c>, optional <c>response</c>) or a batch in <c>inputs</c>.</summary>
internal sealed class ClassifyRequest
{
    public string? Prompt { get; set; }

    public string? Response { get; set; }

    public List<ClassifyItem?>? Inputs { get; set; }
}

internal sealed class ClassifyItem
{
    public string? Prompt { get; set; }

    public string? Response { get; set; }
}

/// <summary><c>POST /v1/chat/completions</c>: OpenAI's request; fields the daemon does not use are ignored.</summary>
internal sealed class ChatCompletionRequest : GenerationRequest
{
    public List<ChatMessageBody?>? Messages { get; set; }
}

/// <summary><c>POST /v1/completions</c>: a plain <c>prompt</c> string.</summary>
internal sealed class CompletionRequest : GenerationRequest
{
    public JsonElement Prompt { get; set; }
}

/// <summary>The sampling and streaming fields both generation endpoints take.</summary>
internal abstract class GenerationRequest
{
    public string? Model { get; set; }

    public int? MaxTokens { get; set; }

    public float? Temperature { get; set; }

    public double? TopP { get; set; }

    public ulong? Seed { get; set; }

    /// <summary>A string or an array of strings.</summary>
    public JsonElement Stop { get; set; }

    public bool? Stream { get; set; }
}

internal sealed class ChatMessageBody
{
    public string? Role { get; set; }

    public string? Content { get; set; }
}

internal sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, List<ChatChoice> Choices, Usage Usage);

internal sealed record ChatChoice(int Index, AssistantMessage Message, string FinishReason);

internal sealed record AssistantMessage(string Role, string Content);

internal sealed record CompletionResponse(string Id, string Object, long Created, string Model, List<CompletionChoice> Choices, Usage Usage);

/// <summary>One server-sent event of a streamed completion.</summary>
internal sealed record CompletionChunk(string Id, string Object, long Created, string Model, List<CompletionChoice> Choices);

internal sealed record CompletionChoice(int Index, string Text, string? FinishReason);

internal sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens);

/// <summary>One server-sent event of a streamed chat reply.</summary>
internal sealed record ChatCompletionChunk(string Id, string Object, long Created, string Model, List<ChunkChoice> Choices);

/// <summary>A streamed choice: <c>finish_reason</c> is null until the last chunk.</summary>
internal sealed record ChunkChoice(int Index, ChunkDelta Delta, string? FinishReason);

/// <summary>What a chunk adds: the role in the first, text in the others; an absent field is left out.</summary>
internal sealed record ChunkDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content);

internal sealed record ModerationResponse(string Id, string Model, List<ModerationResult> Results);

/// <summary>One result in OpenAI's shape. The guard is binary: its one category is the model's unsafe label.</summary>
internal sealed record ModerationResult(bool Flagged, Dictionary<string, bool> Categories, Dictionary<string, float> CategoryScores);

internal sealed record ClassifyResponse(string Model, float Threshold, List<VerdictBody> Results);

/// <summary>A <see cref="Verdict"/> with the field names of the <c>edgeguard</c> command's JSON output.</summary>
internal sealed record VerdictBody(bool Flagged, float UnsafeScore, string Label, int Tokens, int Windows, bool Truncated);

internal sealed record ModelList(string Object, List<ModelEntry> Data);

internal sealed record ModelEntry(string Id, string Object, long Created, string OwnedBy, string Format, string Precision, float Threshold);

internal sealed record ReadyBody(string Status, string? Model, string? Reason);

internal sealed record ReloadBody(bool Reloaded, string Model, string Message);

/// <summary>OpenAI's error object: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
internal sealed record ErrorEnvelope(ErrorBody Error);

internal sealed record ErrorBody(string Message, string Type, string? Param, string? Code);

/// <summary>Source-generated JSON for every request and response: no reflection, trims and compiles ahead of time.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    MaxDepth = DaemonJsonContext.MaxDepth)]
[JsonSerializable(typeof(ModerationRequest))]
[JsonSerializable(typeof(ClassifyRequest))]
[JsonSerializable(typeof(ModerationResponse))]
[JsonSerializable(typeof(ClassifyResponse))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ReadyBody))]
[JsonSerializable(typeof(ReloadBody))]
[JsonSerializable(typeof(ErrorEnvelope))]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(CompletionChunk))]
internal sealed partial class DaemonJsonContext : JsonSerializerContext
{
    /// <summary>Requests are flat; deeper JSON is refused before it costs anything.</summary>
    public const int MaxDepth = 16;

    /// <summary>
    /// The context the daemon uses. Responses are JSON, never HTML, so the relaxed encoder may leave quotes and
    /// apostrophes in error messages readable instead of <c>\u0027</c>. A property read twice in one object is an error.
    /// </summary>
    public static DaemonJsonContext Web { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        MaxDepth = MaxDepth,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,

        // {"input": "a", "input": "b"}: a proxy's parser may keep the first, this one the last; neither is guessed.
        AllowDuplicateProperties = false,
    });
}
