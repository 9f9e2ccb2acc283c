namespace EdgeGuard.Generation.Logits;

/// <summary>
/// Offset unlearning (δ-unlearning, Huang et al.): <c>ℓ = ℓ_B + α·(ℓ_S′ − ℓ_S₀)</c>, where B is the large model
/// (primary, model 0), S′ the small model fine-tuned to forget (model 1) and S₀ its frozen original (model 2).
/// </summary>
/// <remarks>
/// Each token is computed in float32 as <c>B + α·(S′ − S₀)</c> with the difference first and no fused multiply-add;
/// an offset of ±0 is not added, so with α = 0 or S′ identical to S₀ the row is B's bit for bit (−0 included).
/// </remarks>
public sealed class OffsetCombiner : LogitsCombiner
{
    /// <summary>An offset combiner of strength <paramref name="alpha"/> (any finite value; 1 is the paper's default).</summary>
    public OffsetCombiner(float alpha)
    {
        if (!float.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The offset strength α must be finite.");
        }

        Alpha = alpha;
    }

    /// <summary>The offset strength α.</summary>
    public float Alpha { get; }

    /// <inheritdoc/>
    public override int PartnerCount => 2;

    /// <inheritdoc/>
    public override string RoleOf(int modelIndex) => modelIndex switch
    {
        0 => "base B",
        1 => "unlearned offset model S′",
        2 => "original offset model S₀",
        _ => $"model {modelIndex}",
    };

    /// <summary><c>b[v] = b[v] + α·(sPrime[v] − s0[v])</c> for every token where the offset is not zero; the rows must have one length.</summary>
    public static void Apply(Span<float> b, ReadOnlySpan<float> sPrime, ReadOnlySpan<float> s0, float alpha)
    {
        if (sPrime.Length != b.Length || s0.Length != b.Length)
        {
            throw new ArgumentException($"Offset rows differ in length (B {b.Length}, S′ {sPrime.Length}, S₀ {s0.Length}): the models must share one vocabulary.");
        }

        for (int v = 0; v < b.Length; v++)
        {
            float offset = alpha * (sPrime[v] - s0[v]);

            // b + ±0 equals b except that −0 + +0 is +0; skipping a zero offset keeps B's bits exactly.
            if (offset != 0f)
            {
                b[v] += offset;
            }
        }
    }

    /// <inheritdoc/>
    protected override void CombineCore(Span<float> primary, ReadOnlySpan<ReadOnlyMemory<float>> partners) =>
        Apply(primary, partners[0].Span, partners[1].Span, Alpha);
}
