using EdgeGuard.LongInput;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.LongInput;

public sealed class SlidingWindowsTests
{
    private static readonly PairTemplate Bert = PairTemplate.Bert(1, 2);

    [Fact]
    public void Plan_InputThatFits_IsOneWholeWindow()
    {
        var windows = new List<TokenWindow>();
        SlidingWindows.Plan(100, 200, hasResponse: true, Bert, windowTokens: 512, stride: null, windows);
        Assert.Equal([new TokenWindow(0, 100, 0, 200)], windows);
    }

    [Theory]
    [InlineData(1000, 0, false, 512, null)]
    [InlineData(511, 0, false, 512, null)]
    [InlineData(5000, 0, false, 128, 100)]
    [InlineData(1000, 1000, true, 512, null)]
    [InlineData(10, 5000, true, 512, null)]
    [InlineData(5000, 10, true, 512, null)]
    [InlineData(700, 300, true, 256, 17)]
    [InlineData(3, 3, true, 5, null)]
    public void Plan_LongInput_CoversEveryTokenWithinTheWindowSize(int prompt, int response, bool hasResponse, int windowTokens, int? stride)
    {
        var windows = new List<TokenWindow>();
        SlidingWindows.Plan(prompt, response, hasResponse, Bert, windowTokens, stride, windows);

        Assert.Equal(SlidingWindows.Count(prompt, response, hasResponse, Bert, windowTokens, stride), windows.Count);
        var promptSeen = new bool[prompt];
        var responseSeen = new bool[response];
        foreach (var w in windows)
        {
            Assert.True(w.TokenCount(Bert, hasResponse) <= windowTokens);
            Assert.InRange(w.PromptStart, 0, prompt);
            Assert.InRange(w.PromptStart + w.PromptLength, 0, prompt);
            Assert.InRange(w.ResponseStart + w.ResponseLength, 0, response);
            Array.Fill(promptSeen, true, w.PromptStart, w.PromptLength);
            Array.Fill(responseSeen, true, w.ResponseStart, w.ResponseLength);
        }

        Assert.All(promptSeen, Assert.True);
        Assert.All(responseSeen, Assert.True);
    }

    [Fact]
    public void Plan_LongPair_GivesTheResponseAtLeastHalfOfEachWindow()
    {
        var windows = new List<TokenWindow>();
        SlidingWindows.Plan(2000, 2000, hasResponse: true, Bert, windowTokens: 512, stride: null, windows);
        Assert.All(windows, w => Assert.True(w.ResponseLength >= (512 - 3) / 2));
    }

    [Fact]
    public void Plan_ConsecutiveWindowsOverlapByTheStride()
    {
        var windows = new List<TokenWindow>();
        SlidingWindows.Plan(1000, 0, hasResponse: false, Bert, windowTokens: 102, stride: 40, windows);
        Assert.Equal([0, 40, 80, 120], windows.Take(4).Select(w => w.PromptStart));
        Assert.Equal(1000 - 100, windows[^1].PromptStart);
    }

    [Fact]
    public void Plan_WindowTooSmallForSpecialTokens_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SlidingWindows.Plan(10, 10, true, Bert, 4, null, []));
    }
}
