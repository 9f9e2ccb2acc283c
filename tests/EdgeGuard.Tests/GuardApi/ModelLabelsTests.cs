using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tests.GuardApi;

public sealed class ModelLabelsTests
{
    [Theory]
    [InlineData(new[] { "safe", "unsafe" }, 1)]
    [InlineData(new[] { "unsafe", "safe" }, 0)]
    [InlineData(new[] { "BENIGN", "INJECTION", "JAILBREAK_X" }, -1)]
    [InlineData(new[] { "non-toxic", "toxic" }, 1)]
    [InlineData(new[] { "LABEL_0", "LABEL_1" }, 1)]
    public void Resolve_FindsTheUnsafeClassByNameOrConvention(string[] names, int expected)
    {
        if (expected < 0)
        {
            var e = Assert.Throws<ModelFileException>(() => ModelLabels.Resolve(names, null, "m"));
            Assert.Contains("both look unsafe", e.Message);
            return;
        }

        Assert.Equal(expected, ModelLabels.Resolve(names, null, "m").UnsafeIndex);
    }

    [Fact]
    public void Resolve_ThreeNeutralLabels_AsksForAChoice()
    {
        var e = Assert.Throws<ModelFileException>(() => ModelLabels.Resolve(["a", "b", "c"], null, "m"));
        Assert.Contains("unsafe label", e.Message);
        Assert.Equal(2, ModelLabels.Resolve(["a", "b", "c"], 2, "m").UnsafeIndex);
        Assert.Throws<ModelFileException>(() => ModelLabels.Resolve(["a", "b"], 5, "m"));
    }
}
