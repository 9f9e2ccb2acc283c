namespace EdgeGuard.Generation.Logits;

/// <summary>
/// Hugging Face's repetition penalty (Keskar et al.): for every distinct token of the history, a positive logit is
/// divided by θ and a negative one multiplied by θ (float32), so θ &gt; 1 makes seen tokens less likely either way.
/// A token seen several times is penalised once; a masked (−∞) token stays masked.
/// </summary>
public static class RepetitionPenalty
{
    /// <summary>Words of scratch <see cref="Apply"/> needs for a vocabulary of <paramref name="vocabularySize"/> tokens.</summary>
    public static int ScratchLength(int vocabularySize) => (vocabularySize + 63) >> 6;

    /// <summary>Penalises the tokens of <paramref name="history"/> in <paramref name="logits"/>.</summary>
    /// <param name="seen">At least <see cref="ScratchLength"/> words, all zero; left all zero.</param>
    public static void Apply(Span<float> logits, ReadOnlySpan<int> history, float penalty, Span<ulong> seen)
    {
        if (!(penalty > 0f) || !float.IsFinite(penalty))
        {
            throw new ArgumentOutOfRangeException(nameof(penalty), penalty, "The repetition penalty must be positive and finite (1 switches it off).");
        }

        if (seen.Length < ScratchLength(logits.Length))
        {
            throw new ArgumentException($"The scratch holds {seen.Length} words; a vocabulary of {logits.Length} needs {ScratchLength(logits.Length)}.", nameof(seen));
        }

        for (int i = 0; i < history.Length; i++)
        {
            if ((uint)history[i] >= (uint)logits.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(history), history[i], $"Token {history[i]} at position {i} of the history lies outside the vocabulary of {logits.Length} tokens.");
            }
        }

        foreach (int token in history)
        {
            ref ulong word = ref seen[token >> 6];
            ulong bit = 1UL << (token & 63);
            if ((word & bit) != 0)
            {
                continue;
            }

            word |= bit;
            float value = logits[token];
            logits[token] = value < 0f ? value * penalty : value / penalty;
        }

        foreach (int token in history)
        {
            seen[token >> 6] = 0;
        }
    }
}
