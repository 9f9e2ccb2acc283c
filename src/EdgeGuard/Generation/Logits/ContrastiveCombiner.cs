namespace EdgeGuard.Generation.Logits;

/// <summary>
/// Contrastive decoding (Li et al., 2023) as UniDetox (Lu et al., 2025) uses it to distil detoxifying text: the
/// expert is the base model (primary, model 0), the amateur its toxic fine-tune (model 1).
/// </summary>
/// <remarks>
/// <para>
/// Plausibility mask: with <c>m = max_v ℓ_e,v</c>, every token whose expert logit satisfies
/// <c>ℓ_e,v &lt; log α + m</c> (compared in float64) becomes −∞. The expert's most likely tokens always pass.
/// </para>
/// <para>
/// Score of the other tokens, in float32 with the difference first: <c>s = ℓ_e + β·(ℓ_e − ℓ_a)</c>, which is
/// <c>(1 + β)·ℓ_e − β·ℓ_a</c> (O'Brien and Lewis's form, kept as a comment in UniDetox's code), and for
/// β = +∞ <c>s = ℓ_e − ℓ_a</c>: Li et al.'s difference of log-probabilities and the line UniDetox runs (its
/// distilled data is named <c>beta=inf</c>). It is the limit of the finite form divided by β, i.e. with temperature β.
/// β = 0 is the masked expert alone. Logits stand in for log-probabilities: each differs from its
/// log-softmax by one constant per row, which neither the mask nor the softmax of the difference sees.
/// </para>
/// <para>
/// With the amateur equal to the expert and β = +∞ the score is 0 on every plausible token: sampling is uniform
/// over the plausible set. Unlike UniDetox's code, each model keeps its own cache; that is the caller's part.
/// </para>
/// </remarks>
public sealed class ContrastiveCombiner : LogitsCombiner
{
    /// <summary>The plausibility threshold UniDetox and Li et al. use.</summary>
    public const double DefaultPlausibility = 0.1;

    /// <summary>A contrastive combiner.</summary>
    /// <param name="plausibility">α in [0, 1]: tokens less likely than α times the expert's best are masked (0 masks none).</param>
    /// <param name="beta">β ≥ 0, or <see cref="float.PositiveInfinity"/> for the plain difference UniDetox uses.</param>
    public ContrastiveCombiner(double plausibility = DefaultPlausibility, float beta = float.PositiveInfinity)
    {
        if (!(plausibility >= 0.0 && plausibility <= 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(plausibility), plausibility, "The plausibility threshold α must lie in [0, 1] (UniDetox uses 0.1).");
        }

        if (!(beta >= 0f))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "The contrast strength β must be 0 or more (+∞ for the plain difference ℓ_expert − ℓ_amateur).");
        }

        Plausibility = plausibility;
        Beta = beta;
    }

    /// <summary>The plausibility threshold α.</summary>
    public double Plausibility { get; }

    /// <summary>The contrast strength β (+∞: the plain difference).</summary>
    public float Beta { get; }

    /// <inheritdoc/>
    public override int PartnerCount => 1;

    /// <inheritdoc/>
    public override string RoleOf(int modelIndex) => modelIndex switch
    {
        0 => "expert (base)",
        1 => "amateur (toxic)",
        _ => $"model {modelIndex}",
    };

    /// <summary>Writes the masked contrastive scores over <paramref name="expert"/>; the rows must have one length and be free of NaN.</summary>
    public static void Apply(Span<float> expert, ReadOnlySpan<float> amateur, double plausibility, float beta)
    {
        if (amateur.Length != expert.Length)
        {
            throw new ArgumentException($"Contrastive rows differ in length (expert {expert.Length}, amateur {amateur.Length}): the models must share one vocabulary.");
        }

        if (expert.IsEmpty)
        {
            return;
        }

        float max = float.NegativeInfinity;
        foreach (float value in expert)
        {
            max = Math.Max(max, value);
        }

        double cutoff = Math.Log(plausibility) + max;
        bool plainDifference = float.IsPositiveInfinity(beta);
        for (int v = 0; v < expert.Length; v++)
        {
            float e = expert[v];
            if (e < cutoff)
            {
                expert[v] = float.NegativeInfinity;
                continue;
            }

            float difference = e - amateur[v];
            expert[v] = plainDifference ? difference : e + beta * difference;
        }
    }

    /// <inheritdoc/>
    protected override void CombineCore(Span<float> primary, ReadOnlySpan<ReadOnlyMemory<float>> partners) =>
        Apply(primary, partners[0].Span, Plausibility, Beta);
}
