using System.Text.Json;
using EdgeGuard.Generation.Logits;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.Generation;

/// <summary>
/// The shared golden of the logits chain (tests/fixtures/logits-processing/golden.json), written by the Python
/// reference: every case's processed first row and tokens must come out bit for bit, so seeded runs agree across sides.
/// </summary>
public sealed class LogitsGoldenTests
{
    private static readonly string GoldenPath = Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", "logits-processing", "golden.json");

    public static TheoryData<string> CaseNames()
    {
        var names = new TheoryData<string>();
        foreach (GoldenCase c in Load())
        {
            names.Add(c.Name);
        }

        return names;
    }

    [Fact]
    public void Golden_CoversEveryCombinerAndFilter()
    {
        var cases = Load();
        Assert.True(cases.Count >= 20);
        Assert.Contains(cases, c => c.Combiner is OffsetCombiner);
        Assert.Contains(cases, c => c.Combiner is ContrastiveCombiner { Beta: float.PositiveInfinity });
        Assert.Contains(cases, c => c.Combiner is ContrastiveCombiner { Beta: 0.5f });
        Assert.Contains(cases, c => c.Combiner is WeightedMixCombiner);
        Assert.Contains(cases, c => c.Settings.IsGreedy);
        Assert.Contains(cases, c => c.Settings is { TopK: not null, TopP: < 1.0, MinP: > 0.0, RepetitionPenalty: not 1f });
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Chain_GoldenCase_GivesThePythonTokensAndRow(string name)
    {
        GoldenCase c = Load().Single(x => x.Name == name);
        var chain = new LogitsChain(c.VocabularySize, c.Settings, c.Combiner);
        var history = new List<int>(c.History);
        var tokens = new List<int>();
        for (int step = 0; step < c.ExpectedTokens.Length; step++)
        {
            float[] primary = (float[])c.Rows[0].Clone();
            var partners = c.Rows.Skip(1).Select(r => (ReadOnlyMemory<float>)(float[])r.Clone()).ToArray();
            int token = chain.Next(primary, partners, history.ToArray());
            if (step == 0)
            {
                for (int v = 0; v < primary.Length; v++)
                {
                    Assert.True(
                        BitConverter.SingleToInt32Bits(primary[v]) == BitConverter.SingleToInt32Bits(c.ExpectedProcessed[v]),
                        $"{name}: token {v} processed to {primary[v]:R}, the reference {c.ExpectedProcessed[v]:R}");
                }
            }

            tokens.Add(token);
            history.Add(token);
        }

        Assert.Equal(c.ExpectedTokens, tokens);
    }

    private sealed record GoldenCase(
        string Name, int VocabularySize, float[][] Rows, LogitsCombiner? Combiner, SamplingSettings Settings,
        int[] History, float[] ExpectedProcessed, int[] ExpectedTokens);

    private static List<GoldenCase> Load()
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(GoldenPath));
        Assert.Equal("edgeguard-logits-golden/1", document.RootElement.GetProperty("format").GetString());
        return document.RootElement.GetProperty("cases").EnumerateArray().Select(ParseCase).ToList();
    }

    private static GoldenCase ParseCase(JsonElement c)
    {
        JsonElement s = c.GetProperty("settings");
        var settings = new SamplingSettings
        {
            RepetitionPenalty = (float)s.GetProperty("repetition_penalty").GetDouble(),
            Temperature = (float)s.GetProperty("temperature").GetDouble(),
            TopK = s.GetProperty("top_k").ValueKind == JsonValueKind.Null ? null : s.GetProperty("top_k").GetInt32(),
            TopP = s.GetProperty("top_p").GetDouble(),
            MinP = s.GetProperty("min_p").GetDouble(),
            Seed = s.GetProperty("seed").GetUInt64(),
        };
        return new GoldenCase(
            c.GetProperty("name").GetString()!,
            c.GetProperty("vocabulary_size").GetInt32(),
            c.GetProperty("rows").EnumerateArray().Select(Floats).ToArray(),
            ParseCombiner(c.GetProperty("combiner")),
            settings,
            c.GetProperty("history").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            Floats(c.GetProperty("expected_processed")),
            c.GetProperty("expected_tokens").EnumerateArray().Select(x => x.GetInt32()).ToArray());
    }

    private static LogitsCombiner? ParseCombiner(JsonElement spec)
    {
        if (spec.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return spec.GetProperty("kind").GetString() switch
        {
            "offset" => new OffsetCombiner((float)spec.GetProperty("alpha").GetDouble()),
            "contrastive" => new ContrastiveCombiner(
                spec.GetProperty("plausibility").GetDouble(),
                spec.GetProperty("beta").ValueKind == JsonValueKind.String ? float.PositiveInfinity : (float)spec.GetProperty("beta").GetDouble()),
            "mix" => new WeightedMixCombiner(Floats(spec.GetProperty("weights"))),
            string kind => throw new InvalidDataException($"Unknown combiner '{kind}' in {GoldenPath}."),
            null => throw new InvalidDataException($"A combiner without a kind in {GoldenPath}."),
        };
    }

    // As the reference reads them: a double, then rounded to float32; null is a masked token.
    private static float[] Floats(JsonElement array) =>
        array.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? float.NegativeInfinity : (float)x.GetDouble()).ToArray();
}
