namespace EdgeGuard.Generation.Logits;

/// <summary>
/// A general weighted mix of the group's logits, <c>ℓ = Σᵢ wᵢ·ℓᵢ</c> (ensembles, interpolation, a hand-written
/// offset). Computed per token in float32 in model order: <c>acc = w₀·ℓ₀</c>, then <c>acc = acc + wᵢ·ℓᵢ</c>.
/// </summary>
public sealed class WeightedMixCombiner : LogitsCombiner
{
    private readonly float[] _weights;

    /// <summary>A mix with one finite weight per model, the primary's first.</summary>
    public WeightedMixCombiner(ReadOnlySpan<float> weights)
    {
        if (weights.IsEmpty)
        {
            throw new ArgumentException("A weighted mix needs one weight per model, the primary's first.", nameof(weights));
        }

        for (int i = 0; i < weights.Length; i++)
        {
            if (!float.IsFinite(weights[i]))
            {
                throw new ArgumentOutOfRangeException(nameof(weights), weights[i], $"Weight {i} of the mix is not finite.");
            }
        }

        _weights = weights.ToArray();
    }

    /// <summary>The weights, the primary's first.</summary>
    public ReadOnlySpan<float> Weights => _weights;

    /// <inheritdoc/>
    public override int PartnerCount => _weights.Length - 1;

    /// <inheritdoc/>
    public override string RoleOf(int modelIndex) => $"mix member {modelIndex}";

    /// <inheritdoc/>
    protected override void CombineCore(Span<float> primary, ReadOnlySpan<ReadOnlyMemory<float>> partners)
    {
        float w0 = _weights[0];
        for (int v = 0; v < primary.Length; v++)
        {
            primary[v] = w0 * primary[v];
        }

        for (int i = 0; i < partners.Length; i++)
        {
            float w = _weights[i + 1];
            ReadOnlySpan<float> row = partners[i].Span;
            for (int v = 0; v < primary.Length; v++)
            {
                primary[v] += w * row[v];
            }
        }
    }
}
