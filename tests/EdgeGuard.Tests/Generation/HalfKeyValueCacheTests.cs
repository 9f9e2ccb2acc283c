using EdgeGuard.Generation;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Generation.Logits;
using EdgeGuard.Models;

namespace EdgeGuard.Tests.Generation;

/// <summary>A float16 KV cache: the float32 cache's logits within float16 rounding, across chunks, growth and steps.</summary>
public sealed class HalfKeyValueCacheTests
{
    public static TheoryData<string> Fixtures() => [.. DecoderFixtures.Names];

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void HalfCache_GivesTheFloatCachesLogitsWithinHalfRounding(string fixture)
    {
        DecoderModel model = DecoderFixtures.Model(fixture);
        int vocabulary = model.VocabularySize;

        // Longer than a prefill chunk (64) and than the cache's first capacity, so both staging and growth are crossed.
        int length = Math.Min(100, model.MaxContextLength - 2);
        var random = new Random(fixture.Length);
        int[] prompt = [.. Enumerable.Range(0, length).Select(_ => random.Next(vocabulary))];
        float[] Run(KeyValueCacheFormat format)
        {
            DecoderSession session = model.CreateSession(cacheFormat: format);
            Assert.Equal(format, session.CacheFormat);
            var logits = new float[(length + 2) * vocabulary];
            session.PrefillAllPositions(prompt, logits);
            session.Step(1).CopyTo(logits.AsSpan(length * vocabulary));
            session.Step(2).CopyTo(logits.AsSpan((length + 1) * vocabulary));
            return logits;
        }

        float[] full = Run(KeyValueCacheFormat.Float32), half = Run(KeyValueCacheFormat.Float16);
        float scale = full.Max(Math.Abs), worst = 0f;
        for (int i = 0; i < full.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(full[i] - half[i]));
        }

        // Measured: 1.4e-4 to 4.5e-4 of the largest logit across the fixtures.
        Assert.NotEqual(full, half);
        Assert.True(worst <= 2e-3f * scale, $"{fixture}: largest difference {worst} against logits up to {scale}");
    }

    [Fact]
    public void Generator_WithAHalfCache_GreedyContinuationOfTheChatFixture_MatchesTheFloatCache()
    {
        using var model = GenerativeModel.Open(Path.Combine(EdgeGuard.Testing.RepoPaths.RepoRoot, "tests", "fixtures", "generation", "llama3-small-chat"), DecoderFixtures.Pool, requireTokenizer: false);
        int[] prompt = [.. Enumerable.Range(5, 40)];
        IReadOnlyList<int> Continue(KeyValueCacheFormat format)
        {
            var generator = new Generator(ModelGroup.Single(model), new GenerationOptions { Sampling = SamplingSettings.Greedy, MaxNewTokens = 24, KeyValueCache = format }, 256);
            return generator.Generate(prompt).TokenIds;
        }

        Assert.Equal(Continue(KeyValueCacheFormat.Float32), Continue(KeyValueCacheFormat.Float16));
    }

    [Fact]
    public void UnknownCacheFormat_IsRefused()
    {
        DecoderModel model = DecoderFixtures.Model(DecoderFixtures.Names[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateSession(cacheFormat: (KeyValueCacheFormat)7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GenerationOptions { KeyValueCache = (KeyValueCacheFormat)7 }.Validate());
    }
}
