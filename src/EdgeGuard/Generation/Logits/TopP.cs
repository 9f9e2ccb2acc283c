namespace EdgeGuard.Generation.Logits;

/// <summary>
/// Nucleus (top-p) filtering with Hugging Face's rule: rank the tokens (<see cref="TokenOrder"/>), accumulate their
/// probabilities from the least likely up, and mask every token whose accumulated share is at most 1 − p; the most
/// likely token is always kept.
/// </summary>
/// <remarks>
/// In float64: with m the largest logit, wᵣ = exp(ℓᵣ − m) per rank r, tailᵣ = Σ_{r' ≥ r} w_{r'} summed from the last
/// rank towards the first and Z = tail₀, rank r ≥ 1 is masked when tailᵣ / Z ≤ 1 − p. p = 1 leaves the row as it is.
/// </remarks>
public static class TopP
{
    /// <summary>Masks the tokens outside the nucleus of mass <paramref name="p"/>.</summary>
    /// <param name="keys">Scratch of at least the row's length.</param>
    /// <param name="tail">Scratch of at least the row's length.</param>
    public static void Apply(Span<float> logits, double p, Span<ulong> keys, Span<double> tail)
    {
        if (!(p > 0.0 && p <= 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "Top-p must lie in (0, 1].");
        }

        if (keys.Length < logits.Length || tail.Length < logits.Length)
        {
            throw new ArgumentException($"The scratch holds {Math.Min(keys.Length, tail.Length)} entries; the row has {logits.Length} tokens.", nameof(keys));
        }

        if (p >= 1.0)
        {
            return;
        }

        int candidates = TokenOrder.CollectCandidates(logits, keys);
        if (candidates <= 1)
        {
            return;
        }

        Span<ulong> ranked = keys[..candidates];
        ranked.Sort();
        double max = logits[TokenOrder.TokenOf(ranked[0])];
        double total = 0.0;
        for (int r = candidates - 1; r >= 0; r--)
        {
            total += Math.Exp(logits[TokenOrder.TokenOf(ranked[r])] - max);
            tail[r] = total;
        }

        double limit = 1.0 - p;
        for (int r = candidates - 1; r >= 1 && tail[r] / total <= limit; r--)
        {
            logits[TokenOrder.TokenOf(ranked[r])] = float.NegativeInfinity;
        }
    }
}
