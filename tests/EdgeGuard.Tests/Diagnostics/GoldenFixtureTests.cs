using System.Text.Json;
using EdgeGuard.Diagnostics;
using EdgeGuard.Testing;
using EdgeGuard.Tests.Models;

namespace EdgeGuard.Tests.Diagnostics;

public sealed class GoldenFixtureTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string fixture in new[] { SharedModels.Tiny, SharedModels.Xsmall })
        {
            using JsonDocument cases = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepoPaths.Fixture(fixture), "cases.json")));
            foreach (JsonElement c in cases.RootElement.EnumerateArray())
            {
                data.Add(fixture, c.GetProperty("name").GetString()!);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_MatchesReferenceLogitsPooledOutputAndHiddenStates(string fixture, string caseName)
    {
        GoldenCaseResult result = SharedModels.Fixture(fixture).RunCase(caseName);
        Assert.True(result.MaxLogitDelta <= Tolerance, $"logits off by {result.MaxLogitDelta}");
        Assert.True(result.MaxPooledDelta <= Tolerance, $"pooled output off by {result.MaxPooledDelta}");
        Assert.True(result.MaxHiddenDelta <= Tolerance, $"hidden states off by {result.MaxHiddenDelta}");
        Assert.True((result.OriginalRuleLogitDelta ?? 0) <= Tolerance, $"original-rule logits off by {result.OriginalRuleLogitDelta}");
    }
}
