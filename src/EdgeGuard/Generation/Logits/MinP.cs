namespace EdgeGuard.Generation.Logits;

/// <summary>
/// Min-p filtering (Nguyen et al.; Hugging Face's <c>MinPLogitsWarper</c>): a token whose probability is below
/// min-p times the most likely token's becomes −∞. Probabilities' ratio is exp(ℓ − m), so in float64 the test is
/// <c>ℓ − m &lt; log(min-p)</c> with m the largest logit; the most likely tokens always stay.
/// </summary>
public static class MinP
{
    /// <summary>Masks the tokens less likely than <paramref name="minP"/> times the most likely one.</summary>
    public static void Apply(Span<float> logits, double minP)
    {
        if (!(minP >= 0.0 && minP <= 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(minP), minP, "Min-p must lie in [0, 1].");
        }

        if (minP == 0.0 || logits.IsEmpty)
        {
            return;
        }

        float max = float.NegativeInfinity;
        foreach (float value in logits)
        {
            max = Math.Max(max, value);
        }

        if (float.IsNegativeInfinity(max))
        {
            return;
        }

        double logMinP = Math.Log(minP);
        for (int v = 0; v < logits.Length; v++)
        {
            if ((double)logits[v] - max < logMinP)
            {
                logits[v] = float.NegativeInfinity;
            }
        }
    }
}
