using EdgeGuard.Generation;

namespace EdgeGuard.Tests.Generation;

/// <summary>Stop sequences found in streamed text: never emitted, even when the pieces split them.</summary>
public sealed class StopSequenceMatcherTests
{
    [Fact]
    public void Push_StopSplitAcrossPieces_IsHeldBackAndNeverEmitted()
    {
        var matcher = new StopSequenceMatcher(["<|end|>"]);
        Assert.Equal("xx", matcher.Push("xx<"));
        Assert.Equal(string.Empty, matcher.Push("|en"));
        Assert.False(matcher.Stopped);
        Assert.Equal(string.Empty, matcher.Push("d|>yy"));
        Assert.True(matcher.Stopped);
    }

    [Fact]
    public void Push_AStartThatDoesNotContinue_IsReleased()
    {
        var matcher = new StopSequenceMatcher(["bcd"]);
        Assert.Equal("a", matcher.Push("ab"));
        Assert.Equal(string.Empty, matcher.Push("c"));
        Assert.Equal("bcx", matcher.Push("x"));
        Assert.Equal("b", matcher.Push("bb"));
        Assert.Equal("b", matcher.Flush());
        Assert.False(matcher.Stopped);
    }

    [Fact]
    public void Push_SeveralStops_CutsAtTheEarliest()
    {
        var matcher = new StopSequenceMatcher(["world", "lo"]);
        Assert.Equal("Hel", matcher.Push("Hello world"));
        Assert.True(matcher.Stopped);
    }

    [Fact]
    public void Push_NoStops_PassesPiecesThrough()
    {
        var matcher = new StopSequenceMatcher([]);
        string piece = "abc";
        Assert.Same(piece, matcher.Push(piece));
        Assert.Equal(string.Empty, matcher.Flush());
    }
}
