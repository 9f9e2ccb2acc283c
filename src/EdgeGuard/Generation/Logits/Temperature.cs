namespace EdgeGuard.Generation.Logits;

/// <summary>Temperature scaling: every logit divided by T in float32 (T = 1 leaves the row bit for bit).</summary>
public static class Temperature
{
    /// <summary>Divides <paramref name="logits"/> by <paramref name="temperature"/>, which must be positive and finite.</summary>
    public static void Apply(Span<float> logits, float temperature)
    {
        if (!(temperature > 0f) || !float.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "A temperature to divide by must be positive and finite (the chain reads 0 as greedy).");
        }

        for (int v = 0; v < logits.Length; v++)
        {
            logits[v] /= temperature;
        }
    }
}
