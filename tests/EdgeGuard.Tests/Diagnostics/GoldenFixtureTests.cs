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

    [Theory]
    [InlineData(SharedModels.Tiny, 9)]
    [InlineData(SharedModels.Xsmall, 9)]
    public void Run_WholeFixture_PassesAndReportsEveryCase(string fixture, int cases)
    {
        GoldenFixtureReport report = GoldenFixture.Run(RepoPaths.Fixture(fixture), SharedModels.Pool);
        Assert.Equal(cases, report.Cases.Count);
        Assert.True(report.Passed(Tolerance), report.ToText());
        Assert.Contains(report.Cases, c => c.ComparedWithHfBucketRule && c.OriginalRuleLogitDelta is not null);
        Assert.EndsWith("PASS at tolerance 1e-04", report.ToText());
    }

    [Fact]
    public void Passed_DeltaAboveTolerance_Fails()
    {
        var bad = new GoldenCaseResult("x", 1, 4, 2e-4, 0, 0, false, null);
        var report = new GoldenFixtureReport("dir", [bad]);
        Assert.False(report.Passed());
        Assert.True(report.Passed(1e-3));
        Assert.Contains("FAIL", report.ToText());
    }

    [Fact]
    public void Open_NotAFixture_ThrowsModelFileException()
    {
        Assert.Throws<EdgeGuard.ModelFiles.ModelFileException>(() => GoldenFixture.Open(Path.Combine(Path.GetTempPath(), "edgeguard-no-fixture-" + Guid.NewGuid().ToString("N")), SharedModels.Pool));
    }
}
