namespace EdgeGuard.Generation.Logits;

/// <summary>
/// The per-token processors after the combiner and the selector they feed: repetition penalty, temperature,
/// top-k, top-p, min-p, and greedy or seeded sampling. The defaults switch every filter off and sample at
/// temperature 1; <see cref="Greedy"/> picks the most likely token.
/// </summary>
public sealed record SamplingSettings
{
    /// <summary>Greedy decoding: temperature 0, every other setting at its default.</summary>
    public static SamplingSettings Greedy { get; } = new() { Temperature = 0f };

    /// <summary>
    /// Hugging Face's repetition penalty θ: the logit of every token already in the history is divided by θ when
    /// positive and multiplied by θ when negative (once per distinct token). 1 is off; must be positive and finite.
    /// </summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>
    /// Logits are divided by this before the filters. 0 means greedy selection (the filters are skipped: they
    /// always keep the most likely token, so they cannot change it); otherwise positive and finite.
    /// </summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep the k most likely tokens (and any tied with the k-th); null is off, otherwise at least 1.</summary>
    public int? TopK { get; init; }

    /// <summary>Nucleus sampling: keep the most likely tokens that carry probability p (Hugging Face's rule); 1 is off; in (0, 1].</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Drop tokens whose probability is below min-p times the most likely token's; 0 is off; in [0, 1].</summary>
    public double MinP { get; init; }

    /// <summary>The seed of the <see cref="SplitMix64"/> generator that sampling draws from (one draw per sampled token).</summary>
    public ulong Seed { get; init; }

    /// <summary>True when the selector is greedy (<see cref="Temperature"/> is 0).</summary>
    public bool IsGreedy => Temperature == 0f;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of its range.</summary>
    public void Validate()
    {
        if (!(RepetitionPenalty > 0f) || !float.IsFinite(RepetitionPenalty))
        {
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "The repetition penalty must be positive and finite (1 switches it off).");
        }

        if (!(Temperature >= 0f) || !float.IsFinite(Temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "The temperature must be finite and not negative (0 selects greedily).");
        }

        if (TopK is int k && k <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(TopK), k, "Top-k must be at least 1 (leave it unset to switch it off).");
        }

        if (!(TopP > 0.0 && TopP <= 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "Top-p must lie in (0, 1] (1 switches it off).");
        }

        if (!(MinP >= 0.0 && MinP <= 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(MinP), MinP, "Min-p must lie in [0, 1] (0 switches it off).");
        }
    }
}
