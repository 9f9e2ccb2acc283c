using EdgeGuard.Generation.Logits;

namespace EdgeGuard.Generation;

/// <summary>What a <see cref="Generator"/> does with a prompt longer than the context.</summary>
public enum PromptOverflow
{
    /// <summary>Refuse it with an <see cref="ArgumentException"/> that gives both lengths.</summary>
    Refuse,

    /// <summary>
    /// Keep its end: the last <c>context − min(MaxNewTokens − 1, context / 2)</c> tokens, so the new tokens have room
    /// while the prompt keeps at least half the context.
    /// </summary>
    KeepEnd,
}

/// <summary>How one generation runs: the sampling chain's settings, when it stops, and what a long prompt does.</summary>
public sealed record GenerationOptions
{
    /// <summary>Repetition penalty, temperature, top-k, top-p, min-p and the seed (see <see cref="LogitsChain"/>).</summary>
    public SamplingSettings Sampling { get; init; } = new();

    /// <summary>The most tokens generated (at least 1); generation also ends when the context is full.</summary>
    public int MaxNewTokens { get; init; } = 256;

    /// <summary>
    /// Texts that end generation where they first appear in the decoded output; the stop text and anything after it are
    /// not returned. Each must be non-empty.
    /// </summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>Token ids that end generation besides the tokenizer's end-of-sequence token (e.g. a chat template's end of turn).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>What a prompt longer than the context does.</summary>
    public PromptOverflow PromptOverflow { get; init; } = PromptOverflow.Refuse;

    /// <summary>How the generator's sessions store keys and values (float16 halves the cache's memory).</summary>
    public Models.KeyValueCacheFormat KeyValueCache { get; init; } = Models.KeyValueCacheFormat.Float32;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Sampling, nameof(Sampling));
        Sampling.Validate();
        if (MaxNewTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "At least one new token must be allowed (max new tokens ≥ 1).");
        }

        ArgumentNullException.ThrowIfNull(StopSequences, nameof(StopSequences));
        foreach (string? stop in StopSequences)
        {
            if (string.IsNullOrEmpty(stop))
            {
                throw new ArgumentException("A stop sequence must be a non-empty text.", nameof(StopSequences));
            }
        }

        ArgumentNullException.ThrowIfNull(StopTokenIds, nameof(StopTokenIds));
        foreach (int id in StopTokenIds)
        {
            if (id < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(StopTokenIds), id, "A stop token id must not be negative.");
            }
        }

        if (!Enum.IsDefined(KeyValueCache))
        {
            throw new ArgumentOutOfRangeException(nameof(KeyValueCache), KeyValueCache, "The KV cache is Float32 or Float16.");
        }

        if (!Enum.IsDefined(PromptOverflow))
        {
            throw new ArgumentOutOfRangeException(nameof(PromptOverflow), PromptOverflow, "Prompt overflow is Refuse or KeepEnd.");
        }
    }
}
