using System.Text.Json;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.Models;

public sealed class RelativePositionBucketsTests
{
    [Theory]
    [InlineData("tiny-buckets", "HuggingFace")]
    [InlineData("tiny-buckets", "Original")]
    [InlineData("xsmall-2layer", "HuggingFace")]
    [InlineData("xsmall-2layer", "Original")]
    public void BucketAndIndex_MatchRelBucketsJson(string fixture, string ruleName)
    {
        var rule = Enum.Parse<RelativePositionRule>(ruleName);
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepoPaths.Fixture(fixture), "rel_buckets.json")));
        JsonElement root = document.RootElement;
        var buckets = new RelativePositionBuckets(root.GetProperty("position_buckets").GetInt32(), root.GetProperty("max_relative_positions").GetInt32(), rule);
        string suffix = rule == RelativePositionRule.HuggingFace ? "_hf_rule" : string.Empty;
        int[] distances = Ints(root, "distance");
        int[] expectedBuckets = Ints(root, "bucket" + suffix);
        int[] expectedRows = Ints(root, "rel_embedding_row" + suffix);
        for (int i = 0; i < distances.Length; i++)
        {
            Assert.Equal(expectedBuckets[i], buckets.Bucket(distances[i]));
            Assert.Equal(expectedRows[i], buckets.Index(distances[i]));
        }
    }

    [Fact]
    public void Index_BeyondMaxRelativePositions_HuggingFaceSelectsRowZeroForKeysFarAfterTheQuery()
    {
        var hf = new RelativePositionBuckets(8, 64, RelativePositionRule.HuggingFace);
        var original = new RelativePositionBuckets(8, 64, RelativePositionRule.Original);
        Assert.Equal(0, hf.Index(-64));
        Assert.Equal(1, original.Index(-64));
        Assert.Equal(15, hf.Index(64));
        Assert.Equal(15, original.Index(64));
        Assert.Equal(hf.Index(-63), original.Index(-63));
    }

    [Fact]
    public void FillIndexTable_IsNondecreasingAndOddAroundZero()
    {
        var buckets = new RelativePositionBuckets(256, 512, RelativePositionRule.HuggingFace);
        int[] table = new int[(2 * 600) - 1];
        buckets.FillIndexTable(table, 600);
        for (int i = 1; i < table.Length; i++)
        {
            Assert.True(table[i] >= table[i - 1]);
        }

        // bucket(-d) = -bucket(d): the p2c gather may reuse the c2p index.
        for (int d = 1; d < 512; d++)
        {
            Assert.Equal(-buckets.Bucket(d), buckets.Bucket(-d));
        }
    }

    private static int[] Ints(JsonElement root, string name) => [.. root.GetProperty(name).EnumerateArray().Select(e => e.GetInt32())];
}
