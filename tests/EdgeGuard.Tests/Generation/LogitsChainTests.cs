using EdgeGuard.Generation.Logits;

namespace EdgeGuard.Tests.Generation;

/// <summary>The composed chain: combiners' guarantees, determinism, validation, and no allocation per token.</summary>
public sealed class LogitsChainTests
{
    private const float NegInf = float.NegativeInfinity;

    [Fact]
    public void Offset_AlphaZeroOrEqualPartners_IsTheBaseBitForBit()
    {
        var random = new Random(5);
        float[] b = RandomRow(random, 257, 40f);
        b[0] = -0f;
        b[1] = 0f;
        b[2] = float.Epsilon;
        b[3] = -3e38f;
        float[] sPrime = RandomRow(random, 257, 40f);
        float[] s0 = RandomRow(random, 257, 40f);

        float[] row = (float[])b.Clone();
        new LogitsChain(257, SamplingSettings.Greedy, new OffsetCombiner(0f)).Process(row, [sPrime, s0], []);
        Assert.Equal(Bits(b), Bits(row));

        row = (float[])b.Clone();
        new LogitsChain(257, SamplingSettings.Greedy, new OffsetCombiner(1.7f)).Process(row, [sPrime, (float[])sPrime.Clone()], []);
        Assert.Equal(Bits(b), Bits(row));
    }

    [Fact]
    public void Offset_AlphaZero_SamplesTheBaseModelsTokens()
    {
        var random = new Random(6);
        float[] b = RandomRow(random, 64, 1f);
        var settings = new SamplingSettings { Seed = 11, TopP = 0.9, Temperature = 0.8f };
        var alone = new LogitsChain(64, settings);
        var offset = new LogitsChain(64, settings, new OffsetCombiner(0f));
        for (int step = 0; step < 50; step++)
        {
            Assert.Equal(
                alone.Next((float[])b.Clone(), []),
                offset.Next((float[])b.Clone(), [RandomRow(random, 64, 5f), RandomRow(random, 64, 5f)], []));
        }
    }

    [Fact]
    public void Contrastive_AmateurEqualToExpert_IsUniformOverThePlausibleSet()
    {
        var random = new Random(8);
        float[] expert = RandomRow(random, 500, 0.8f);
        float max = expert.Max();
        bool[] plausible = expert.Select(x => x >= Math.Log(0.1) + max).ToArray();
        int plausibleCount = plausible.Count(p => p);
        Assert.InRange(plausibleCount, 2, 499);

        float[] row = (float[])expert.Clone();
        var chain = new LogitsChain(500, new SamplingSettings { Seed = 3 }, new ContrastiveCombiner());
        chain.Process(row, [(float[])expert.Clone()], []);
        for (int v = 0; v < row.Length; v++)
        {
            Assert.Equal(plausible[v] ? 0f : NegInf, row[v]);
        }

        // Equal scores make the softmax exactly uniform: every plausible token is drawn, no other ever.
        var counts = new int[500];
        for (int i = 0; i < 40 * plausibleCount; i++)
        {
            counts[chain.Next((float[])expert.Clone(), [(float[])expert.Clone()], [])]++;
        }

        for (int v = 0; v < 500; v++)
        {
            if (plausible[v])
            {
                Assert.InRange(counts[v], 10, 90);
            }
            else
            {
                Assert.Equal(0, counts[v]);
            }
        }
    }

    [Fact]
    public void Next_SameSeed_RepeatsAndAnotherSeedDiffers()
    {
        float[] logits = RandomRow(new Random(3), 64, 1f);
        int[] Run(ulong seed)
        {
            var chain = new LogitsChain(64, new SamplingSettings { Seed = seed, TopP = 0.95, RepetitionPenalty = 1.1f });
            var history = new List<int>();
            for (int i = 0; i < 30; i++)
            {
                history.Add(chain.Next((float[])logits.Clone(), history.ToArray()));
            }

            return history.ToArray();
        }

        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
    }

    [Fact]
    public void Next_Sampling_ConsumesOneDrawPerToken_GreedyNone()
    {
        float[] logits = [0f, 1f, 2f];
        var sampling = new LogitsChain(3, new SamplingSettings { Seed = 42 });
        var reference = new SplitMix64(42);
        sampling.Next((float[])logits.Clone(), []);
        reference.NextUInt64();
        Assert.Equal(reference.State, sampling.GeneratorState);

        var greedy = new LogitsChain(3, SamplingSettings.Greedy with { Seed = 42 });
        greedy.Next((float[])logits.Clone(), []);
        Assert.Equal(42UL, greedy.GeneratorState);
    }

    [Fact]
    public void TemperatureZero_IsGreedyWhateverTheFilters()
    {
        var chain = new LogitsChain(4, new SamplingSettings { Temperature = 0f, TopK = 1, TopP = 0.1, MinP = 0.9, Seed = 1 });
        Assert.Equal(1, chain.Next([0f, 2f, 2f, 1f], []));
    }

    [Fact]
    public void Next_GroupWhoseVocabulariesDiffer_IsRefusedNamingTheModel()
    {
        var chain = new LogitsChain(3, new SamplingSettings(), new OffsetCombiner(1f));
        float[] b = [1f, 2f, 3f];
        var error = Assert.Throws<ArgumentException>(() => chain.Next(b, [new float[] { 1f, 2f, 3f }, new float[] { 1f, 2f }], []));
        Assert.Contains("Model 2 (original offset model S₀) gave 2 logits", error.Message);
        Assert.Contains("share one vocabulary", error.Message);
        Assert.Contains("Model 0 (base B) gave 4 logits but this chain was made for a vocabulary of 3", Assert.Throws<ArgumentException>(() => chain.Next(new float[4], [new float[4], new float[4]], [])).Message);
        Assert.Throws<ArgumentException>(() => chain.Next(b, [new float[3]], []));
        Assert.Equal([1f, 2f, 3f], b);
    }

    [Fact]
    public void ModelGroupVocabulary_DifferentSizes_AreRefusedNamingBothModels()
    {
        ModelGroupVocabulary.RequireShared(["B", "S'", "S0"], [49152, 49152, 49152]);
        var error = Assert.Throws<ArgumentException>(() => ModelGroupVocabulary.RequireShared(["qwen-7b", "qwen-0.5b"], [152064, 151936]));
        Assert.Contains("'qwen-0.5b' has a vocabulary of 151936 tokens but 'qwen-7b' has 152064", error.Message);
        Assert.Throws<ArgumentException>(() => ModelGroupVocabulary.RequireShared(["empty"], [0]));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Next_NonFiniteModelLogit_IsRefusedBeforeAnyChange(float bad)
    {
        var chain = new LogitsChain(3, new SamplingSettings(), new ContrastiveCombiner());
        float[] expert = [1f, 2f, 3f];
        var error = Assert.Throws<ArgumentException>(() => chain.Next(expert, [new float[] { 0f, bad, 0f }], []));
        Assert.Contains("Model 1 (amateur (toxic)) gave the logit", error.Message);
        Assert.Contains("token 1", error.Message);
        Assert.Equal([1f, 2f, 3f], expert);
    }

    [Fact]
    public void Next_HistoryTokenOutsideTheVocabulary_IsRefusedBeforeAnyChange()
    {
        var chain = new LogitsChain(3, new SamplingSettings { RepetitionPenalty = 2f }, new OffsetCombiner(1f));
        float[] b = [1f, 2f, 3f];
        Assert.Throws<ArgumentOutOfRangeException>(() => chain.Next(b, [new float[] { 1f, 1f, 1f }, new float[3]], [0, -1]));
        Assert.Equal([1f, 2f, 3f], b);
    }

    [Fact]
    public void Next_TemperatureThatOverflows_IsReportedNotSampled()
    {
        var chain = new LogitsChain(2, new SamplingSettings { Temperature = 1e-38f });
        var error = Assert.Throws<ArgumentException>(() => chain.Next([100f, 1f], []));
        Assert.Contains("overflowed float32", error.Message);
    }

    [Fact]
    public void Next_CombinerThatOverflows_IsReported()
    {
        var chain = new LogitsChain(2, new SamplingSettings(), new WeightedMixCombiner([1f, 1f]));
        var error = Assert.Throws<ArgumentException>(() => chain.Next([3e38f, 0f], [new float[] { 3e38f, 0f }], []));
        Assert.Contains("after the combiner", error.Message);
    }

    public static TheoryData<SamplingSettings, string> BadSettings() => new()
    {
        { new SamplingSettings { Temperature = -1f }, "Temperature" },
        { new SamplingSettings { Temperature = float.PositiveInfinity }, "Temperature" },
        { new SamplingSettings { Temperature = float.NaN }, "Temperature" },
        { new SamplingSettings { TopK = 0 }, "TopK" },
        { new SamplingSettings { TopK = -3 }, "TopK" },
        { new SamplingSettings { TopP = 0 }, "TopP" },
        { new SamplingSettings { TopP = 1.5 }, "TopP" },
        { new SamplingSettings { TopP = double.NaN }, "TopP" },
        { new SamplingSettings { MinP = -0.1 }, "MinP" },
        { new SamplingSettings { MinP = 1.01 }, "MinP" },
        { new SamplingSettings { RepetitionPenalty = 0f }, "RepetitionPenalty" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void Chain_SettingOutOfRange_IsRefusedNamingIt(SamplingSettings settings, string name)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new LogitsChain(8, settings));
        Assert.Equal(name, error.ParamName);
    }

    [Fact]
    public void Combiners_ParametersOutOfRange_AreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new OffsetCombiner(float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ContrastiveCombiner(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ContrastiveCombiner(0.1, -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ContrastiveCombiner(0.1, float.NaN));
        Assert.Throws<ArgumentException>(() => new WeightedMixCombiner([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightedMixCombiner([1f, float.PositiveInfinity]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogitsChain(0, new SamplingSettings()));
    }

    [Fact]
    public void Next_EveryProcessorOn_AllocatesNothingPerToken()
    {
        const int Vocabulary = 4096;
        var random = new Random(9);
        float[] expert = RandomRow(random, Vocabulary, 1f);
        float[] amateur = RandomRow(random, Vocabulary, 1f);
        ReadOnlyMemory<float>[] partners = [amateur];
        int[] history = Enumerable.Range(0, 64).Select(i => i * 37 % Vocabulary).ToArray();
        float[] row = new float[Vocabulary];
        var chain = new LogitsChain(
            Vocabulary,
            new SamplingSettings { RepetitionPenalty = 1.2f, Temperature = 0.9f, TopK = 200, TopP = 0.9, MinP = 0.01, Seed = 5 },
            new ContrastiveCombiner());
        expert.CopyTo(row, 0);
        chain.Next(row, partners, history);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int step = 0; step < 20; step++)
        {
            expert.CopyTo(row, 0);
            chain.Next(row, partners, history);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static float[] RandomRow(Random random, int size, float scale)
    {
        var row = new float[size];
        for (int i = 0; i < size; i++)
        {
            // Box–Muller: normal enough for logits, and reproducible from the seed.
            double u = 1.0 - random.NextDouble();
            row[i] = (float)(scale * Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2.0 * Math.PI * random.NextDouble()));
        }

        return row;
    }

    private static int[] Bits(float[] row) => row.Select(BitConverter.SingleToInt32Bits).ToArray();
}
