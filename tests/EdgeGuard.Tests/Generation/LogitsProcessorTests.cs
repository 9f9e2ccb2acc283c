using EdgeGuard.Generation.Logits;

namespace EdgeGuard.Tests.Generation;

/// <summary>Each processor of the chain against values computed by hand.</summary>
public sealed class LogitsProcessorTests
{
    private const float NegInf = float.NegativeInfinity;

    [Fact]
    public void SplitMix64_Seed1234567_GivesThePublishedSequence()
    {
        var random = new SplitMix64(1234567);
        Assert.Equal(6457827717110365317UL, random.NextUInt64());
        Assert.Equal(3203168211198807973UL, random.NextUInt64());
        Assert.Equal(9817491932198370423UL, random.NextUInt64());
    }

    [Fact]
    public void SplitMix64_NextDouble_IsTheTop53BitsScaled()
    {
        var a = new SplitMix64(99);
        var b = new SplitMix64(99);
        Assert.Equal((b.NextUInt64() >> 11) / 9007199254740992.0, a.NextDouble());
        Assert.Equal(b.State, a.State);
    }

    [Fact]
    public void Offset_AddsAlphaTimesTheDifference()
    {
        float[] b = [1f, 2f, 3f];
        OffsetCombiner.Apply(b, [0.5f, 0f, -1f], [0f, 1f, 1f], 2f);
        Assert.Equal([2f, 0f, -1f], b);
    }

    [Fact]
    public void Contrastive_MasksImplausibleTokensAndSubtractsTheAmateur()
    {
        // log 0.1 + 2 = −0.3026: token 2 (−1) is implausible, token 1 (−0.3) just plausible.
        float[] expert = [2f, -0.3f, -1f, 1f];
        float[] amateur = [1f, 0.5f, -5f, 3f];
        ContrastiveCombiner.Apply(expert, amateur, 0.1, float.PositiveInfinity);
        Assert.Equal([1f, -0.3f - 0.5f, NegInf, -2f], expert);

        expert = [2f, -0.3f, -1f, 1f];
        ContrastiveCombiner.Apply(expert, amateur, 0.1, 0.5f); // ℓe + β(ℓe − ℓa)
        Assert.Equal([2.5f, -0.3f + 0.5f * (-0.3f - 0.5f), NegInf, 0f], expert);
    }

    [Fact]
    public void Contrastive_BetaZero_IsTheMaskedExpert()
    {
        float[] expert = [2f, -0.3f, -1f, 1f];
        ContrastiveCombiner.Apply(expert, [9f, 9f, 9f, 9f], 0.1, 0f);
        Assert.Equal([2f, -0.3f, NegInf, 1f], expert);
    }

    [Fact]
    public void Contrastive_PlausibilityZero_MasksNothingAndOneKeepsOnlyTheBest()
    {
        float[] expert = [2f, -30f, 2f];
        ContrastiveCombiner.Apply(expert, [0f, 0f, 1f], 0.0, float.PositiveInfinity);
        Assert.Equal([2f, -30f, 1f], expert);
        expert = [2f, 1.9999f, 2f];
        ContrastiveCombiner.Apply(expert, [0f, 0f, 1f], 1.0, float.PositiveInfinity);
        Assert.Equal([2f, NegInf, 1f], expert);
    }

    [Fact]
    public void WeightedMix_AccumulatesInModelOrder()
    {
        var mix = new WeightedMixCombiner([0.5f, 0.25f, -1f]);
        float[] primary = [1f, -2f];
        mix.Combine(primary, new ReadOnlyMemory<float>[] { new float[] { 4f, 4f }, new float[] { 0f, 10f } });
        Assert.Equal([1.5f, -10f], primary);
    }

    [Fact]
    public void RepetitionPenalty_DividesPositiveMultipliesNegative_OncePerDistinctToken()
    {
        float[] logits = [2f, -2f, 0f, 3f, NegInf];
        var seen = new ulong[RepetitionPenalty.ScratchLength(logits.Length)];
        RepetitionPenalty.Apply(logits, [0, 1, 1, 2, 0, 4], 2f, seen);
        Assert.Equal([1f, -4f, 0f, 3f, NegInf], logits);
        Assert.All(seen, word => Assert.Equal(0UL, word));
    }

    [Fact]
    public void RepetitionPenalty_TokenOutsideTheVocabulary_IsRefusedBeforeAnyChange()
    {
        float[] logits = [2f, -2f];
        var seen = new ulong[1];
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => RepetitionPenalty.Apply(logits, [0, 2], 2f, seen));
        Assert.Contains("position 1", error.Message);
        Assert.Equal([2f, -2f], logits);
    }

    [Fact]
    public void Temperature_DividesEveryLogit()
    {
        float[] logits = [1f, -3f, NegInf];
        Temperature.Apply(logits, 0.5f);
        Assert.Equal([2f, -6f, NegInf], logits);
        Assert.Throws<ArgumentOutOfRangeException>(() => Temperature.Apply(logits, 0f));
    }

    [Fact]
    public void TopK_KeepsTheKBestAndTiesWithTheKth()
    {
        float[] logits = [1f, 3f, 2f, 2f, 0.5f];
        TopK.Apply(logits, 2, new ulong[5]);
        Assert.Equal([NegInf, 3f, 2f, 2f, NegInf], logits);
    }

    [Fact]
    public void TopK_KAtLeastTheCandidates_ChangesNothing()
    {
        float[] logits = [1f, NegInf, 2f];
        TopK.Apply(logits, 2, new ulong[3]);
        Assert.Equal([1f, NegInf, 2f], logits);
    }

    [Fact]
    public void TopK_OnLargeRandomRows_EqualsTheThresholdOfAFullSort()
    {
        var random = new Random(17);
        foreach (int size in new[] { 1, 2, 3, 10, 257, 5000 })
        {
            foreach (int k in new[] { 1, 2, size / 2 + 1, size - 1, size + 3 }.Where(k => k >= 1))
            {
                // Quantised values make many ties, the case a selection most easily gets wrong.
                float[] logits = Enumerable.Range(0, size).Select(_ => MathF.Round((float)random.NextDouble() * 40f) / 4f).ToArray();
                float threshold = k >= size ? float.MinValue : logits.OrderByDescending(x => x).ElementAt(k - 1);
                float[] expected = logits.Select(x => x < threshold ? NegInf : x).ToArray();
                TopK.Apply(logits, k, new ulong[size]);
                Assert.Equal(expected, logits);
            }
        }
    }

    [Fact]
    public void TopP_FollowsTheHuggingFaceRule()
    {
        // Probabilities 0.5, 0.3, 0.2: with p = 0.7 the tail 0.2 ≤ 0.3 goes and 0.3 (tail 0.5 > 0.3) stays.
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.2f)];
        TopP.Apply(logits, 0.7, new ulong[3], new double[3]);
        Assert.Equal([MathF.Log(0.5f), MathF.Log(0.3f), NegInf], logits);

        logits = [MathF.Log(0.2f), MathF.Log(0.3f), MathF.Log(0.5f)];
        TopP.Apply(logits, 0.01, new ulong[3], new double[3]);
        Assert.Equal([NegInf, NegInf, MathF.Log(0.5f)], logits);
    }

    [Fact]
    public void TopP_TailExactlyOneMinusP_IsMasked()
    {
        // Eight equal tokens (shares of 1/8, exact): with p = 0.75 the last two ranks carry exactly 0.25 ≤ 1 − p.
        float[] logits = new float[8];
        TopP.Apply(logits, 0.75, new ulong[8], new double[8]);
        Assert.Equal([0f, 0f, 0f, 0f, 0f, 0f, NegInf, NegInf], logits);
    }

    [Fact]
    public void TopP_TiedBestTokens_KeepTheLowestId()
    {
        float[] logits = [0f, 5f, 5f, 5f];
        TopP.Apply(logits, 0.1, new ulong[4], new double[4]);
        Assert.Equal([NegInf, 5f, NegInf, NegInf], logits);
    }

    [Fact]
    public void MinP_DropsTokensBelowTheScaledBest()
    {
        float[] logits = [MathF.Log(0.6f), MathF.Log(0.3f), MathF.Log(0.05f), MathF.Log(0.05f)];
        MinP.Apply(logits, 0.1); // keeps p ≥ 0.06
        Assert.Equal([MathF.Log(0.6f), MathF.Log(0.3f), NegInf, NegInf], logits);

        // Only probabilities strictly below the bound go: with min-p 1 the tied best tokens all stay.
        logits = [2f, 1f, 2f];
        MinP.Apply(logits, 1.0);
        Assert.Equal([2f, NegInf, 2f], logits);
    }

    [Fact]
    public void Greedy_PicksTheLowestIdAmongTies()
    {
        Assert.Equal(1, TokenSelector.Greedy([1f, 5f, 5f, -1f]));
        Assert.Equal(2, TokenSelector.Greedy([NegInf, NegInf, -7f]));
    }

    [Fact]
    public void Sample_InvertsTheCdfInTokenOrder()
    {
        float[] logits = [MathF.Log(0.25f), MathF.Log(0.25f), MathF.Log(0.5f)];
        var weights = new double[3];
        Assert.Equal(
            [0, 0, 1, 2, 2],
            new[] { 0.0, 0.2499, 0.26, 0.51, 0.999 }.Select(u => TokenSelector.Sample(logits, u, weights)).ToArray());
        Assert.Equal(1, TokenSelector.Sample([NegInf, 0f, NegInf], 0.99, weights));

        // Equal weights are exact: u = 0.25 puts the target on token 0's upper edge, which belongs to token 1.
        Assert.Equal(0, TokenSelector.Sample([0f, 0f, 0f, 0f], 0.0, new double[4]));
        Assert.Equal(1, TokenSelector.Sample([0f, 0f, 0f, 0f], 0.25, new double[4]));
    }

    [Fact]
    public void Selectors_RefuseRowsWithNothingToSelect()
    {
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => TokenSelector.Greedy([])).Message);
        Assert.Contains("masked", Assert.Throws<ArgumentException>(() => TokenSelector.Greedy([NegInf, NegInf])).Message);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => TokenSelector.Greedy([1f, float.NaN])).Message);
        Assert.Contains("overflowed", Assert.Throws<ArgumentException>(() => TokenSelector.Sample([1f, float.PositiveInfinity], 0.5, new double[2])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenSelector.Sample([1f], 1.0, new double[1]));
    }
}
