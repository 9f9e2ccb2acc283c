namespace EdgeGuard.Generation.Logits;

/// <summary>
/// Top-k filtering with Hugging Face's rule: tokens below the k-th largest logit become −∞, so tokens tied with
/// the k-th are kept too. The threshold is found by selection (O(V)), not by sorting the vocabulary.
/// </summary>
public static class TopK
{
    /// <summary>Masks all but the <paramref name="k"/> most likely tokens (and ties).</summary>
    /// <param name="keys">Scratch of at least the row's length.</param>
    public static void Apply(Span<float> logits, int k, Span<ulong> keys)
    {
        if (k <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, "Top-k must be at least 1.");
        }

        if (keys.Length < logits.Length)
        {
            throw new ArgumentException($"The scratch holds {keys.Length} keys; the row has {logits.Length} tokens.", nameof(keys));
        }

        int candidates = TokenOrder.CollectCandidates(logits, keys);
        if (k >= candidates)
        {
            return;
        }

        float threshold = logits[TokenOrder.TokenOf(TokenOrder.SelectRank(keys[..candidates], k - 1))];
        for (int v = 0; v < logits.Length; v++)
        {
            if (logits[v] < threshold)
            {
                logits[v] = float.NegativeInfinity;
            }
        }
    }
}
