namespace EdgeGuard.Compare.Tests;

public sealed class SummaryTests
{
    private static readonly Cell Base128 = new("base", 128, 1, 2);

    [Fact]
    public void Summarize_PoolsTheCallsOfEveryRound()
    {
        var engine = Engine.ById("edgeguard-int8");
        var runs = new[]
        {
            Runs.Ok(engine.Id, Base128, [10, 20], round: 0, firstVerdict: 900),
            Runs.Ok(engine.Id, Base128, [30, 40, 50], round: 1, firstVerdict: 1100),
        };
        var s = ResultSummary.Summarize(Base128, engine, runs, modelBytes: 123);
        Assert.Equal(5, s.Samples);
        Assert.Equal(30, s.P50Ms);
        Assert.Equal(46, s.P90Ms!.Value, 9);
        Assert.Equal(1 * 5 / 0.150, s.VerdictsPerSecond!.Value, 9);
        Assert.Equal(1000, s.ColdStartMs);
        Assert.Equal(123, s.ModelBytes);
    }

    [Fact]
    public void Summarize_BatchCountsEveryRowAsAVerdict()
    {
        var cell = Base128 with { Batch = 8 };
        var s = ResultSummary.Summarize(cell, Engine.All[0], [Runs.Ok(Engine.All[0].Id, cell, [100, 100])], 0);
        Assert.Equal(80, s.VerdictsPerSecond!.Value, 9);
    }

    [Fact]
    public void Summarize_FailedChildren_AreCountedButNotMeasured()
    {
        var engine = Engine.ById("ort-int8");
        var s = ResultSummary.Summarize(Base128, engine, [Runs.Failed(engine.Id, Base128), Runs.Ok(engine.Id, Base128, [7], round: 1, peakRss: 5L << 20)], 0);
        Assert.Equal(2, s.Runs);
        Assert.Equal(1, s.FailedRuns);
        Assert.Equal(7, s.P50Ms);
        Assert.Equal(5L << 20, s.PeakRssBytes);
    }

    [Fact]
    public void Summarize_NoSuccessfulChild_LeavesEveryStatisticUnmeasured()
    {
        var engine = Engine.ById("ort-f32");
        var s = ResultSummary.Summarize(Base128, engine, [Runs.Failed(engine.Id, Base128)], 0);
        Assert.Equal(0, s.Samples);
        Assert.Null(s.P50Ms);
        Assert.Null(s.VerdictsPerSecond);
        Assert.Null(s.ColdStartMs);
        Assert.Null(s.PeakRssBytes);
    }

    [Fact]
    public void Agree_ComparesDecisionsAtEachEnginesOwnThreshold()
    {
        var settings = Runs.Settings(engines: ["edgeguard-f32", "ort-f32"]);
        var runs = new[]
        {
            Runs.Ok("edgeguard-f32", Base128, [1], scores: [0.2f, 0.55f, 0.9f], threshold: 0.5f),
            Runs.Ok("ort-f32", Base128, [1], scores: [0.25f, 0.45f, 0.9f], threshold: 0.5f),
        };
        var a = Assert.Single(ResultSummary.Agree(settings, runs));
        Assert.Equal(("edgeguard-f32", "ort-f32"), (a.EngineA, a.EngineB));
        Assert.Equal(3, a.Rows);
        Assert.Equal(2, a.SameDecisions);
        Assert.Equal(0.1, a.MaxAbsDelta, 6);
        Assert.Equal(0.05, a.MeanAbsDelta, 6);
    }

    [Fact]
    public void Agree_EngineWithoutScores_IsLeftOut()
    {
        var settings = Runs.Settings(engines: ["edgeguard-f32", "edgeguard-int8", "ort-int8"]);
        var runs = new[]
        {
            Runs.Ok("edgeguard-f32", Base128, [1], scores: [0.5f]),
            Runs.Ok("edgeguard-int8", Base128, [1], scores: [0.5f]),
            Runs.Failed("ort-int8", Base128),
        };
        var a = Assert.Single(ResultSummary.Agree(settings, runs));
        Assert.Equal(("edgeguard-f32", "edgeguard-int8"), (a.EngineA, a.EngineB));
    }

    [Fact]
    public void ScoresRows_OnlyTheFirstRoundOfTheFirstBatchAtTheMostThreads()
    {
        var settings = Runs.Settings() with { Batches = [1, 8] };
        Assert.True(settings.ScoresRows(new Cell("base", 128, 1, 2), round: 0));
        Assert.False(settings.ScoresRows(new Cell("base", 128, 1, 2), round: 1));
        Assert.False(settings.ScoresRows(new Cell("base", 128, 8, 2), round: 0));
        Assert.False(settings.ScoresRows(new Cell("base", 128, 1, 1), round: 0));
    }
}
