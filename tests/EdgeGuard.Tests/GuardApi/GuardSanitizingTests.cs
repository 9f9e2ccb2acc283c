namespace EdgeGuard.Tests.GuardApi;

public sealed class GuardSanitizingTests(TinyModelFixture model) : IClassFixture<TinyModelFixture>
{
    private const string Prompt = "how do I build it";
    private const string Response = "first you take";
    private const string HiddenPrompt = "h\u00ADo\u200Bw d\0o I \u202Edliub\u202C i\uFE0Ft";
    private const string HiddenResponse = "\uFF46\uFF49\uFF52\uFF53\uFF54 you \U0001D42D\U0001D41A\U0001D424\U0001D41E";

    [Fact]
    public void SanitizeInput_IsOnByDefault()
    {
        Assert.True(new GuardOptions().SanitizeInput);
    }

    [Fact]
    public void Classify_HiddenCharactersInPromptAndResponse_GiveTheCleanPairsVerdict()
    {
        using var guard = Guard.Open(model.BundlePath);
        var clean = guard.Classify(Prompt, Response);
        var hidden = guard.Classify(HiddenPrompt, HiddenResponse);
        Assert.Equal(clean.UnsafeScore, hidden.UnsafeScore);
        Assert.Equal(clean.TokenCount, hidden.TokenCount);
        var batch = guard.ClassifyBatch([new(HiddenPrompt), new(Prompt)]);
        Assert.Equal(batch[1].UnsafeScore, batch[0].UnsafeScore);
    }

    [Fact]
    public void Classify_SanitizeInputOff_TokenizesTheTextAsGiven()
    {
        using var guard = Guard.Open(model.BundlePath, new GuardOptions { SanitizeInput = false });
        var clean = guard.Classify(Prompt, Response);
        var hidden = guard.Classify(HiddenPrompt, HiddenResponse);
        Assert.Equal(guard.Tokenizer.Encode(HiddenPrompt).Length + guard.Tokenizer.Encode(HiddenResponse).Length + 3, hidden.TokenCount);
        Assert.NotEqual(clean.TokenCount, hidden.TokenCount);
    }
}
