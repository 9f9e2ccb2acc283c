namespace EdgeGuard.Generation.Logits;

/// <summary>The last link of the chain: greedy choice or one seeded draw from the softmax of the processed row.</summary>
public static class TokenSelector
{
    /// <summary>The token with the largest logit; the lowest id among equal ones.</summary>
    public static int Greedy(ReadOnlySpan<float> logits)
    {
        int best = RequireSelectable(logits, out _);
        return best;
    }

    /// <summary>
    /// Inverse-CDF sampling in float64 and token-id order: with m the largest logit, wᵥ = exp(ℓᵥ − m) (0 for a
    /// masked token), Z = Σ wᵥ summed from token 0 up, r = u·Z; the token is the first v whose running sum
    /// w₀ + … + wᵥ exceeds r.
    /// </summary>
    /// <param name="uniform">u in [0, 1), e.g. <see cref="SplitMix64.NextDouble"/>.</param>
    /// <param name="weights">Scratch of at least the row's length.</param>
    public static int Sample(ReadOnlySpan<float> logits, double uniform, Span<double> weights)
    {
        if (!(uniform >= 0.0 && uniform < 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(uniform), uniform, "The uniform draw must lie in [0, 1).");
        }

        if (weights.Length < logits.Length)
        {
            throw new ArgumentException($"The scratch holds {weights.Length} entries; the row has {logits.Length} tokens.", nameof(weights));
        }

        int best = RequireSelectable(logits, out float max);
        double total = 0.0;
        for (int v = 0; v < logits.Length; v++)
        {
            double w = Math.Exp(logits[v] - (double)max);
            weights[v] = w;
            total += w;
        }

        double target = uniform * total;
        double running = 0.0;
        int last = best;
        for (int v = 0; v < logits.Length; v++)
        {
            double w = weights[v];
            if (w == 0.0)
            {
                continue;
            }

            running += w;
            last = v;
            if (running > target)
            {
                return v;
            }
        }

        // Unreachable in exact arithmetic (u < 1); kept so rounding can never fall off the end.
        return last;
    }

    /// <summary>The greedy token and its logit; throws when the row cannot be selected from.</summary>
    private static int RequireSelectable(ReadOnlySpan<float> logits, out float max)
    {
        if (logits.IsEmpty)
        {
            throw new ArgumentException("The logits row is empty: a vocabulary needs at least one token.", nameof(logits));
        }

        int best = -1;
        max = float.NegativeInfinity;
        for (int v = 0; v < logits.Length; v++)
        {
            float value = logits[v];
            if (float.IsNaN(value))
            {
                throw new ArgumentException($"The logit of token {v} is NaN.", nameof(logits));
            }

            if (value > max)
            {
                max = value;
                best = v;
            }
        }

        if (best < 0)
        {
            throw new ArgumentException("Every token is masked (−∞): there is nothing to select.", nameof(logits));
        }

        if (float.IsPositiveInfinity(max))
        {
            throw new ArgumentException($"The logit of token {best} is +∞: the logits overflowed float32.", nameof(logits));
        }

        return best;
    }
}
