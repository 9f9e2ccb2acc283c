namespace EdgeGuard.Generation;

/// <summary>Why a generation ended.</summary>
public enum FinishReason
{
    /// <summary>The model wrote an end-of-sequence or stop token, or the text reached a stop sequence (<c>stop</c>).</summary>
    Stop,

    /// <summary>The most new tokens were generated, or the context is full (<c>length</c>).</summary>
    Length,

    /// <summary>The caller's cancellation token was signalled (<c>cancelled</c>).</summary>
    Cancelled,
}

/// <summary>The outcome of one generation.</summary>
/// <param name="Text">The generated text, up to (not including) a stop sequence.</param>
/// <param name="TokenIds">Every token generated, the end-of-sequence or stop token that ended it included.</param>
/// <param name="FinishReason">Why it ended.</param>
/// <param name="PromptTokenCount">Tokens of the prompt the model read (after <see cref="PromptOverflow.KeepEnd"/>).</param>
/// <param name="PromptTruncated">Whether the start of the prompt was dropped to fit the context.</param>
public sealed record GenerationResult(string Text, IReadOnlyList<int> TokenIds, FinishReason FinishReason, int PromptTokenCount, bool PromptTruncated)
{
    /// <summary>The OpenAI-style name of <see cref="FinishReason"/>: <c>stop</c>, <c>length</c> or <c>cancelled</c>.</summary>
    public string FinishReasonName => NameOf(FinishReason);

    /// <summary><c>stop</c>, <c>length</c> or <c>cancelled</c>.</summary>
    public static string NameOf(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => "cancelled",
    };
}
