using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary><c>[CLS] prompt [SEP] (response [SEP])</c> assembly and longest-first truncation.</summary>
public sealed class PairTruncationTests
{
    private const int Cls = 1;
    private const int Sep = 2;

    private static readonly PairTemplate Bert = PairTemplate.Bert(Cls, Sep);

    private static int[] Ids(int count, int first) => Enumerable.Range(first, count).ToArray();

    /// <summary>transformers' LONGEST_FIRST, one token at a time: the longer side loses it, the response on a tie.</summary>
    private static (int Prompt, int Response) ReferenceTruncation(int prompt, int response, bool hasResponse, int maxLength)
    {
        int excess = prompt + response + (hasResponse ? 3 : 2) - maxLength;
        for (int i = 0; i < excess; i++)
        {
            if (!hasResponse || prompt > response)
            {
                prompt--;
            }
            else
            {
                response--;
            }
        }

        return (prompt, response);
    }

    [Fact]
    public void BuildPair_AnyLengths_MatchesOneTokenAtATimeLongestFirst()
    {
        for (int prompt = 0; prompt <= 14; prompt++)
        {
            for (int response = 0; response <= 14; response++)
            {
                for (int maxLength = 3; maxLength <= 33; maxLength++)
                {
                    var pair = Bert.Build(Ids(prompt, 100), Ids(response, 200), true, maxLength);

                    var (keptPrompt, keptResponse) = ReferenceTruncation(prompt, response, true, maxLength);
                    Assert.Equal(keptPrompt, pair.PromptTokens);
                    Assert.Equal(keptResponse, pair.ResponseTokens);
                    Assert.Equal([Cls, .. Ids(keptPrompt, 100), Sep, .. Ids(keptResponse, 200), Sep], pair.Ids);
                    Assert.Equal(keptPrompt < prompt || keptResponse < response, pair.Truncated);
                }
            }
        }
    }

    [Fact]
    public void BuildPair_LongPromptShortResponse_CutsThePromptDownToTheResponseThenAlternates()
    {
        var pair = Bert.Build(Ids(10, 100), Ids(4, 200), true, 10);

        Assert.Equal(4, pair.PromptTokens);
        Assert.Equal(3, pair.ResponseTokens);
        Assert.Equal([Cls, 100, 101, 102, 103, Sep, 200, 201, 202, Sep], pair.Ids);
        Assert.True(pair.Truncated);
    }

    [Fact]
    public void BuildPair_EqualLengthsOddBudget_ResponseLosesTheOddToken()
    {
        var pair = Bert.Build(Ids(5, 100), Ids(5, 200), true, 10);

        Assert.Equal(4, pair.PromptTokens);
        Assert.Equal(3, pair.ResponseTokens);
    }

    [Fact]
    public void BuildPair_ShortPromptLongResponse_KeepsThePromptWhole()
    {
        var pair = Bert.Build(Ids(3, 100), Ids(50, 200), true, 16);

        Assert.Equal(3, pair.PromptTokens);
        Assert.Equal(10, pair.ResponseTokens);
        Assert.Equal(16, pair.Ids.Length);
    }

    [Fact]
    public void BuildPair_WithoutResponse_CutsThePromptEnd()
    {
        var pair = Bert.Build(Ids(10, 100), [], false, 5);

        Assert.Equal([Cls, 100, 101, 102, Sep], pair.Ids);
        Assert.Equal(3, pair.PromptTokens);
        Assert.Equal(0, pair.ResponseTokens);
        Assert.True(pair.Truncated);
    }

    [Fact]
    public void BuildPair_ExactFit_IsNotTruncated()
    {
        var pair = Bert.Build(Ids(4, 100), Ids(3, 200), true, 10);

        Assert.Equal(10, pair.Ids.Length);
        Assert.False(pair.Truncated);
    }

    [Fact]
    public void BuildPair_MaxLengthOnlyHoldsSpecials_KeepsOnlySpecials()
    {
        Assert.Equal([Cls, Sep, Sep], Bert.Build(Ids(5, 100), Ids(5, 200), true, 3).Ids);
        Assert.Equal([Cls, Sep], Bert.Build(Ids(5, 100), [], false, 2).Ids);
    }

    [Theory]
    [InlineData(2, true)]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(-5, false)]
    public void BuildPair_MaxLengthBelowSpecials_Throws(int maxLength, bool hasResponse)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Bert.Build([], [], hasResponse, maxLength));
    }

    [Fact]
    public void BuildPair_ResponseIdsWithoutResponse_Throws()
    {
        Assert.Throws<ArgumentException>(() => Bert.Build(Ids(2, 100), Ids(1, 200), false, 10));
    }

    [Theory]
    [InlineData(2, "response")]
    [InlineData(1, null)]
    public void EncodePair_MaxLengthBelowSpecials_Throws(int maxLength, string? response)
    {
        var sut = TokenizerFixtures.Tokenizer("spm-unigram-8k");

        Assert.Throws<ArgumentOutOfRangeException>(() => sut.EncodePair("prompt", response, maxLength));
    }

    [Fact]
    public void EncodePair_LongInput_TruncatesEncodedSegmentsLongestFirst()
    {
        var sut = TokenizerFixtures.Tokenizer("spm-unigram-8k");
        string prompt = string.Join(' ', Enumerable.Repeat("How do I reset my password?", 20));
        string response = "Use the account settings page.";
        int[] promptIds = sut.Encode(prompt);
        int[] responseIds = sut.Encode(response);

        var pair = sut.EncodePair(prompt, response, 32);

        Assert.Equal(32, pair.Ids.Length);
        Assert.True(pair.Truncated);
        var (keptPrompt, keptResponse) = ReferenceTruncation(promptIds.Length, responseIds.Length, true, 32);
        Assert.Equal(keptPrompt, pair.PromptTokens);
        Assert.Equal(keptResponse, pair.ResponseTokens);
        Assert.Equal([sut.ClsId, .. promptIds[..keptPrompt], sut.SepId, .. responseIds[..keptResponse], sut.SepId], pair.Ids);
    }
}
