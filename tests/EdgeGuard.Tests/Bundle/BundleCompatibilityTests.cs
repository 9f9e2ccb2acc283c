using System.Text.Json;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.Bundle;

/// <summary>Bundles written by the runtime of format versions 1 and 2 (tests/data/bundles) still open and give the same scores.</summary>
public sealed class BundleCompatibilityTests
{
    private static readonly string Directory = Path.Combine(RepoPaths.RepoRoot, "tests", "data", "bundles");

    [Theory]
    [InlineData("tiny-v1-f32.gguf", 1, "f32")]
    [InlineData("tiny-v2-int8.gguf", 2, "int8")]
    public void Open_OlderFormatBundle_ReadsAsDebertaWithItsSentencePieceModel(string file, int version, string precision)
    {
        using ModelBundle bundle = ModelBundle.Open(Path.Combine(Directory, file));
        Assert.Equal(version, bundle.FormatVersion);
        Assert.Equal(precision, bundle.Precision);
        Assert.Equal("deberta-v2", bundle.Architecture);
        Assert.Equal("spm-unigram", bundle.TokenizerKind);
        Assert.Equal(["spm.model"], bundle.TokenizerFiles.Keys);
        Assert.Equal(["safe", "unsafe"], bundle.Labels);
    }

    [Theory]
    [InlineData("tiny-v1-f32.gguf")]
    [InlineData("tiny-v2-int8.gguf")]
    public void Classify_OlderFormatBundle_GivesTheScoresItsOwnRuntimeGave(string file)
    {
        using var guard = Guard.Open(Path.Combine(Directory, file), new GuardOptions { Threads = 1 });

        // float32 is the same arithmetic on every CPU; int8 activations are quantised to the kernel's limit (±127, or ±63
        // for the offset kernels), so an int8 score moves by the rounding of the CPU's kernel, never more.
        float tolerance = guard.Model.Precision == "int8" ? 2e-3f : 1e-6f;
        using JsonDocument recorded = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Directory, "legacy-scores.json")));
        int compared = 0;
        foreach (JsonElement testCase in recorded.RootElement.GetProperty("cases").EnumerateArray())
        {
            string prompt = testCase.GetProperty("prompt").GetString()!;
            string? response = testCase.GetProperty("response").GetString();
            float expected = testCase.GetProperty(file).GetSingle();
            Verdict verdict = guard.Classify(prompt, response);
            Assert.True(Math.Abs(expected - verdict.UnsafeScore) <= tolerance, $"{file}, '{prompt}': {verdict.UnsafeScore} vs recorded {expected}");
            compared++;
        }

        Assert.Equal(3, compared);
    }
}
