namespace EdgeGuard.Compare.Tests;

public sealed class ReportTests
{
    private static readonly Cell Reference = TargetCheck.ReferenceCell("base");

    private static CompareResults Results(IReadOnlyList<ChildRun> runs, CompareSettings? settings = null, double loadAtStart = 0.1)
    {
        settings ??= Runs.Settings();
        var machine = new MachineInfo("Test CPU", 2, 8L << 30, "Linux", ".NET 10", ["avx2"]);
        var info = new RunInfo(
            new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), new DateTimeOffset(2026, 1, 2, 3, 9, 5, TimeSpan.Zero), "EdgeGuard.Compare run", "cli.dll",
            machine, [loadAtStart, 0.2, 0.3], [1.5, 0.5, 0.4], "0123456789ab", false);
        ModelFile[] models = [new("base", "edgeguard-int8", ".bench-models/base/int8.gguf", 3L << 20)];
        return new CompareResults(CompareResults.CurrentSchema, info, settings, models, runs, ResultSummary.Compute(settings, models, runs));
    }

    [Fact]
    public void Render_TargetRow_ShowsBothValuesTheRatioAndTheVerdict()
    {
        string md = MarkdownReport.Render(Results([Runs.Ok("edgeguard-int8", Reference, [80]), Runs.Ok("ort-int8", Reference, [100])]), []);
        Assert.Contains("| latency p50 | base | int8 | 80.00 ms | 100.00 ms | 0.80× | ≤ 0.7× | **no** |", md);
        Assert.Contains("| latency p50 | large | int8 | — | — | — | ≤ 0.7× | not measured |", md);
    }

    [Fact]
    public void Render_LatencyTable_HasARatioColumnPerPrecisionBothRuntimesRan()
    {
        var settings = Runs.Settings(engines: ["edgeguard-int8", "ort-int8", "edgeguard-f32"]);
        string md = MarkdownReport.Render(Results([Runs.Ok("edgeguard-int8", Reference, [50]), Runs.Ok("ort-int8", Reference, [100])], settings), []);
        Assert.Contains("| shape | tokens | batch | threads | EdgeGuard int8 | ORT int8 | EdgeGuard float32 | EdgeGuard / ORT int8 |", md);
        Assert.Contains("| base | 128 | 1 | 2 | 50.00 | 100.00 | — | 0.50× |", md);
    }

    [Fact]
    public void Render_FailedChildren_AreListedWithTheirError()
    {
        string md = MarkdownReport.Render(Results([Runs.Failed("ort-f32", Reference, round: 1)]), []);
        Assert.Contains("## Failed children", md);
        Assert.Contains("- base seq=128 batch=1 threads=2 ORT float32, round 2: exit code 2: edgeguard: error: out of memory", md);
        Assert.Contains("| 0 (1 of 1 children failed) |", md);
    }

    [Fact]
    public void Render_BusyMachine_IsSaid()
    {
        Assert.DoesNotContain("not idle", MarkdownReport.Render(Results([], loadAtStart: 0.2), []));
        Assert.Contains("**The machine was not idle**", MarkdownReport.Render(Results([], loadAtStart: 3.5), []));
    }

    [Fact]
    public void Render_Charts_AreLinkedByFileName()
    {
        string md = MarkdownReport.Render(Results([]), ["compare-latency.png"]);
        Assert.Contains("![compare-latency](compare-latency.png)", md);
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(3.6e-7, "3.6e-7")]
    [InlineData(0.00825, "0.00825")]
    public void Delta_SmallDifferences_StayVisible(double value, string expected)
    {
        Assert.Equal(expected, MarkdownReport.Delta(value));
    }

    [Fact]
    public void Json_RoundTrip_KeepsEverything()
    {
        var results = Results(
        [
            Runs.Ok("edgeguard-int8", Reference, [1.25, 2.5], scores: [0.125f, 0.875f]),
            Runs.Ok("ort-int8", Reference, [3.5], scores: [0.25f, 0.5f]),
            Runs.Failed("ort-f32", Reference),
        ]);
        string json = results.ToJson();
        var back = CompareResults.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(results.Summary.Targets.Count, back.Summary.Targets.Count);
        Assert.Contains("\"latencies_ms\"", json);
        Assert.Contains("\"ratio\"", json);
    }

    [Fact]
    public void Json_OtherSchema_IsRefused()
    {
        string json = Results([]).ToJson().Replace("\"schema\": 1", "\"schema\": 99", StringComparison.Ordinal);
        Assert.Throws<System.Text.Json.JsonException>(() => CompareResults.FromJson(json));
    }
}
