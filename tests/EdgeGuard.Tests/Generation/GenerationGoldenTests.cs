using System.Text.Json;
using EdgeGuard.Generation;
using EdgeGuard.Generation.Logits;

namespace EdgeGuard.Tests.Generation;

/// <summary>
/// The generation golden (tests/fixtures/generation/golden.json), written by the Python reference
/// (<c>edgeguard_train.generation</c>): single models, offset and contrastive groups with seeded sampling must give the
/// reference's tokens and finish reason exactly.
/// </summary>
public sealed class GenerationGoldenTests
{
    private static readonly string GoldenPath = Path.Combine(GenerationFixtures.FixturesRoot, "generation", "golden.json");

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
    public void Golden_CoversOffsetContrastSamplingStopsAndAFullContext()
    {
        var cases = Load();
        Assert.Contains(cases, c => c.Combiner is OffsetCombiner && !c.Settings.IsGreedy);
        Assert.Contains(cases, c => c.Combiner is OffsetCombiner && c.Settings.IsGreedy);
        Assert.Contains(cases, c => c.Combiner is ContrastiveCombiner { Beta: float.PositiveInfinity } && c.Settings.TopK == 50);
        Assert.Contains(cases, c => c.Combiner is ContrastiveCombiner { Beta: 0.5f });
        Assert.Contains(cases, c => c.FinishReason == "stop");
        Assert.Contains(cases, c => c.FinishReason == "length" && c.ExpectedTokens.Length < c.MaxNewTokens);
        Assert.Contains(cases, c => c.Settings is { TopK: not null, TopP: < 1.0, MinP: > 0.0, RepetitionPenalty: not 1f });
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Generator_GoldenCase_GivesThePythonTokensAndFinishReason(string name)
    {
        GoldenCase c = Load().Single(x => x.Name == name);
        var members = c.Models.Select(GenerationFixtures.TokenModel).ToArray();
        var group = new ModelGroup(members, c.Combiner);
        var options = new GenerationOptions { Sampling = c.Settings, MaxNewTokens = c.MaxNewTokens, StopTokenIds = c.StopTokenIds };
        GenerationResult result = new Generator(group, options).Generate(c.Prompt);
        Assert.Equal(c.ExpectedTokens, result.TokenIds);
        Assert.Equal(c.FinishReason, result.FinishReasonName);
    }

    private sealed record GoldenCase(
        string Name, string[] Models, LogitsCombiner? Combiner, SamplingSettings Settings, int[] Prompt, int MaxNewTokens,
        int[] StopTokenIds, int[] ExpectedTokens, string FinishReason);

    private static List<GoldenCase> Load()
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(GoldenPath));
        Assert.Equal("edgeguard-generation-golden/1", document.RootElement.GetProperty("format").GetString());
        return document.RootElement.GetProperty("cases").EnumerateArray().Select(ParseCase).ToList();
    }

    private static GoldenCase ParseCase(JsonElement c)
    {
        JsonElement s = c.GetProperty("settings");
        var settings = new SamplingSettings
        {
            RepetitionPenalty = s.GetProperty("repetition_penalty").GetSingle(),
            Temperature = s.GetProperty("temperature").GetSingle(),
            TopK = s.GetProperty("top_k").ValueKind == JsonValueKind.Null ? null : s.GetProperty("top_k").GetInt32(),
            TopP = s.GetProperty("top_p").GetDouble(),
            MinP = s.GetProperty("min_p").GetDouble(),
            Seed = s.GetProperty("seed").GetUInt64(),
        };
        LogitsCombiner? combiner = null;
        if (c.GetProperty("combiner") is { ValueKind: JsonValueKind.Object } spec)
        {
            combiner = spec.GetProperty("kind").GetString() switch
            {
                "offset" => new OffsetCombiner(spec.GetProperty("alpha").GetSingle()),
                "contrastive" => new ContrastiveCombiner(
                    spec.GetProperty("plausibility").GetDouble(),
                    spec.GetProperty("beta").ValueKind == JsonValueKind.String ? float.PositiveInfinity : spec.GetProperty("beta").GetSingle()),
                string kind => throw new InvalidDataException($"unknown combiner {kind}"),
                null => throw new InvalidDataException("combiner without kind"),
            };
        }

        static int[] Ints(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetInt32())];
        return new GoldenCase(
            c.GetProperty("name").GetString()!,
            [.. c.GetProperty("models").EnumerateArray().Select(m => m.GetString()!)],
            combiner,
            settings,
            Ints(c.GetProperty("prompt")),
            c.GetProperty("max_new_tokens").GetInt32(),
            Ints(c.GetProperty("stop_token_ids")),
            Ints(c.GetProperty("expected_tokens")),
            c.GetProperty("finish_reason").GetString()!);
    }
}
