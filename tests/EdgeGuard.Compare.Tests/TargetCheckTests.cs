namespace EdgeGuard.Compare.Tests;

public sealed class TargetCheckTests
{
    private static readonly Cell Reference = TargetCheck.ReferenceCell("base");

    [Fact]
    public void Evaluate_LatencyRatio_IsEdgeGuardInt8OverOrtInt8()
    {
        var settings = Runs.Settings();
        var runs = new[]
        {
            Runs.Ok("edgeguard-int8", Reference, [60]),
            Runs.Ok("ort-int8", Reference, [100]),
        };
        var summary = ResultSummary.Compute(settings, [], runs);
        var latency = summary.Targets.Single(t => t.Measure == TargetCheck.Latency && t.Shape == "base");
        Assert.Equal(0.6, latency.Ratio!.Value, 9);
        Assert.True(latency.Met);
        var large = summary.Targets.Single(t => t.Measure == TargetCheck.Latency && t.Shape == "large");
        Assert.Null(large.Ratio);
        Assert.Null(large.Met);
    }

    [Fact]
    public void Evaluate_MemoryAndColdStart_ComparePerPrecision()
    {
        var settings = Runs.Settings();
        var runs = new[]
        {
            Runs.Ok("edgeguard-f32", Reference, [1], firstVerdict: 400, peakRss: 300L << 20),
            Runs.Ok("ort-f32", Reference, [1], firstVerdict: 1000, peakRss: 500L << 20),
        };
        var targets = ResultSummary.Compute(settings, [], runs).Targets;
        var memory = targets.Single(t => t.Measure == TargetCheck.PeakRss && t.Precision == "float32");
        Assert.Equal(0.6, memory.Ratio!.Value, 9);
        Assert.False(memory.Met);
        var cold = targets.Single(t => t.Measure == TargetCheck.ColdStart && t.Precision == "float32");
        Assert.Equal(0.4, cold.Ratio!.Value, 9);
        Assert.False(cold.Met);
        Assert.Null(targets.Single(t => t.Measure == TargetCheck.PeakRss && t.Precision == "int8").Ratio);
    }

    [Fact]
    public void Evaluate_RunWithoutTwoThreads_MeasuresNoTarget()
    {
        var settings = Runs.Settings(threads: [1]);
        var oneThread = Reference with { Threads = 1 };
        var runs = new[] { Runs.Ok("edgeguard-int8", oneThread, [60]), Runs.Ok("ort-int8", oneThread, [100]) };
        Assert.All(ResultSummary.Compute(settings, [], runs).Targets, t => Assert.Null(t.Met));
    }
}
