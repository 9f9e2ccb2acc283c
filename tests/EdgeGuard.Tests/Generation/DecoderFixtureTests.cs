using System.Text.Json;
using EdgeGuard.Diagnostics;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Models;

namespace EdgeGuard.Tests.Generation;

/// <summary>Every decoder fixture reproduced in float32; cached decoding against uncached; int8 against float32.</summary>
public sealed class DecoderFixtureTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string fixture in DecoderFixtures.Names)
        {
            using JsonDocument cases = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(DecoderFixtures.Path(fixture), "cases.json")));
            foreach (JsonElement c in cases.RootElement.EnumerateArray())
            {
                data.Add(fixture, c.GetProperty("name").GetString()!);
            }
        }

        return data;
    }

    public static TheoryData<string> Fixtures() => [.. DecoderFixtures.Names];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_Float32_MatchesTheReferenceAtEveryValidPositionAndItsGreedyTokens(string fixture, string caseName)
    {
        using DecoderGoldenFixture golden = DecoderGoldenFixture.Open(DecoderFixtures.Path(fixture), DecoderFixtures.Pool);
        DecoderCaseResult result = golden.RunCase(caseName);
        Assert.True(result.Passed(Tolerance), result.IsGreedy
            ? $"greedy tokens agree for {result.AgreeingTokens} of {result.ExpectedTokenCount}: [{string.Join(", ", result.GreedyTokens!)}]"
            : $"logits off by {result.MaxLogitDelta}");
    }

    [Fact]
    public void Run_WholeFixture_ReportsEveryCaseAndPasses()
    {
        DecoderFixtureReport report = DecoderGoldenFixture.Run(DecoderFixtures.Path("llama3-rope-long"), DecoderFixtures.Pool);
        Assert.Equal(5, report.Cases.Count);
        Assert.True(report.Passed(Tolerance), report.ToText());
        Assert.Equal(report.ExpectedTokens, report.AgreeingTokens);
        Assert.EndsWith("PASS at tolerance 1e-04", report.ToText());
    }

    [Fact]
    public void Report_ADifferingGreedyTokenFails()
    {
        var report = new DecoderFixtureReport("dir", ModelPrecision.Float32, [new DecoderCaseResult("g", 1, 3, 0, [1, 2, 9], 3, 2)]);
        Assert.False(report.Passed());
        Assert.Contains("2/3 agree  FAIL", report.ToText());
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void CachedDecoding_EqualsAllPositionsAtOnce(string fixture)
    {
        DecoderModel model = DecoderFixtures.Model(fixture);
        int vocabulary = model.VocabularySize;

        // Past one 64-token chunk where the context allows, so a prompt split over chunks is covered too.
        int length = Math.Min(model.MaxContextLength, 90);
        int[] tokens = [.. Enumerable.Range(0, length).Select(i => 3 + ((i * 37) % (vocabulary - 3)))];
        var all = new float[length * vocabulary];
        model.CreateSession().PrefillAllPositions(tokens, all);

        DecoderSession session = model.CreateSession();
        const int prompt = 5;
        AssertClose(all.AsSpan((prompt - 1) * vocabulary, vocabulary), session.Prefill(tokens.AsSpan(0, prompt)), "prefill");
        for (int i = prompt; i < length; i++)
        {
            AssertClose(all.AsSpan(i * vocabulary, vocabulary), session.Step(tokens[i]), $"step at position {i}");
        }

        Assert.Equal(length, session.Length);
    }

    [Fact]
    public void Reset_StartsANewConversationWithTheSameResults()
    {
        DecoderModel model = DecoderFixtures.Model("qwen2-gqa-bias-untied");
        DecoderSession session = model.CreateSession();
        float[] first = session.Prefill([5, 6, 7]).ToArray();
        session.Step(9);
        session.Reset();
        Assert.Equal(0, session.Length);
        Assert.Equal(first, session.Prefill([5, 6, 7]).ToArray());
    }

    [Fact]
    public void Int8_GreedyContinuationsAgreeWithFloat32OnMostPrompts()
    {
        // Measured on an AVX2 machine (7-bit weights, its preferred kernel): 63 of 80 prompts (79 %) continue identically
        // for 12 tokens, 819 of 960 tokens (85 %) on common prefixes. The fixtures' random weights give close logits, the
        // hardest case for quantisation; the floor leaves room for other CPUs' kernels.
        int prompts = 0, identical = 0, agreeing = 0, total = 0;
        foreach (string fixture in DecoderFixtures.Names)
        {
            DecoderModel float32 = DecoderFixtures.Model(fixture), int8 = DecoderFixtures.Model(fixture, ModelPrecision.Int8);
            Assert.Equal(ModelPrecision.Int8, int8.Precision);
            DecoderSession reference = float32.CreateSession(), quantized = int8.CreateSession();
            var random = new Random(fixture.Length);
            for (int p = 0; p < 10; p++)
            {
                int[] prompt = [.. Enumerable.Range(0, 1 + random.Next(8)).Select(_ => random.Next(3, float32.VocabularySize))];
                int[] expected = DecoderGoldenFixture.Greedy(reference, prompt, 12), actual = DecoderGoldenFixture.Greedy(quantized, prompt, 12);
                int common = 0;
                while (common < expected.Length && expected[common] == actual[common])
                {
                    common++;
                }

                prompts++;
                identical += common == expected.Length ? 1 : 0;
                agreeing += common;
                total += expected.Length;
            }
        }

        double share = (double)identical / prompts;
        Assert.True(share >= 0.6, $"int8 continuations equal float32 on {identical} of {prompts} prompts; {agreeing} of {total} tokens on common prefixes");
    }

    [Fact]
    public void Int8_PerplexityOfTextTheModelWritesStaysCloseToFloat32()
    {
        // Text each float32 model samples itself (temperature 1, seeded), scored by both engines: random weights make
        // random text meaningless to a model, its own text is what it predicts well. Measured on an AVX2 machine: changes
        // from −0.1 % to +1.3 % over the eight fixtures (perplexities 2.0 to 173).
        var changes = new List<string>();
        double worst = 0;
        foreach (string fixture in DecoderFixtures.Names)
        {
            DecoderModel float32 = DecoderFixtures.Model(fixture);
            int[] text = Sample(float32, [3, 4, 5, 6], Math.Min(60, float32.MaxContextLength - 4), seed: fixture.Length);
            double reference = Perplexity(float32, text), int8 = Perplexity(DecoderFixtures.Model(fixture, ModelPrecision.Int8), text);
            double change = (int8 / reference) - 1;
            worst = Math.Max(worst, Math.Abs(change));
            changes.Add($"{fixture}: {reference:F3} → {int8:F3} ({change:+0.0%;-0.0%})");
        }

        Assert.True(worst <= 0.05, string.Join("; ", changes));
    }

    private static int[] Sample(DecoderModel model, int[] prompt, int count, int seed)
    {
        var random = new Random(seed);
        var text = new List<int>(prompt);
        DecoderSession session = model.CreateSession();
        ReadOnlySpan<float> logits = session.Prefill(prompt);
        for (int i = 0; i < count; i++)
        {
            float max = float.NegativeInfinity;
            foreach (float v in logits)
            {
                max = Math.Max(max, v);
            }

            double total = 0;
            foreach (float v in logits)
            {
                total += Math.Exp(v - max);
            }

            double target = random.NextDouble() * total, cumulative = 0;
            int token = logits.Length - 1;
            for (int v = 0; v < logits.Length; v++)
            {
                cumulative += Math.Exp(logits[v] - max);
                if (cumulative >= target)
                {
                    token = v;
                    break;
                }
            }

            text.Add(token);
            if (i + 1 < count)
            {
                logits = session.Step(token);
            }
        }

        return [.. text];
    }

    /// <summary>exp of the mean negative log-likelihood of each token after the first.</summary>
    private static double Perplexity(DecoderModel model, int[] text)
    {
        int vocabulary = model.VocabularySize;
        var logits = new float[text.Length * vocabulary];
        model.CreateSession().PrefillAllPositions(text, logits);
        double nll = 0;
        for (int i = 0; i + 1 < text.Length; i++)
        {
            ReadOnlySpan<float> row = logits.AsSpan(i * vocabulary, vocabulary);
            double max = row.ToArray().Max(), sum = 0;
            foreach (float v in row)
            {
                sum += Math.Exp(v - max);
            }

            nll -= row[text[i + 1]] - max - Math.Log(sum);
        }

        return Math.Exp(nll / (text.Length - 1));
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f, $"{where}, logit {i}: {actual[i]} vs {expected[i]}");
        }
    }
}
