using EdgeGuard.ModelFiles.Bundle;

namespace EdgeGuard.Tests.Bundle;

public sealed class BundleFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void LooksLikeBundle_WrittenBundle_IsTrue()
    {
        string path = _dir.File("model.gguf");
        using InMemoryTensorSource weights = SampleBundle.Weights();
        BundleWriter.Write(path, SampleBundle.Contents(), weights);
        Assert.True(BundleFile.LooksLikeBundle(path));
    }

    [Fact]
    public void LooksLikeBundle_Directory_IsFalse() => Assert.False(BundleFile.LooksLikeBundle(_dir.Path));

    [Fact]
    public void LooksLikeBundle_MissingFile_IsFalse() => Assert.False(BundleFile.LooksLikeBundle(_dir.File("absent.gguf")));

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    public void LooksLikeBundle_NoPath_IsFalse(string? path) => Assert.False(BundleFile.LooksLikeBundle(path!));

    [Fact]
    public void LooksLikeBundle_EmptyFile_IsFalse() => Assert.False(LooksLikeBundle([]));

    [Fact]
    public void LooksLikeBundle_MagicWithoutAWholeHeader_IsFalse() =>
        Assert.False(LooksLikeBundle(new RawGgufBuilder().Magic().U32(3).ToArray()));

    [Fact]
    public void LooksLikeBundle_OtherFormat_IsFalse() =>
        Assert.False(LooksLikeBundle(new RawGgufBuilder().Bytes("{\"__metadata__\""u8).Zeros(64).ToArray()));

    [Fact]
    public void LooksLikeBundle_AnyGgufHeader_IsTrueAndLeavesTheVerdictToOpen() =>
        Assert.True(LooksLikeBundle(new RawGgufBuilder().Header(0, 0).ToArray()));

    private bool LooksLikeBundle(byte[] bytes)
    {
        string path = _dir.File(Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(path, bytes);
        return BundleFile.LooksLikeBundle(path);
    }
}
