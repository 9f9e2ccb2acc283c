using System.Text.Json;

namespace EdgeGuard.Compare.Tests;

public sealed class ChildOutputTests
{
    [Fact]
    public void Parse_EventLine_IsAnEvent()
    {
        Assert.Equal(new ChildOutput.Event("first_verdict"), ChildOutput.Parse("{\"event\":\"first_verdict\"}"));
    }

    [Fact]
    public void Parse_ResultLine_TakesLatenciesScoresMemoryAndThreshold()
    {
        var line = "{\"model\":\"m.gguf\",\"p50_ms\":2,\"peak_rss_bytes\":1048576,\"threshold\":0.4,\"latencies_ms\":[1.5,2.5],\"unsafe_scores\":[0.25,0.75]}";
        var result = Assert.IsType<ChildOutput.Result>(ChildOutput.Parse(line));
        Assert.Equal([1.5, 2.5], result.LatenciesMs);
        Assert.Equal([0.25f, 0.75f], result.UnsafeScores);
        Assert.Equal(1048576, result.PeakRssBytes);
        Assert.Equal(0.4f, result.Threshold);
    }

    [Fact]
    public void Parse_ResultWithoutLatencies_IsRejectedByName()
    {
        var e = Assert.Throws<JsonException>(() => ChildOutput.Parse("{\"peak_rss_bytes\":1,\"threshold\":0.5}"));
        Assert.Contains("latencies_ms", e.Message);
    }

    [Fact]
    public void Parse_HumanOutput_IsNotJson()
    {
        Assert.ThrowsAny<JsonException>(() => ChildOutput.Parse("latency per call: p50=1.00 ms"));
    }
}
